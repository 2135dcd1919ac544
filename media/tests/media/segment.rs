//! Segmenter: cuts on IDRs, and every source segment stands alone.

use std::time::Duration;

use tessera_media::source_segment::cut_source_segment;
use tessera_media::{plan_segments, Mp4Source};

use crate::fixtures::{self, ffmpeg, ffmpeg_frame_count, ffprobe_json, scratch};
use crate::open;

fn write_segments(
    path: &std::path::Path,
    target: Duration,
    tag: &str,
) -> (Mp4Source, Vec<(tessera_media::SegmentPlan, std::path::PathBuf)>) {
    let (source, mut file) = open(path).expect("demux");
    let plans = plan_segments(&source.video, source.audio.as_ref(), target).expect("plan");
    let mut out = Vec::new();
    for plan in plans {
        let bytes = cut_source_segment(&mut file, &source, &plan).expect("write segment");
        let seg_path = scratch(&format!("{tag}-{:06}.mp4", plan.span.seq));
        std::fs::write(&seg_path, bytes).unwrap();
        out.push((plan, seg_path));
    }
    (source, out)
}

#[test]
fn segments_start_on_idrs_and_decode_alone() {
    let (source, segments) = write_segments(&fixtures::high_bframes(), Duration::from_secs(1), "seg-bf");
    assert_eq!(segments.len(), 3, "GOPs of 0.5 s, target 1 s");
    let mut total = 0;
    for (plan, path) in &segments {
        let first = &source.video.samples[plan.span.video.start];
        assert!(first.is_sync, "segment {} starts on a non-IDR", plan.span.seq);
        assert_eq!(plan.span.duration(), i64::from(source.video.timescale), "1 s segments");
        // Decodes alone, with no error, every frame of the span.
        ffmpeg(&["-xerror", "-i", path.to_str().unwrap(), "-f", "null", "-"]);
        let frames = ffmpeg_frame_count(path);
        assert_eq!(frames, plan.span.video.len() as u64);
        total += frames;
        // ffprobe sees both tracks with the source's codecs.
        let v = ffprobe_json(&["-show_entries", "stream=codec_name,width,height", path.to_str().unwrap()]);
        assert_eq!(v["streams"][0]["codec_name"], "h264");
        assert_eq!(v["streams"][0]["width"], 320);
        assert_eq!(v["streams"][1]["codec_name"], "aac");
    }
    assert_eq!(total, source.video.samples.len() as u64, "segments add up to the source");
}

#[test]
fn source_segment_keeps_timestamps_and_audio_tiles() {
    let (source, segments) = write_segments(&fixtures::faststart(), Duration::from_secs(1), "seg-ts");
    let audio = source.audio.as_ref().unwrap();
    let mut next_audio = 0;
    let mut ffmpeg_shift = None;
    for (plan, path) in &segments {
        // Our demuxer reads the fragmented segment back with the same presentation times.
        let (seg, _) = open(path).expect("segment demuxes");
        let expected: Vec<(i64, bool)> =
            source.video.samples[plan.span.video.clone()].iter().map(|s| (s.pts, s.is_sync)).collect();
        let got: Vec<(i64, bool)> = seg.video.samples.iter().map(|s| (s.pts, s.is_sync)).collect();
        assert_eq!(got, expected);
        assert_eq!(plan.audio.start, next_audio, "audio has no gap or overlap");
        next_audio = plan.audio.end;
        assert_eq!(seg.audio.as_ref().unwrap().samples.len(), plan.audio.len());
        // ffmpeg shifts presentation by the decode delay when it meets negative composition
        // offsets; the shift is the same in every segment, so the timeline stays continuous.
        let v = ffprobe_json(&[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts",
            "-read_intervals",
            "%+#1",
            path.to_str().unwrap(),
        ]);
        let shift = v["packets"][0]["pts"].as_i64().unwrap() - plan.span.start_pts;
        assert_eq!(*ffmpeg_shift.get_or_insert(shift), shift, "segment {} is off the common timeline", plan.span.seq);
        assert!((0..=3 * 512).contains(&shift), "shift {shift} exceeds the 3-B-frame decode delay");
    }
    assert_eq!(next_audio, audio.samples.len());
}

#[test]
fn unequal_gops_give_unequal_segments() {
    let (_, segments) = write_segments(&fixtures::two_gops(), Duration::from_secs(1), "seg-gop");
    let spans: Vec<_> = segments.iter().map(|(p, _)| p.span.video.clone()).collect();
    assert_eq!(spans, vec![0..39, 39..90]);
    for (_, path) in &segments {
        ffmpeg(&["-xerror", "-i", path.to_str().unwrap(), "-f", "null", "-"]);
    }
}
