//! Every upload shape a creator or a phone sends, through `tessera transcode`
//! with `--segment-duration 2`: exit 0, the source's frames and duration in
//! the top rendition, upright pictures, 2 s segments whatever the keyframes,
//! an audio rendition as long as the video, and PSNR against ffmpeg's own
//! decode of the source. Each shape is made by ffmpeg in test setup.

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_testkit::{cached_fixture, count_frames, ffprobe_json, psnr_against_scaled};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("upload-fixtures")
}

const VIDEO: &str = "testsrc2=size=320x180:rate=30:duration=3";
const AUDIO: &str = "sine=frequency=440:sample_rate=48000:duration=3";
/// x264 with one keyframe in 250 frames (OBS's default interval; longer than these clips).
const LONG_GOP: [&str; 8] = ["-c:v", "libx264", "-g", "250", "-keyint_min", "250", "-sc_threshold", "0"];

/// One upload shape.
struct Shape {
    name: &'static str,
    args: Vec<&'static str>,
    has_audio: bool,
    portrait: bool,
    /// PSNR floor against ffmpeg's decode scaled to the rendition (None: not comparable).
    psnr_floor: Option<f64>,
}

fn shape(name: &'static str, args: &[&'static str], has_audio: bool) -> Shape {
    Shape { name, args: args.to_vec(), has_audio, portrait: false, psnr_floor: Some(30.0) }
}

fn shapes() -> Vec<Shape> {
    let av = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec!["-f", "lavfi", "-i", VIDEO, "-f", "lavfi", "-i", AUDIO];
        a.extend_from_slice(extra);
        a
    };
    vec![
        shape(
            "hevc10.mov",
            &av(&[
                "-c:v",
                "libx265",
                "-pix_fmt",
                "yuv420p10le",
                "-tag:v",
                "hvc1",
                "-x265-params",
                "log-level=error",
                "-c:a",
                "aac",
                "-f",
                "mov",
            ]),
            true,
        ),
        Shape {
            portrait: true,
            ..shape(
                "portrait.mp4",
                &["-f", "lavfi", "-i", "testsrc2=size=360x640:rate=30:duration=3", "-c:v", "libx264", "-f", "mp4"],
                false,
            )
        },
        shape(
            "vp9-opus.webm",
            &av(&["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus", "-f", "webm"]),
            true,
        ),
        shape("prores-pcm.mov", &av(&["-c:v", "prores_ks", "-profile:v", "1", "-c:a", "pcm_s16le", "-f", "mov"]), true),
        shape("h264-aac.ts", &av(&["-c:v", "libx264", "-c:a", "aac", "-f", "mpegts"]), true),
        shape("gop250.mkv", &av(&[LONG_GOP.as_slice(), &["-c:a", "aac", "-f", "matroska"]].concat()), true),
        // 121 frames at 60 fps: a last segment of one frame (16.7 ms) still gets its audio.
        shape(
            "60fps-tail.mp4",
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x180:rate=60:duration=3",
                "-f",
                "lavfi",
                "-i",
                AUDIO,
                "-frames:v",
                "121",
                "-c:v",
                "libx264",
                "-c:a",
                "aac",
                "-shortest",
                "-f",
                "mp4",
            ],
            true,
        ),
        shape("av1.mp4", &["-f", "lavfi", "-i", VIDEO, "-c:v", "libsvtav1", "-preset", "12", "-f", "mp4"], false),
        shape("ac3.mp4", &av(&["-c:v", "libx264", "-c:a", "ac3", "-f", "mp4"]), true),
        shape("mp3.mp4", &av(&["-c:v", "libx264", "-c:a", "libmp3lame", "-f", "mp4"]), true),
        shape(
            "h264-422.mp4",
            &["-f", "lavfi", "-i", VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv422p", "-f", "mp4"],
            false,
        ),
        Shape {
            // ffmpeg's reference decode is not deinterlaced: a lower floor.
            psnr_floor: Some(24.0),
            ..shape(
                "mpeg2-interlaced.ts",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=320x180:rate=25:duration=3",
                    "-vf",
                    "setfield=tff",
                    "-c:v",
                    "mpeg2video",
                    "-flags",
                    "+ilme+ildct",
                    "-top",
                    "1",
                    "-b:v",
                    "2M",
                    "-f",
                    "mpegts",
                ],
                false,
            )
        },
        Shape {
            // Tone-mapped to SDR: not comparable with ffmpeg's untone-mapped decode.
            psnr_floor: None,
            ..shape(
                "pq.mp4",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    VIDEO,
                    "-c:v",
                    "libx265",
                    "-pix_fmt",
                    "yuv420p10le",
                    "-x265-params",
                    "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
                    "-color_primaries",
                    "bt2020",
                    "-color_trc",
                    "smpte2084",
                    "-colorspace",
                    "bt2020nc",
                    "-f",
                    "mp4",
                ],
                false,
            )
        },
        Shape {
            // Tone-mapped to SDR: not comparable with ffmpeg's untone-mapped decode.
            psnr_floor: None,
            ..shape(
                "hlg.mp4",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    VIDEO,
                    "-c:v",
                    "libx265",
                    "-pix_fmt",
                    "yuv420p10le",
                    "-x265-params",
                    "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
                    "-color_primaries",
                    "bt2020",
                    "-color_trc",
                    "arib-std-b67",
                    "-colorspace",
                    "bt2020nc",
                    "-f",
                    "mp4",
                ],
                false,
            )
        },
    ]
}

/// A phone clip: landscape pixels with a 90 degree display matrix (set by a
/// stream copy, as ffmpeg applies `rotate` only when muxing without encoding).
fn rotated() -> PathBuf {
    let base = cached_fixture(
        &fixtures(),
        "rotate-base.mp4",
        &["-f", "lavfi", "-i", VIDEO, "-f", "lavfi", "-i", AUDIO, "-c:v", "libx264", "-c:a", "aac", "-f", "mp4"],
    );
    let base = base.to_str().unwrap().to_string();
    let args: Vec<&str> = vec!["-i", &base, "-c", "copy", "-metadata:s:v:0", "rotate=90", "-f", "mp4"];
    cached_fixture(&fixtures(), "rotated.mp4", &args)
}

/// An MP4 cut with `-ss 1 -c copy`: an edit list and frames before it to discard.
fn edit_list_cut() -> PathBuf {
    let base = cached_fixture(
        &fixtures(),
        "edit-base.mp4",
        &[
            "-f", "lavfi", "-i", VIDEO, "-f", "lavfi", "-i", AUDIO, "-c:v", "libx264", "-g", "60", "-c:a", "aac", "-f",
            "mp4",
        ],
    );
    let base = base.to_str().unwrap().to_string();
    let args: Vec<&str> = vec!["-ss", "1", "-i", &base, "-c", "copy", "-f", "mp4"];
    cached_fixture(&fixtures(), "edit-cut.mp4", &args)
}

fn extinf(playlist: &Path) -> Vec<f64> {
    std::fs::read_to_string(playlist)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect()
}

/// Transcodes and checks one shape; returns the top rendition's size.
fn check(name: &str, source: &Path, has_audio: bool, portrait: bool, psnr_floor: Option<f64>) -> (u32, u32) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pkg");
    let run = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", source.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--codecs", "h264", "--segment-duration", "2", "--workers", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{name}: exit {:?}\n{stderr}", run.status.code());
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let renditions = report["renditions"].as_array().unwrap();
    let top = &renditions[0];
    let rendition = top["name"].as_str().unwrap();
    let playlist = out.join(rendition).join("index.m3u8");
    let (source_frames, source_secs) = count_frames(source, "v");
    let (frames, secs) = count_frames(&playlist, "v");
    let frame = 1.0 / 25.0;
    assert_eq!(frames, source_frames, "{name}: frames of {rendition}");
    assert!((secs - source_secs).abs() <= frame + 1e-3, "{name}: {secs} s against the source's {source_secs} s");
    let (w, h) = (top["width"].as_u64().unwrap() as u32, top["height"].as_u64().unwrap() as u32);
    assert_eq!(h > w, portrait, "{name}: {w}x{h} is not upright");
    // Every rendition says what it is: BT.709, limited range (SPS VUI and colr box).
    let probe = ffprobe_json(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=color_primaries,color_transfer,color_space,color_range",
        out.join(rendition).join("init.mp4").to_str().unwrap(),
    ]);
    let colour = &probe["streams"][0];
    for (key, want) in
        [("color_primaries", "bt709"), ("color_transfer", "bt709"), ("color_space", "bt709"), ("color_range", "tv")]
    {
        assert_eq!(colour[key].as_str(), Some(want), "{name}: {key} in {rendition}/init.mp4");
    }
    let durations = extinf(&playlist);
    for (i, d) in durations.iter().enumerate().take(durations.len() - 1) {
        assert!((d - 2.0).abs() <= frame + 1e-3, "{name}: segment {i} lasts {d} s: {durations:?}");
    }
    let audio = renditions.iter().find(|r| r["name"].as_str().unwrap().starts_with("aac-"));
    assert_eq!(audio.is_some(), has_audio, "{name}: audio rendition");
    if let Some(audio) = audio {
        let playlist = out.join(audio["name"].as_str().unwrap()).join("index.m3u8");
        let (_, audio_secs) = count_frames(&playlist, "a");
        assert!((audio_secs - secs).abs() < 0.05, "{name}: audio {audio_secs} s against video {secs} s");
        let probe = ffprobe_json(&[
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name,profile,start_time",
            playlist.to_str().unwrap(),
        ]);
        let stream = &probe["streams"][0];
        assert_eq!((stream["codec_name"].as_str(), stream["profile"].as_str()), (Some("aac"), Some("LC")), "{name}");
        // The first audible sample plays with the first frame (priming skipped by the edit list).
        let start: f64 = stream["start_time"].as_str().unwrap().parse().unwrap();
        assert!(start <= 0.0 && start > -0.05, "{name}: audio starts at {start} s");
    }
    if let Some(floor) = psnr_floor {
        let psnr = psnr_against_scaled(&playlist, source, w, h);
        eprintln!("{name}: {rendition} {w}x{h}, PSNR {psnr:.2} dB against ffmpeg's decode");
        assert!(psnr > floor, "{name}: PSNR {psnr:.2} dB is below {floor} dB");
    }
    (w, h)
}

#[test]
fn every_upload_shape_transcodes_upright_in_2s_segments_with_its_audio() {
    for s in shapes() {
        let source = cached_fixture(&fixtures(), s.name, &s.args);
        check(s.name, &source, s.has_audio, s.portrait, s.psnr_floor);
    }
}

#[test]
fn non_square_pixels_come_out_square() {
    // 320x180 coded with 4:3 pixels is shown 427 wide: the rendition is 426x180 with square pixels.
    let source = cached_fixture(
        &fixtures(),
        "anamorphic.mp4",
        &["-f", "lavfi", "-i", VIDEO, "-vf", "setsar=4/3", "-c:v", "libx264", "-f", "mp4"],
    );
    assert_eq!(check("anamorphic.mp4", &source, false, false, Some(30.0)), (426, 180));
}

#[test]
fn a_rotated_phone_clip_comes_out_portrait() {
    check("rotated.mp4", &rotated(), true, true, Some(30.0));
}

#[test]
fn an_edit_list_cut_starts_at_its_first_shown_frame() {
    check("edit-cut.mp4", &edit_list_cut(), true, false, Some(30.0));
}

#[test]
fn a_retried_task_gives_the_same_bytes() {
    // The long-GOP MKV: segments cut between keyframes decode from pre-roll.
    let source = cached_fixture(
        &fixtures(),
        "retry-gop250.mkv",
        &[&["-f", "lavfi", "-i", VIDEO], LONG_GOP.as_slice(), &["-f", "matroska"]].concat(),
    );
    let dir = tempfile::tempdir().unwrap();
    let encode = |out: &Path| {
        let run = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["encode", source.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .args(["--codec", "h264", "--height", "180", "--bitrate", "300", "--segment-duration", "1"])
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    encode(&a);
    encode(&b);
    for name in ["init.mp4", "000000.m4s", "000001.m4s", "000002.m4s"] {
        assert_eq!(std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap(), "{name}");
    }
}
