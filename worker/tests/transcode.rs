//! Coordinator segmenter -> worker -> packager init, checked by ffmpeg.

use std::time::Duration;

use tessera_core::Rung;
use tessera_media::{Limits, VideoCodec};
use tessera_testkit::{ffmpeg, ffprobe_json as ffprobe};
use tessera_worker::transcode_segment;

fn rendition(codec: VideoCodec, dir: &std::path::Path, input: &std::path::Path) -> Vec<u8> {
    let rung = Rung::new(codec, 144, 250);
    let mut out = Vec::new();
    let mut seqs = 0;
    tessera_coordinator::segment_source(
        input,
        Duration::from_secs(1),
        &Limits::default(),
        |seg| -> Result<(), tessera_worker::WorkerError> {
            let r = transcode_segment(&seg.bytes, seg.seq, &rung, 30.0)?;
            assert_eq!((r.width, r.height), (256, 144));
            assert_eq!(r.frames, seg.frames);
            let start = (r.start as f64 / f64::from(r.timescale) - seg.start_secs).abs();
            assert!(start < 1e-6, "fragment starts at the segment's presentation time");
            if out.is_empty() {
                out = tessera_packager::rendition_init(&r.config, r.timescale, (r.width, r.height), 0).unwrap();
            }
            out.extend(r.fragment);
            seqs += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seqs, 2);
    std::fs::write(dir.join(format!("{codec}.mp4")), &out).unwrap();
    out
}

#[test]
fn segments_become_a_playable_rendition() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=30:duration=2",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        input.to_str().unwrap(),
    ]);
    for (codec, name) in [(VideoCodec::H264, "h264"), (VideoCodec::Av1, "av1")] {
        let bytes = rendition(codec, dir.path(), &input);
        let path = dir.path().join(format!("{codec}.mp4"));
        let v = ffprobe(&[
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            path.to_str().unwrap(),
        ]);
        assert_eq!(v["streams"][0]["codec_name"], name);
        assert_eq!(v["streams"][0]["nb_read_frames"], "60");
        let p = ffprobe(&["-show_entries", "packet=pts", path.to_str().unwrap()]);
        let mut pts: Vec<i64> = p["packets"].as_array().unwrap().iter().map(|x| x["pts"].as_i64().unwrap()).collect();
        // x264's B-frames come in decode order: the presentation times, sorted, tile the timeline.
        pts.sort_unstable();
        assert!(pts.windows(2).all(|w| w[1] - w[0] == 512), "continuous 30 fps timeline at 1/15360");
        assert_eq!(bytes, rendition(codec, dir.path(), &input), "{codec}: a retried task writes identical bytes");
    }
}
