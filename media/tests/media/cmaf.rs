//! CMAF: init + fragments read back by ffprobe with the right codec,
//! timescale, duration and continuous timestamps.

use tessera_media::cmaf::{init_segment, media_segment, FragmentSample, InitTrack, TrackRun};
use tessera_media::DecoderConfig;
use tessera_media::EncoderKind;

use crate::codec::{encode, scaled_source_frames, write_video_track};
use crate::fixtures::{self, ffprobe_json, scratch};
use tessera_media::aac::AacConfig;
use tessera_media::av::audio::NormalisedAudio;

/// Packet presentation times, sorted (B-frames come out of decode order).
fn packet_pts(path: &std::path::Path) -> Vec<i64> {
    let v = ffprobe_json(&["-show_entries", "packet=pts", path.to_str().unwrap()]);
    let mut pts: Vec<i64> = v["packets"].as_array().unwrap().iter().map(|p| p["pts"].as_i64().unwrap()).collect();
    pts.sort_unstable();
    pts
}

/// ffprobe sees one packet per sample, each starting where the previous one ended.
fn assert_continuous(path: &std::path::Path, durations: &[i64]) {
    let pts = packet_pts(path);
    assert_eq!(pts.len(), durations.len());
    for (i, w) in pts.windows(2).enumerate() {
        assert_eq!(w[1] - w[0], durations[i], "gap or overlap after packet {i} in {}", path.display());
    }
}

fn stream(path: &std::path::Path) -> serde_json::Value {
    let v = ffprobe_json(&[
        "-show_entries",
        "stream=codec_name,codec_tag_string,time_base,duration_ts",
        path.to_str().unwrap(),
    ]);
    v["streams"][0].clone()
}

fn check_two_video_fragments(encoder: EncoderKind, tag: &str) {
    let frames = scaled_source_frames(60);
    let segments = vec![encode(encoder, &frames[..30]), encode(encoder, &frames[30..])];
    let path = write_video_track(&format!("cmaf-{encoder}.mp4"), 15360, &segments);
    let s = stream(&path);
    assert_eq!(s["codec_tag_string"], tag);
    assert_eq!(s["time_base"], "1/15360");
    let durations: Vec<i64> = frames.iter().map(|f| i64::from(f.duration)).collect();
    assert_continuous(&path, &durations);
    let pts = packet_pts(&path);
    // ffmpeg's demuxer delays a stream with negative composition offsets (x264's B-frames) by the largest.
    let delay = pts[0] - frames[0].pts;
    assert_eq!(delay == 0, encoder != EncoderKind::X264, "{encoder}: only x264 reorders");
    assert_eq!(pts[30] - delay, frames[30].pts, "second fragment starts at its tfdt");
    assert_eq!(pts[59] + durations[59] - pts[0], 2 * 15360, "2 s in total");
}

#[test]
fn avc1_fragments_are_continuous() {
    check_two_video_fragments(EncoderKind::Openh264, "avc1");
    // B-frames: decode times run ahead, composition offsets (some negative) put frames back.
    check_two_video_fragments(EncoderKind::X264, "avc1");
}

#[test]
fn av01_fragments_are_continuous() {
    check_two_video_fragments(EncoderKind::Rav1e, "av01");
    check_two_video_fragments(EncoderKind::SvtAv1, "av01");
}

#[test]
fn mp4a_fragments_are_continuous() {
    let (source, _) = crate::cut(&fixtures::faststart(), std::time::Duration::from_secs(3600)).unwrap();
    let spans = source.plan(std::time::Duration::from_secs(3600)).unwrap();
    let audio = NormalisedAudio::from_track(&source, &source.info.audio[0], &spans, 128).unwrap().unwrap();
    assert_eq!(audio.transcoded_from, None, "AAC-LC is copied");
    let config = AacConfig::from_asc(&audio.asc).unwrap();
    let spec = InitTrack {
        track_id: 1,
        timescale: audio.sample_rate,
        width: 0,
        height: 0,
        config: DecoderConfig::Aac(config),
        media_start: 0,
    };
    let mut bytes = init_segment(&[spec]).unwrap();
    let half = audio.packets.len() / 2;
    for (seq, range) in [(1, 0..half), (2, half..audio.packets.len())] {
        let run = TrackRun {
            track_id: 1,
            base_decode_time: audio.packets[range.start].pts as u64,
            samples: range
                .clone()
                .map(|i| FragmentSample {
                    duration: audio.packets[i].duration as u32,
                    composition_offset: 0,
                    is_sync: true,
                    data: &audio.packets[i].data,
                })
                .collect(),
        };
        bytes.extend(media_segment(seq, &[run]).unwrap());
    }
    let path = scratch("cmaf-aac.mp4");
    std::fs::write(&path, bytes).unwrap();
    let s = stream(&path);
    assert_eq!(s["codec_name"], "aac");
    assert_eq!(s["time_base"], "1/48000");
    let durations: Vec<i64> = audio.packets.iter().map(|p| p.duration).collect();
    assert_continuous(&path, &durations);
    let pts = packet_pts(&path);
    assert_eq!(pts[half], pts[0] + durations[..half].iter().sum::<i64>(), "second fragment follows the first");
}
