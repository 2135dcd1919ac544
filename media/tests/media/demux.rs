//! Demux: our sample table equals ffprobe's packets.

use crate::fixtures::{self, ffprobe_json};
use crate::open;

fn ffprobe_packets(path: &std::path::Path, stream: &str) -> Vec<(i64, i64, bool)> {
    let v = ffprobe_json(&["-select_streams", stream, "-show_entries", "packet=pts,dts,flags", path.to_str().unwrap()]);
    v["packets"]
        .as_array()
        .expect("packets")
        .iter()
        .map(|p| {
            (
                p["pts"].as_i64().expect("pts"),
                p["dts"].as_i64().expect("dts"),
                p["flags"].as_str().expect("flags").starts_with('K'),
            )
        })
        .collect()
}

fn assert_video_matches_ffprobe(path: &std::path::Path) {
    let (source, _) = open(path).expect("demux");
    let ours: Vec<(i64, i64, bool)> = source.video.samples.iter().map(|s| (s.pts, s.dts, s.is_sync)).collect();
    let theirs = ffprobe_packets(path, "v:0");
    assert_eq!(ours.len(), 90, "3 s at 30 fps");
    assert_eq!(ours, theirs, "video pts/dts/keyframes differ from ffprobe for {}", path.display());
}

#[test]
fn video_samples_match_ffprobe_with_moov_at_end() {
    assert_video_matches_ffprobe(&fixtures::high_bframes());
}

#[test]
fn video_samples_match_ffprobe_with_moov_at_start() {
    assert_video_matches_ffprobe(&fixtures::faststart());
}

#[test]
fn stream_properties_are_read() {
    let (source, _) = open(&fixtures::high_bframes()).expect("demux");
    let v = &source.video;
    assert_eq!((v.width, v.height), (320, 180));
    assert!((v.frame_rate() - 30.0).abs() < 1e-6, "{}", v.frame_rate());
    assert_eq!(v.gop_lengths(), vec![15; 6]);
    assert!(v.samples.iter().any(|s| s.pts != s.dts), "B-frames reorder");
    assert_eq!(v.config.codec_string().unwrap()[..7].to_string(), "avc1.64");
    assert!((source.duration_secs() - 3.0).abs() < 1e-9);
    let audio = source.audio.as_ref().expect("aac track");
    assert_eq!((audio.config.sample_rate, audio.config.channels), (48000, 1));
    assert_eq!(audio.config.codec_string(), "mp4a.40.2");
    assert!(source.warnings.is_empty(), "{:?}", source.warnings);
}

#[test]
fn audio_sample_count_and_timing_match_ffprobe() {
    let path = fixtures::high_bframes();
    let (source, _) = open(&path).expect("demux");
    let audio = source.audio.expect("audio");
    let theirs = ffprobe_packets(&path, "a:0");
    assert_eq!(audio.samples.len(), theirs.len());
    // ffprobe reports AAC timing with the priming removed by the edit list, as we do.
    let ours: Vec<i64> = audio.samples.iter().map(|s| s.pts).collect();
    let theirs: Vec<i64> = theirs.iter().map(|p| p.0).collect();
    assert_eq!(ours, theirs);
}

#[test]
fn unequal_gops_are_found() {
    let (source, _) = open(&fixtures::two_gops()).expect("demux");
    assert_eq!(source.video.gop_lengths(), vec![39, 51]);
}
