//! Closed captions through `tessera transcode`: a source whose H.264 SEI
//! carries CEA-608 (made by tests/fixtures/cea608_sei.py, since ffmpeg 5.1
//! cannot encode text to 608) keeps them in every x264 rung, and the
//! manifests say so (HLS `CLOSED-CAPTIONS`, DASH `Accessibility`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_testkit::{cached_file, ffmpeg, ffmpeg_stderr};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("caption-fixtures")
}

/// 320x180, 3 s, 30 fps H.264 with a sine tone; CC1 shows "HELLO WORLD" from
/// 0.400 s and "SECOND CAPTION" from 1.933 s to 2.500 s (pop-on).
fn captioned_source() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cea608_sei.py");
    let recipe = format!("cea608 v1 {}", std::fs::read_to_string(&script).unwrap().len());
    cached_file(&fixtures(), "cc608.mp4", &recipe, |out| {
        let dir = tempfile::tempdir().unwrap();
        let (base, cc) = (dir.path().join("base.h264"), dir.path().join("cc.h264"));
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
            base.to_str().unwrap(),
        ]);
        let status = Command::new("python3")
            .args([script.to_str().unwrap(), base.to_str().unwrap(), cc.to_str().unwrap()])
            .status()
            .expect("python3");
        assert!(status.success());
        ffmpeg(&[
            "-y",
            "-framerate",
            "30",
            "-i",
            cc.to_str().unwrap(),
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

/// The captions ffmpeg reads from a video file, as WebVTT.
fn captions_in(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("movie={}[out+subcc]", file.to_str().unwrap()))
        .args(["-map", "0:1", "-f", "webvtt", "-"])
        .output()
        .expect("ffmpeg");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A rendition's segments after its init segment, as one file.
fn joined(rendition: &Path, into: &Path) {
    let mut bytes = std::fs::read(rendition.join("init.mp4")).unwrap();
    let mut segments: Vec<PathBuf> = std::fs::read_dir(rendition)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "m4s"))
        .collect();
    segments.sort();
    for s in segments {
        bytes.extend(std::fs::read(s).unwrap());
    }
    std::fs::write(into, bytes).unwrap();
}

/// The cue starting near `at` seconds holds `text`.
fn has_cue(vtt: &str, at: f64, text: &str) -> bool {
    vtt.split("\n\n").any(|cue| {
        let Some((times, body)) = cue.trim().split_once('\n') else { return false };
        let start = times.split(" --> ").next().unwrap_or_default();
        let secs: f64 = start.rsplit(':').next().and_then(|s| s.parse().ok()).unwrap_or(-1.0)
            + start.split(':').rev().nth(1).and_then(|m| m.parse::<f64>().ok()).unwrap_or(0.0) * 60.0;
        (secs - at).abs() <= 1.0 / 30.0 + 1e-3 && body.contains(text)
    })
}

#[test]
fn cea608_captions_stay_in_every_x264_rung_and_the_manifests_say_so() {
    let source = captioned_source();
    let source_captions = captions_in(&source);
    assert!(has_cue(&source_captions, 0.4, "HELLO WORLD"), "the fixture's captions: {source_captions}");
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", source.to_str().unwrap(), "--out", out.path().to_str().unwrap()])
        .args(["--codecs", "h264,av1", "--segment-duration", "1"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rung = out.path().join("h264-180p.mp4");
    joined(&out.path().join("h264-180p"), &rung);
    let captions = captions_in(&rung);
    assert!(has_cue(&captions, 0.4, "HELLO WORLD"), "{captions}");
    assert!(has_cue(&captions, 1.933, "SECOND CAPTION"), "{captions}");
    assert!(ffmpeg_stderr(&["-i", rung.to_str().unwrap(), "-f", "null", "-"]).contains("Closed Captions"));
    let master = std::fs::read_to_string(out.path().join("master.m3u8")).unwrap();
    assert!(master.contains("TYPE=CLOSED-CAPTIONS") && master.contains("INSTREAM-ID=\"CC1\""), "{master}");
    let h264 = master.lines().find(|l| l.contains("avc1") && l.starts_with("#EXT-X-STREAM-INF")).unwrap();
    assert!(h264.contains("CLOSED-CAPTIONS=\"cc\""), "{master}");
    let av1 = master.lines().find(|l| l.contains("av01") && l.starts_with("#EXT-X-STREAM-INF")).unwrap();
    assert!(!av1.contains("CLOSED-CAPTIONS"), "SVT-AV1 writes no captions: {master}");
    let mpd = std::fs::read_to_string(out.path().join("manifest.mpd")).unwrap();
    assert!(mpd.contains(r#"<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>"#), "{mpd}");
}
