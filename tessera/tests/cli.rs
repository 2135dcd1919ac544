//! The `tessera` binary's exit codes and messages.

use std::process::Command;

fn tessera(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("run tessera");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn probe_describes_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-g",
            "10",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&input)
        .status()
        .expect("ffmpeg (run scripts/test.sh)");
    assert!(status.success());
    let (code, stdout, _) = tessera(&["probe", input.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("h264 High, 320x180 yuv420p (8-bit), 25.000 fps, 25 frames"), "{stdout}");
    assert!(stdout.contains("keyframes: 3 (longest interval 0.40 s)"), "{stdout}");
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("notes.txt");
    std::fs::write(&input, "hello, this is text").unwrap();
    let (code, _, stderr) = tessera(&["probe", input.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not a media file: no container libavformat recognises; it starts with 68 65 6c 6c 6f"),
        "{stderr}"
    );
    let (code, _, stderr) =
        tessera(&["segment", input.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn missing_file_is_an_internal_error() {
    let (code, _, stderr) = tessera(&["probe", "/nonexistent/file.mp4"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot open /nonexistent/file.mp4"), "{stderr}");
}

/// A bad setting is refused by the argument parser, naming the flag, before anything is read.
#[test]
fn bad_settings_are_argument_errors_naming_the_flag() {
    for (args, expected) in [
        (
            &["transcode", "in.mp4", "--out", "o", "--segment-duration", "0.5"][..],
            "invalid value '0.5' for '--segment-duration <SEGMENT_DURATION>': a segment duration must be within 1-30 seconds, not 0.5",
        ),
        (&["segment", "in.mp4", "--out", "o", "--segment-duration", "x"], "'x' is not a number of seconds"),
        (&["transcode", "in.mp4", "--out", "o", "--speed", "turbo"], "unknown speed preset 'turbo'"),
        (&["worker", "--class", "tpu"], "unknown worker class 'tpu': expected cpu or gpu"),
        (&["worker", "--codecs", "h264,mp3"], "unknown task codec 'mp3'"),
    ] {
        let (code, _, stderr) = tessera(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
