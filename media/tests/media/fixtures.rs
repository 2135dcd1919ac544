//! Test media made with ffmpeg at test time (tiny: 320x180, 3 s), and helpers
//! that ask ffprobe/ffmpeg what they see in our output.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Folder holding the generated fixtures, shared by test processes (nextest
/// runs each test in its own) and kept between runs under the target folder.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("media-fixtures-v1");
        std::fs::create_dir_all(&dir).expect("fixture dir");
        dir
    })
}

/// This process's scratch folder for outputs under test.
fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new().prefix("scratch").tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir")
    })
    .path()
}

pub use tessera_testkit::{ffmpeg, ffprobe_json};

const VIDEO_SRC: &str = "testsrc2=size=320x180:rate=30:duration=3";
const AUDIO_SRC: &str = "sine=frequency=440:sample_rate=48000:duration=3";

fn x264(out: &str, extra: &[&str]) {
    let mut args = vec!["-f", "lavfi", "-i", VIDEO_SRC, "-f", "lavfi", "-i", AUDIO_SRC];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-c:a", "aac", "-b:a", "96k", "-shortest", "-f", "mp4", out]);
    ffmpeg(&args);
}

macro_rules! fixture {
    ($(#[$doc:meta])* $name:ident, $file:literal, $build:expr) => {
        $(#[$doc])*
        pub fn $name() -> PathBuf {
            static ONCE: OnceLock<PathBuf> = OnceLock::new();
            // The recipe's text names the file, so a changed recipe never reuses a stale one.
            ONCE.get_or_init(|| tessera_testkit::cached_file(dir(), $file, stringify!($build), $build)).clone()
        }
    };
}

fixture!(
    /// x264 High profile, 3 B-frames, IDR every 15 frames, AAC; moov at the end (ffmpeg's default).
    high_bframes,
    "high_bframes.mp4",
    |out| x264(out, &["-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "15", "-keyint_min", "15", "-sc_threshold", "0", "-pix_fmt", "yuv420p"])
);
fixture!(
    /// The same with the moov moved to the start.
    faststart,
    "faststart.mp4",
    |out| x264(out, &["-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "15", "-keyint_min", "15", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
);
fixture!(
    /// Two GOPs of unequal length (IDRs at 0 s and 1.3 s), Main profile.
    two_gops,
    "two_gops.mp4",
    |out| x264(out, &["-c:v", "libx264", "-profile:v", "main", "-g", "1000", "-sc_threshold", "0", "-force_key_frames", "0,1.3", "-pix_fmt", "yuv420p"])
);
fixture!(
    /// Constrained Baseline (no B-frames), no audio.
    baseline,
    "baseline.mp4",
    |out| ffmpeg(&["-f", "lavfi", "-i", VIDEO_SRC, "-c:v", "libx264", "-profile:v", "baseline", "-g", "30", "-pix_fmt", "yuv420p", "-f", "mp4", out])
);
fixture!(
    /// Audio only (AAC).
    audio_only,
    "audio_only.mp4",
    |out| ffmpeg(&["-f", "lavfi", "-i", AUDIO_SRC, "-c:a", "aac", "-f", "mp4", out])
);
fixture!(
    /// HEVC video (libx265).
    hevc,
    "hevc.mp4",
    |out| ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-c:v", "libx265", "-x265-params", "log-level=error", "-f", "mp4", out])
);
fixture!(
    /// H.264 High 10.
    high10,
    "high10.mp4",
    |out| ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-f", "mp4", out])
);
fixture!(
    /// H.264 4:2:2.
    yuv422,
    "yuv422.mp4",
    |out| ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv422p", "-f", "mp4", out])
);
fixture!(
    /// H.264 with MP3 audio (audio must be skipped with a warning).
    mp3_audio,
    "mp3_audio.mp4",
    |out| ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-f", "lavfi", "-i", AUDIO_SRC, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libmp3lame", "-shortest", "-f", "mp4", out])
);
fixture!(
    /// The faststart file cut in half.
    truncated,
    "truncated.mp4",
    |out| {
        let bytes = std::fs::read(faststart()).expect("read faststart");
        std::fs::write(out, &bytes[..bytes.len() / 2]).expect("write truncated");
    }
);
fixture!(
    /// 4 KiB of pseudo-random bytes.
    random_bytes,
    "random.bin",
    |out| {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes: Vec<u8> = (0..4096).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x >> 24) as u8 }).collect();
        std::fs::write(out, bytes).expect("write random");
    }
);

/// A scratch file path in the fixture folder.
pub fn scratch(name: &str) -> PathBuf {
    scratch_dir().join(name)
}

/// Decodes the first video stream of `path` to raw yuv420p frames with ffmpeg
/// (optionally scaled), returning the frames' planes as one buffer each.
pub fn ffmpeg_decode_raw(path: &Path, scale: Option<(u32, u32)>) -> Vec<u8> {
    let vf = scale.map(|(w, h)| format!("scale={w}:{h}:flags=lanczos"));
    decode_raw(path, vf.as_deref())
}

/// What Tessera should make of a source, by ffmpeg: decoded, optionally
/// scaled, and converted from BT.601 (these fixtures are small and untagged)
/// to BT.709 limited range.
pub fn ffmpeg_reference_raw(path: &Path, scale: Option<(u32, u32)>) -> Vec<u8> {
    let convert = "in_color_matrix=bt601:out_color_matrix=bt709:out_range=tv";
    let vf = match scale {
        Some((w, h)) => format!("scale={w}:{h}:flags=lanczos+accurate_rnd+full_chroma_int:{convert}"),
        None => format!("scale=flags=bicubic+accurate_rnd+full_chroma_int+bitexact:{convert}"),
    };
    decode_raw(path, Some(&vf))
}

fn decode_raw(path: &Path, vf: Option<&str>) -> Vec<u8> {
    let out = scratch(&format!("raw-{}.yuv", path.file_name().and_then(|n| n.to_str()).unwrap_or("x")));
    let mut args = vec!["-i", path.to_str().expect("utf-8")];
    if let Some(vf) = vf {
        args.extend_from_slice(&["-vf", vf]);
    }
    args.extend_from_slice(&["-f", "rawvideo", "-pix_fmt", "yuv420p", out.to_str().expect("utf-8")]);
    ffmpeg(&args);
    std::fs::read(&out).expect("raw output")
}

/// Counts decoded video frames with ffmpeg (decoding fully, failing on errors).
pub fn ffmpeg_frame_count(path: &Path) -> u64 {
    let v = ffprobe_json(&[
        "-count_frames",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=nb_read_frames",
        path.to_str().expect("utf-8"),
    ]);
    v["streams"][0]["nb_read_frames"].as_str().and_then(|s| s.parse().ok()).expect("nb_read_frames")
}
