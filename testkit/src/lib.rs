//! Test support shared by the workspace's integration tests: the external
//! tools that make fixtures and judge our output (ffmpeg, ffprobe), run with
//! errors that say what failed and how to get the tool.
#![deny(missing_docs)]

use std::process::Command;

fn require(tool: &str) {
    let ok = Command::new(tool).arg("-version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "{tool} is not installed: run the README's test command (scripts/test.sh), which installs it");
}

/// Runs ffmpeg (quiet, overwriting) and panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    require("ffmpeg");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs ffprobe with JSON output and parses it.
pub fn ffprobe_json(args: &[&str]) -> serde_json::Value {
    require("ffprobe");
    let out = Command::new("ffprobe").args(["-v", "error", "-of", "json"]).args(args).output().expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}
