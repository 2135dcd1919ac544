//! Closed-caption fixtures and checks: a clip whose H.264 SEI carries
//! CEA-608 (tests/fixtures/cea608_sei.py writes it, since ffmpeg 5.1 cannot
//! encode text to 608), and the captions ffmpeg reads back from a file.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cached_file, ffmpeg};

/// 320x180, 3 s, 30 fps H.264 (a keyframe a second, no B-frames) with a sine
/// tone; CC1 shows "HELLO WORLD" from 0.400 s and "SECOND CAPTION" from
/// 1.933 s to 2.500 s (pop-on). Made once in `dir`.
pub fn captioned_clip(dir: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cea608_sei.py");
    let recipe = format!("cea608 v1 {}", std::fs::read_to_string(&script).expect("the fixture script").len());
    cached_file(dir, "cc608.mp4", &recipe, |out| {
        let tmp = tempfile::tempdir().expect("a scratch folder");
        let (base, cc) = (tmp.path().join("base.h264"), tmp.path().join("cc.h264"));
        let (base, cc) = (base.to_str().expect("utf-8"), cc.to_str().expect("utf-8"));
        ffmpeg(&[
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=3",
            "-c:v",
            "libx264",
            "-threads",
            "1",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "0",
            "-g",
            "30",
            "-x264-params",
            "aud=1",
            "-bitexact",
            "-f",
            "h264",
            base,
        ]);
        let status =
            Command::new("python3").args([script.to_str().expect("utf-8"), base, cc]).status().expect("python3");
        assert!(status.success(), "{} failed", script.display());
        ffmpeg(&[
            "-y",
            "-framerate",
            "30",
            "-i",
            cc,
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=3",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-shortest",
            "-video_track_timescale",
            "90000",
            "-bitexact",
            out,
        ]);
    })
}

/// The closed captions ffmpeg reads from a video file, as WebVTT.
pub fn captions_in(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("movie={}[out+subcc]", file.to_str().expect("utf-8 path")))
        .args(["-map", "0:1", "-f", "webvtt", "-"])
        .output()
        .expect("ffmpeg runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A rendition folder's `init.mp4` and `.m4s` segments (in name order) as one file.
pub fn joined(rendition: &Path, into: &Path) {
    let mut bytes = std::fs::read(rendition.join("init.mp4")).expect("init.mp4");
    let mut segments: Vec<PathBuf> = std::fs::read_dir(rendition)
        .expect("the rendition folder")
        .map(|e| e.expect("a folder entry").path())
        // Segments (`000001.m4s`), not low-latency parts (`000001.2.m4s`).
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".m4s") && n.to_string_lossy().matches('.').count() == 1)
        })
        .collect();
    segments.sort();
    for s in segments {
        bytes.extend(std::fs::read(s).expect("a segment"));
    }
    std::fs::write(into, bytes).expect("write the joined file");
}

/// True when a WebVTT cue starting within a frame (30 fps) of `at` seconds holds `text`.
pub fn has_cue(vtt: &str, at: f64, text: &str) -> bool {
    vtt.split("\n\n").any(|cue| {
        let Some((times, body)) = cue.trim().split_once('\n') else { return false };
        let start = times.split(" --> ").next().unwrap_or_default();
        let secs: f64 = start.rsplit(':').next().and_then(|s| s.parse().ok()).unwrap_or(-1.0)
            + start.split(':').rev().nth(1).and_then(|m| m.parse::<f64>().ok()).unwrap_or(0.0) * 60.0;
        (secs - at).abs() <= 1.0 / 30.0 + 1e-3 && body.contains(text)
    })
}
