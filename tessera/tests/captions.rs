//! Closed captions and subtitles through `tessera transcode`: a source whose
//! H.264 SEI carries CEA-608 (made by tests/fixtures/cea608_sei.py, since
//! ffmpeg 5.1 cannot encode text to 608) keeps them in every x264 rung, the
//! manifests say so (HLS `CLOSED-CAPTIONS`, DASH `Accessibility`), and they
//! become a WebVTT subtitle rendition too, beside the subtitle files sent
//! with the job; hls.js and dash.js list the tracks and load their cues.

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_testkit::captions::{captioned_clip, captions_in, has_cue, joined};
use tessera_testkit::ffmpeg_stderr;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("caption-fixtures")
}

fn captioned_source() -> PathBuf {
    captioned_clip(&fixtures())
}

/// CEA-608 in the source's SEI (MP4, and MPEG-TS) is in the x264 rung's SEI
/// with the same text and times; the manifests say which rungs carry it.
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
    // The same captions in an MPEG-TS (a broadcast's) come through the same way.
    let ts = out.path().join("cc608.ts");
    tessera_testkit::ffmpeg(&["-y", "-i", source.to_str().unwrap(), "-c", "copy", ts.to_str().unwrap()]);
    let from_ts = out.path().join("from-ts");
    let run = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", ts.to_str().unwrap(), "--out", from_ts.to_str().unwrap()])
        .args(["--codecs", "h264", "--segment-duration", "1"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rung = out.path().join("from-ts.mp4");
    joined(&from_ts.join("h264-180p"), &rung);
    let captions = captions_in(&rung);
    assert!(has_cue(&captions, 0.4, "HELLO WORLD") && has_cue(&captions, 1.933, "SECOND CAPTION"), "{captions}");
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
            .args(["--expect", "320x180", "--seconds", "2.5", "--timeout", "60", "--expect-cues"])
            .output()
            .expect("node");
        let stdout = String::from_utf8_lossy(&played.stdout);
        assert!(played.status.success(), "{player}: {stdout}\n{}", String::from_utf8_lossy(&played.stderr));
        let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let tracks = result["textTracks"].as_array().unwrap();
        assert!(tracks.len() >= 2, "{player} lists both text tracks: {result}");
        let texts: Vec<&str> =
            tracks.iter().flat_map(|t| t["texts"].as_array().unwrap().iter().filter_map(|c| c.as_str())).collect();
        // The first subtitle rendition (the SRT sent with the job) is shown: its cue loaded from WebVTT.
        assert!(texts.iter().any(|t| t.contains("Bonjour")), "{player} loaded no cue of the subtitles: {result}");
    }
}
