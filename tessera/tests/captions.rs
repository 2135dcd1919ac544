//! Closed captions and subtitles through `tessera transcode`: a source whose
//! H.264 SEI carries CEA-608 (made by tests/fixtures/cea608_sei.py, since
//! ffmpeg 5.1 cannot encode text to 608) keeps them in every x264 rung, the
//! manifests say so (HLS `CLOSED-CAPTIONS`, DASH `Accessibility`), and they
//! become a WebVTT subtitle rendition too, beside the subtitle files sent
//! with the job; hls.js and dash.js list the tracks and load their cues.

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

/// The captions as WebVTT hold the source's cues within a frame, for every
/// rung (the AV1 one too); a subtitle file sent with the job (SRT) is a
/// second subtitle rendition; hls.js and dash.js list both and load cues.
#[test]
fn captions_and_subtitle_files_become_webvtt_renditions_players_show() {
    let source = captioned_source();
    let out = tempfile::tempdir().unwrap();
    let srt = out.path().join("french.srt");
    std::fs::write(&srt, "1\n00:00:00,200 --> 00:00:02,800\nBonjour à tous\n\n2\n00:00:02,800 --> 00:00:03,000\nFin\n")
        .unwrap();
    let pkg = out.path().join("pkg");
    let run = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", source.to_str().unwrap(), "--out", pkg.to_str().unwrap()])
        .args(["--codecs", "h264,av1", "--segment-duration", "1"])
        .arg(format!("--subtitles=fr={}", srt.display()))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let cc = std::fs::read_to_string(pkg.join("subtitles/cc1.vtt")).unwrap();
    assert!(has_cue(&cc, 0.4, "HELLO WORLD") && has_cue(&cc, 1.933, "SECOND CAPTION"), "{cc}");
    assert!(cc.contains("00:00:02.500") || cc.contains("00:00:02.49"), "the second caption ends at 2.5 s: {cc}");
    let french = std::fs::read_to_string(pkg.join("subtitles/fr.vtt")).unwrap();
    assert_eq!(
        french,
        "WEBVTT\n\n00:00:00.200 --> 00:00:02.800\nBonjour à tous\n\n00:00:02.800 --> 00:00:03.000\nFin\n"
    );
    let master = std::fs::read_to_string(pkg.join("master.m3u8")).unwrap();
    let subs: Vec<&str> = master.lines().filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES")).collect();
    assert_eq!(subs.len(), 2, "{master}");
    assert!(subs.iter().any(|l| l.contains("LANGUAGE=\"fr\"") && l.contains("subtitles/fr.m3u8")), "{master}");
    assert!(subs.iter().any(|l| l.contains("NAME=\"CC1\"") && l.contains("transcribes-spoken-dialog")), "{master}");
    let variants: Vec<&str> = master.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF")).collect();
    assert!(variants.iter().all(|v| v.contains("SUBTITLES=\"subs\"")), "AV1 rungs get the text too: {master}");
    let mpd = std::fs::read_to_string(pkg.join("manifest.mpd")).unwrap();
    assert!(mpd.contains(r#"contentType="text" lang="fr" mimeType="text/vtt""#), "{mpd}");
    assert!(mpd.contains("<BaseURL>subtitles/cc1.vtt</BaseURL>") && mpd.contains(r#"value="caption""#), "{mpd}");
    for (player, manifest) in [("hls", "master.m3u8"), ("dash", "manifest.mpd")] {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/play.mjs");
        let played = Command::new("node")
            .arg(&script)
            .args(["--dir", pkg.to_str().unwrap(), "--manifest", manifest, "--player", player])
            .args(["--expect", "320x180", "--seconds", "2.5", "--timeout", "60"])
            .output()
            .expect("node");
        let stdout = String::from_utf8_lossy(&played.stdout);
        assert!(played.status.success(), "{player}: {stdout}\n{}", String::from_utf8_lossy(&played.stderr));
        let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let tracks = result["textTracks"].as_array().unwrap();
        assert!(tracks.len() >= 2, "{player} lists both text tracks: {result}");
        let texts: Vec<&str> =
            tracks.iter().flat_map(|t| t["texts"].as_array().unwrap().iter().filter_map(|c| c.as_str())).collect();
        assert!(
            texts.iter().any(|t| t.contains("Bonjour") || t.contains("HELLO WORLD")),
            "{player} loaded no cue: {result}"
        );
    }
}
