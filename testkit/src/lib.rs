//! Test support shared by the workspace's integration tests: the external
//! tools that make fixtures and judge our output (ffmpeg, ffprobe), run with
//! errors that say what failed and how to get the tool; and the bus
//! contract suite every bus implementation must pass ([`bus_contract`], and
//! the consumer loop's on each bus: [`serve_contract`]), and
//! a real nats-server or S3 server per test ([`nats`], [`s3`]); hostile
//! inputs ([`hostile`]).
#![deny(missing_docs)]

pub mod bus_contract;
pub mod captions;
pub mod dev;
pub mod hostile;
pub mod kv_contract;
pub mod nats;
pub mod s3;
pub mod serve_contract;

use std::process::Command;

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A UDP port that was free a moment ago (SRT listens on UDP).
pub fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a free UDP port");
    socket.local_addr().expect("local address").port()
}

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

/// A file made once by `build` and cached in `dir` under `name` plus a hash
/// of `recipe` (the text that says how it is made), so a changed recipe makes
/// a new file. Parallel test processes may race to make it: each builds into
/// a path of its own, then renames.
pub fn cached_file(dir: &std::path::Path, name: &str, recipe: &str, build: impl FnOnce(&str)) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    recipe.hash(&mut hasher);
    std::fs::create_dir_all(dir).expect("fixture dir");
    let path = dir.join(format!("{:016x}-{name}", hasher.finish()));
    if !path.exists() {
        let tmp = dir.join(format!("tmp-{}-{name}", std::process::id()));
        build(tmp.to_str().expect("utf-8 path"));
        std::fs::rename(&tmp, &path).expect("rename fixture");
    }
    path
}

/// An ffmpeg-made fixture ([`cached_file`]); `args` are ffmpeg's arguments
/// without the output path.
pub fn cached_fixture(dir: &std::path::Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    cached_file(dir, name, &args.join(" "), |out| {
        let mut all: Vec<&str> = args.to_vec();
        all.push(out);
        ffmpeg(&all);
    })
}

/// A small upload in `dir`: 320x180 30 fps H.264 (a keyframe every second)
/// and AAC 96k, `secs` long.
pub fn av_clip_180p(dir: &std::path::Path, secs: u32) -> std::path::PathBuf {
    let recipe = format!(
        "-f lavfi -i testsrc2=size=320x180:rate=30:duration={secs} \
         -f lavfi -i sine=frequency=440:sample_rate=48000:duration={secs} \
         -c:v libx264 -g 30 -pix_fmt yuv420p -c:a aac -b:a 96k -shortest -f mp4"
    );
    let args: Vec<&str> = recipe.split_whitespace().collect();
    cached_fixture(dir, &format!("180p-{secs}s.mp4"), &args)
}

/// Frames and duration (seconds) of the first stream of `kind` ("v" or "a")
/// that ffprobe decodes in `input` (a file or a playlist).
pub fn count_frames(input: &std::path::Path, kind: &str) -> (u64, f64) {
    let v = ffprobe_json(&[
        "-count_frames",
        "-select_streams",
        &format!("{kind}:0"),
        "-show_entries",
        "stream=nb_read_frames:format=duration",
        input.to_str().expect("utf-8 path"),
    ]);
    let frames = v["streams"][0]["nb_read_frames"].as_str().and_then(|s| s.parse().ok()).expect("frame count");
    let duration = v["format"]["duration"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    (frames, duration)
}

/// Runs ffmpeg and returns its stderr (for filters that report there, and
/// for checking that a decode printed no error).
pub fn ffmpeg_stderr(args: &[&str]) -> String {
    require("ffmpeg");
    let out = Command::new("ffmpeg").args(["-hide_banner", "-nostats", "-y"]).args(args).output().expect("ffmpeg runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffmpeg {args:?} failed: {stderr}");
    stderr
}

/// Mean PSNR (ffmpeg's psnr filter, "average") of `distorted` against
/// `reference` scaled to `width`x`height` with Lanczos and converted to what
/// Tessera's renditions are, BT.709 limited range (an untagged reference is
/// read as BT.601, as Tessera reads untagged sources below 720 lines).
pub fn psnr_against_scaled(distorted: &std::path::Path, reference: &std::path::Path, width: u32, height: u32) -> f64 {
    // Frame n against frame n: a source whose first frame is not at 0 (WebM,
    // MPEG-TS) keeps its offset, where our renditions start at 0.
    let filter = format!(
        "[0:v]setpts=PTS-STARTPTS[out];[1:v]setpts=PTS-STARTPTS,\
         scale={width}:{height}:flags=lanczos+accurate_rnd+full_chroma_int:out_color_matrix=bt709:out_range=tv[ref];[out][ref]psnr"
    );
    let stderr = ffmpeg_stderr(&[
        "-loglevel",
        "info",
        "-i",
        distorted.to_str().expect("utf-8 path"),
        "-i",
        reference.to_str().expect("utf-8 path"),
        "-lavfi",
        &filter,
        "-f",
        "null",
        "-",
    ]);
    let average = stderr.split("average:").nth(1).expect("psnr output");
    average.split_whitespace().next().and_then(|s| s.parse().ok()).expect("psnr average")
}

/// Starts a real-time RTMP push to `url` of `secs` seconds: a 320x180 30 fps
/// test pattern in H.264 (keyframe every 2 s) with a sine tone in AAC, as OBS
/// would send it. Its stderr is piped (for failure messages).
pub fn rtmp_push(url: &str, secs: u32) -> std::process::Child {
    live_push("ffmpeg", url, secs, &["-c:v", "libx264", "-preset", "veryfast"], "flv")
}

/// Pushes `secs` of 320x180 30 fps test pattern with a 48 kHz tone, in real
/// time, to `url` with `ffmpeg` (a path or a name), its video coded with
/// `video` (a keyframe every 2 s), in container `format`.
pub fn live_push(ffmpeg: &str, url: &str, secs: u32, video: &[&str], format: &str) -> std::process::Child {
    Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", &format!("testsrc2=size=320x180:rate=30:duration={secs}")])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:sample_rate=48000:duration={secs}")])
        .args(video)
        .args(["-g", "60", "-keyint_min", "60", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a", "96k", "-f", format, url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{ffmpeg} runs: {e}"))
}

/// The static ffmpeg 9 of PyPI's imageio-ffmpeg (scripts/test.sh installs
/// it): Debian's ffmpeg 5.1 cannot send HEVC over Enhanced RTMP, or measure VMAF.
pub fn static_ffmpeg() -> String {
    let found = Command::new("python3")
        .args(["-c", "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    found.expect("imageio-ffmpeg is not installed: run the README's test command (scripts/test.sh), which installs it")
}
