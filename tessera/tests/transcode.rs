//! `tessera transcode` end to end on ffmpeg-made sources: every rendition
//! decodes in ffmpeg with the source's frames and duration, the manifests
//! open in ffprobe, PSNR is above its floor, runs are byte-identical, bad
//! input exits 2 without a finished-looking manifest, and real players in
//! headless Chromium play the H.264 and the AV1 ladders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_testkit::{cached_fixture, count_frames, ffmpeg_stderr, ffprobe_json, psnr_against_scaled};

/// PSNR floor of every video rung against the source scaled to its size
/// (measured with ffmpeg on our output; see the test for the figures).
const PSNR_FLOOR_DB: f64 = 32.0;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("transcode-fixtures")
}

/// An ffmpeg test pattern with a sine tone: H.264 High with 3 B-frames and a
/// keyframe every 2 s, AAC at `audio_kbps`.
fn x264_source(name: &str, size: &str, secs: u32, audio_kbps: u32) -> PathBuf {
    let recipe = format!(
        "-f lavfi -i testsrc2=size={size}:rate=30:duration={secs} \
         -f lavfi -i sine=frequency=440:sample_rate=48000:duration={secs} \
         -c:v libx264 -profile:v high -bf 3 -g 60 -keyint_min 60 -pix_fmt yuv420p \
         -c:a aac -b:a {audio_kbps}k -shortest -f mp4"
    );
    let args: Vec<&str> = recipe.split_whitespace().collect();
    cached_fixture(&fixtures(), name, &args)
}

/// A video-only clip of one lavfi graph (no spaces in it): x264 CRF 18, a keyframe every 2 s.
fn lavfi_clip(name: &str, graph: &str) -> PathBuf {
    let recipe = format!("-f lavfi -i {graph} -c:v libx264 -crf 18 -g 60 -pix_fmt yuv420p -f mp4");
    let args: Vec<&str> = recipe.split_whitespace().collect();
    cached_fixture(&fixtures(), name, &args)
}

/// 640x360, 5 s.
fn source_360p() -> PathBuf {
    x264_source("360p.mp4", "640x360", 5, 128)
}

/// 320x180, 4 s.
fn source_180p() -> PathBuf {
    x264_source("180p.mp4", "320x180", 4, 96)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tessera(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("run tessera");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn transcode(input: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["transcode", input.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = tessera(&args);
    assert_eq!(run.code, 0, "transcode failed:\n{}\n{}", run.stdout, run.stderr);
    run
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

fn rendition_names(out: &Path) -> Vec<String> {
    report(out)["renditions"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn every_rendition_decodes_with_the_source_frames_and_the_manifests_list_them() {
    let source = source_360p();
    let (source_frames, source_secs) = count_frames(&source, "v");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pkg");
    let run = transcode(&source, &out, &["--segment-duration", "2", "--workers", "2"]);
    assert!(run.stdout.contains("x realtime"), "{}", run.stdout);
    let names = rendition_names(&out);
    assert_eq!(names[..3], ["h264-360p", "h264-240p", "av1-360p"]);
    let audio = &names[3];
    assert!(audio.starts_with("aac-") && audio.ends_with('k'), "{names:?}");

    let report = report(&out);
    for r in report["renditions"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        let playlist = out.join(name).join("index.m3u8");
        let errors = ffmpeg_stderr(&["-v", "error", "-i", playlist.to_str().unwrap(), "-f", "null", "-"]);
        assert!(errors.trim().is_empty(), "{name} decodes with errors: {errors}");
        let text = std::fs::read_to_string(&playlist).unwrap();
        let extinf: Vec<f64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|l| l.trim_end_matches(',').parse().unwrap())
            .collect();
        assert_eq!(extinf.len(), 3, "{name}: 2 s segments of a 5 s source with 2 s GOPs");
        let target: f64 = text.lines().find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:")).unwrap().parse().unwrap();
        assert_eq!(target, extinf.iter().fold(0.0f64, |a, &b| a.max(b)).ceil(), "{name}");
        for tag in ["#EXT-X-VERSION:7", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MAP:URI=\"init.mp4\"", "#EXT-X-ENDLIST"] {
            assert!(text.contains(tag), "{name} lacks {tag}:\n{text}");
        }
        assert_eq!(r["segments"], 3);
        if name.starts_with("aac") {
            let (_, secs) = count_frames(&playlist, "a");
            assert!((secs - source_secs).abs() < 0.05, "{name}: {secs} s vs {source_secs} s");
            // The edit list skips the AAC encoder priming (1024 samples at 48 kHz here),
            // so the first audible sample plays at 0 with the first video frame.
            let probe = ffprobe_json(&[
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=start_time",
                playlist.to_str().unwrap(),
            ]);
            let start: f64 = probe["streams"][0]["start_time"].as_str().unwrap().parse().unwrap();
            assert!((start + 1024.0 / 48000.0).abs() < 0.001, "{name}: audio starts at {start} s");
            continue;
        }
        let (frames, secs) = count_frames(&playlist, "v");
        assert_eq!(frames, source_frames, "{name}: frame count");
        assert!((secs - source_secs).abs() <= 1.0 / 30.0 + 1e-6, "{name}: {secs} s vs {source_secs} s");
        let (w, h) = (r["width"].as_u64().unwrap() as u32, r["height"].as_u64().unwrap() as u32);
        let measured = psnr_against_scaled(&playlist, &source, w, h);
        let reported = r["psnr_db"].as_f64().unwrap();
        eprintln!("{name}: PSNR {measured:.2} dB by ffmpeg, {reported:.2} dB reported");
        assert!(measured > PSNR_FLOOR_DB, "{name}: PSNR {measured:.2} dB");
        // Our figure is against our own scaler's output; ffmpeg's Lanczos differs slightly.
        assert!((measured - reported).abs() < 2.0, "{name}: reported {reported:.2} dB, ffmpeg says {measured:.2} dB");
    }

    // The multivariant playlist: every video rendition with its attributes, audio as a group.
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains("#EXT-X-INDEPENDENT-SEGMENTS"), "{master}");
    let media = format!("#EXT-X-MEDIA:TYPE=AUDIO,URI=\"{audio}/index.m3u8\",GROUP-ID=\"audio\"");
    assert!(master.contains(&media), "{master}");
    let variants: Vec<&str> = master.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF:")).collect();
    assert_eq!(variants.len(), 3, "{master}");
    for v in &variants {
        for attr in [
            "BANDWIDTH=",
            "AVERAGE-BANDWIDTH=",
            "CODECS=",
            "RESOLUTION=",
            "FRAME-RATE=30",
            "AUDIO=\"audio\"",
            "VIDEO-RANGE=SDR",
        ] {
            assert!(v.contains(attr), "{v} lacks {attr}");
        }
    }
    // x264 (the default H.264 encoder): High profile, level 3.0.
    assert!(variants[0].contains("CODECS=\"avc1.64001E,mp4a.40.2\",RESOLUTION=640x360"), "{}", variants[0]);
    assert!(variants[2].contains("av01.0."), "{}", variants[2]);

    // ffprobe opens both manifests and sees every rendition.
    for manifest in ["master.m3u8", "manifest.mpd"] {
        let probe = ffprobe_json(&["-show_streams", out.join(manifest).to_str().unwrap()]);
        let mut sizes: Vec<String> = probe["streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["codec_type"] == "video")
            .map(|s| format!("{}:{}x{}", s["codec_name"].as_str().unwrap(), s["width"], s["height"]))
            .collect();
        sizes.sort();
        sizes.dedup();
        assert_eq!(sizes, ["av1:640x360", "h264:426x240", "h264:640x360"], "{manifest}");
        assert!(probe["streams"].as_array().unwrap().iter().any(|s| s["codec_name"] == "aac"), "{manifest}: no audio");
    }
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(mpd.matches("<AdaptationSet").count(), 4, "H.264, AV1, audio, H.264 trick mode: {mpd}");
    assert!(mpd.contains("type=\"static\"") && mpd.contains("<SegmentTimeline>"), "{mpd}");
    // The manifests say what the init segments say: BT.709.
    for cicp in ["ColourPrimaries", "TransferCharacteristics", "MatrixCoefficients"] {
        let property = format!("schemeIdUri=\"urn:mpeg:mpegB:cicp:{cicp}\" value=\"1\"");
        assert_eq!(mpd.matches(&property).count(), 3, "{cicp} on the video adaptation sets: {mpd}");
    }
}

/// Every file of a tree, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn two_runs_give_byte_identical_trees() {
    let source = source_180p();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    transcode(&source, &a, &["--segment-duration", "2", "--workers", "2"]);
    transcode(&source, &b, &["--segment-duration", "2", "--workers", "1"]);
    let (mut ta, mut tb) = (tree(&a), tree(&b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    assert!(ta.contains_key("h264-180p/000001.m4s") && ta.contains_key("av1-180p/init.mp4"), "{:?}", ta.keys());
    // report.json carries CPU times and how soon the upload played, the only things that differ between runs.
    let strip = |bytes: Vec<u8>| {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for r in v["renditions"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("encode_cpu_secs");
        }
        if let Some(t) = v.get_mut("thumbnails").and_then(serde_json::Value::as_object_mut) {
            t.remove("cpu_secs");
        }
        let timing = v.as_object_mut().unwrap().remove("timing").expect("report.json has the job's timing");
        assert_eq!(timing["first_rendition"], "h264-180p", "{timing}");
        let (playable, completed) = (timing["playable_after_secs"].as_f64(), timing["completed_after_secs"].as_f64());
        assert!(playable.unwrap() <= completed.unwrap() && completed.unwrap() > 0.0, "{timing}");
        v
    };
    let (ra, rb) = (ta.remove("report.json").unwrap(), tb.remove("report.json").unwrap());
    assert_eq!(strip(ra), strip(rb));
    for (path, bytes) in &ta {
        assert!(bytes == &tb[path], "{path} differs between runs");
    }
}

#[test]
fn bad_input_exits_2_and_leaves_no_finished_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let audio_only = cached_fixture(
        &fixtures(),
        "audio-only.m4a",
        &["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", "-f", "mp4"],
    );
    let too_wide = cached_fixture(
        &fixtures(),
        "too-wide.mp4",
        &["-f", "lavfi", "-i", "testsrc2=size=8192x16:rate=30:duration=0.1", "-c:v", "libx264", "-f", "mp4"],
    );
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video").unwrap();
    let good = std::fs::read(source_180p()).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    // A video sample entry no decoder knows: the source's avc1 entry renamed.
    let mut unknown_codec = good.clone();
    let stsd = unknown_codec.windows(4).position(|w| w == b"stsd").unwrap();
    let entry = stsd + unknown_codec[stsd..].windows(4).position(|w| w == b"avc1").unwrap();
    unknown_codec[entry..entry + 4].copy_from_slice(b"zzzz");
    let unknown = dir.path().join("unknown-codec.mp4");
    std::fs::write(&unknown, &unknown_codec).unwrap();
    let cases: [(&Path, &str); 5] = [
        (&unknown, "unsupported video codec 'none (fourcc 'zzzz')'"),
        (&audio_only, "no video track: found audio aac"),
        (&text, "not a media file: no container libavformat recognises"),
        (&truncated, "truncated or damaged MP4/MOV file"),
        (&too_wide, "video width 8192 exceeds the limit of 7680"),
    ];
    for (input, message) in cases {
        let out = dir.path().join("out");
        // A finished-looking package from an earlier run must not survive a failed one.
        std::fs::create_dir_all(&out).unwrap();
        for stale in ["master.m3u8", "manifest.mpd", "report.json"] {
            std::fs::write(out.join(stale), "stale").unwrap();
        }
        let run = tessera(&["transcode", input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{}: {}", input.display(), run.stderr);
        assert!(run.stderr.to_lowercase().contains(&message.to_lowercase()), "{}: {}", input.display(), run.stderr);
        for stale in ["master.m3u8", "manifest.mpd", "report.json"] {
            assert!(!out.join(stale).exists(), "{stale} left behind after {}", input.display());
        }
    }
    // A moov of traks nested 400 and 20,000 deep (a 3 KB file once overflowed the stack): exit 2, for probe too.
    for depth in [400, 20_000] {
        let nested = dir.path().join(format!("nested-{depth}.mp4"));
        std::fs::write(&nested, tessera_testkit::hostile::nested_trak_mp4(depth)).unwrap();
        let out = dir.path().join("nested-out");
        for args in [
            &["transcode", nested.to_str().unwrap(), "--out", out.to_str().unwrap()][..],
            &["probe", nested.to_str().unwrap()],
        ] {
            let run = tessera(args);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains("no video track"), "{args:?}: {}", run.stderr);
        }
    }
}

#[test]
fn an_s3_destination_gets_the_same_package() {
    let source = source_180p();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    transcode(&source, &local, &["--codecs", "h264", "--segment-duration", "2"]);
    let s3 = tessera_testkit::s3::S3Server::start();
    s3.create_bucket("media");
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", source.to_str().unwrap(), "--out", "s3://media/vod/clip1"])
        .args(["--codecs", "h264", "--segment-duration", "2"])
        .envs(s3.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Read the bucket back through object_store and compare with the local run.
    for (key, value) in s3.env() {
        std::env::set_var(key, value);
    }
    let store = tessera_core::Store::open("s3://media/vod/clip1").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keys = runtime.block_on(store.list("")).unwrap();
    let local_tree = tree(&local);
    let mut expected: Vec<&String> = local_tree.keys().collect();
    expected.sort();
    assert_eq!(keys.iter().collect::<Vec<_>>(), expected, "same layout under the prefix");
    for (key, bytes) in &local_tree {
        if key == "report.json" {
            continue;
        }
        let remote = runtime.block_on(store.get(key)).unwrap();
        assert!(remote.as_ref() == bytes.as_slice(), "{key} differs between the folder and S3");
    }
}

/// Plays a package in headless Chromium with hls.js or dash.js (tests/browser/play.mjs).
fn play(dir: &Path, manifest: &str, player: &str, sizes: &[(u32, u32)]) {
    play_with(dir, manifest, player, sizes, &[]);
}

/// [`play`] with more play.mjs options; returns its result.
fn play_with(dir: &Path, manifest: &str, player: &str, sizes: &[(u32, u32)], extra: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/play.mjs");
    let expect = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect::<Vec<_>>().join(",");
    let out = Command::new("node")
        .arg(&script)
        .args(["--dir", dir.to_str().unwrap(), "--manifest", manifest, "--player", player, "--expect", &expect])
        .args(["--seconds", "3", "--timeout", "60"])
        .args(extra)
        .output()
        .expect("node runs (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{player} could not play {manifest}:\n{stdout}\n{stderr}");
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("play.mjs JSON");
    assert_eq!(result["ok"], true, "{stdout}");
    assert!(result["currentTime"].as_f64().unwrap() >= 3.0, "{stdout}");
    result
}

fn browser_case(codec: &str) {
    let source = source_360p();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pkg");
    transcode(&source, &out, &["--codecs", codec, "--segment-duration", "2", "--workers", "2"]);
    let sizes: Vec<(u32, u32)> = report(&out)["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["width"].as_u64().unwrap() > 0)
        .map(|r| (r["width"].as_u64().unwrap() as u32, r["height"].as_u64().unwrap() as u32))
        .collect();
    assert!(!sizes.is_empty());
    play(&out, "master.m3u8", "hls", &sizes);
    play(&out, "manifest.mpd", "dash", &sizes);
}

#[test]
fn hls_js_and_dash_js_play_the_h264_ladder_in_chromium() {
    browser_case("h264");
}

#[test]
fn hls_js_and_dash_js_play_the_av1_ladder_in_chromium() {
    browser_case("av1");
}

/// Bits a report's video renditions spend per second, in all.
fn video_kbps(out: &Path) -> f64 {
    let report = report(out);
    report["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["width"].as_u64() != Some(0))
        .map(|r| r["average_bitrate_kbps"].as_f64().unwrap())
        .sum()
}

/// `--ladder auto`: a flat picture (slow gradients) gets a smaller ladder
/// than a noisy one of the same size: fewer rungs (the ones the rung below
/// shows as well are dropped) and fewer bits; the noisy one keeps the fixed
/// ladder's rungs and bitrates.
#[test]
fn a_per_title_ladder_is_smaller_for_a_flat_picture_than_for_a_noisy_one() {
    let flat = lavfi_clip("flat-360p.mp4", "gradients=s=640x360:rate=30:speed=0.02:duration=4");
    let noisy = lavfi_clip("noisy-360p.mp4", "testsrc2=size=640x360:rate=30:duration=4,noise=alls=30:allf=t+u");
    let dir = tempfile::tempdir().unwrap();
    let (flat_out, noisy_out, fixed_out) =
        (dir.path().join("flat"), dir.path().join("noisy"), dir.path().join("fixed"));
    let args = ["--ladder", "auto", "--segment-duration", "2"];
    transcode(&flat, &flat_out, &args);
    transcode(&noisy, &noisy_out, &args);
    transcode(&noisy, &fixed_out, &["--segment-duration", "2"]);
    let (flat_rungs, noisy_rungs) = (rendition_names(&flat_out), rendition_names(&noisy_out));
    assert!(flat_rungs.len() < noisy_rungs.len(), "flat {flat_rungs:?} vs noisy {noisy_rungs:?}");
    assert_eq!(noisy_rungs, rendition_names(&fixed_out), "the noisy picture needs every rung");
    let (flat_kbps, noisy_kbps) = (video_kbps(&flat_out), video_kbps(&noisy_out));
    assert!(flat_kbps * 4.0 < noisy_kbps, "flat {flat_kbps:.0} kbit/s vs noisy {noisy_kbps:.0} kbit/s");
    // What is left of the flat ladder still looks like the source.
    let flat_report = report(&flat_out);
    for r in flat_report["renditions"].as_array().unwrap().iter().filter(|r| r["width"].as_u64() != Some(0)) {
        assert!(r["ssim"].as_f64().unwrap() > 0.98, "{r}");
    }
}

/// A rung names its encoder; one this build lacks (here taken out as an
/// operator would) is refused before anything is encoded, naming it.
#[test]
fn rungs_name_their_encoder_and_a_missing_one_is_refused_up_front() {
    let source = source_180p();
    let dir = tempfile::tempdir().unwrap();
    let ladder = dir.path().join("ladder.json");
    std::fs::write(
        &ladder,
        r#"{"rungs":[{"codec":"h264","height":180,"bitrate_kbps":300,"encoder":"openh264"},
                    {"codec":"h264","height":144,"bitrate_kbps":200,"encoder":"x264","crf":26},
                    {"codec":"av1","height":180,"bitrate_kbps":250,"encoder":"rav1e"},
                    {"codec":"av1","height":144,"bitrate_kbps":150,"encoder":"svt-av1","crf":40}]}"#,
    )
    .unwrap();
    let out = dir.path().join("pkg");
    transcode(&source, &out, &["--ladder", ladder.to_str().unwrap(), "--segment-duration", "2"]);
    let report = report(&out);
    let codec = |name: &str| {
        report["renditions"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["codec"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(codec("h264-180p").starts_with("avc1.4D"), "openh264: Main profile (CABAC)");
    assert!(codec("h264-144p").starts_with("avc1.64"), "x264: High");
    for name in ["av1-180p", "av1-144p"] {
        assert!(codec(name).starts_with("av01.0."), "{name}");
        let playlist = out.join(name).join("index.m3u8");
        let (frames, _) = count_frames(&playlist, "v");
        assert_eq!(frames, 120, "{name}");
    }

    let refused = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", source.to_str().unwrap(), "--out", dir.path().join("no").to_str().unwrap()])
        .args(["--ladder", ladder.to_str().unwrap()])
        .env("TESSERA_DISABLE_ENCODERS", "x264")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("h264-144p") && stderr.contains("encoder x264 is not available here"), "{stderr}");
    assert!(!dir.path().join("no").join("master.m3u8").exists());
    let help = tessera(&["--help"]);
    assert!(help.stdout.contains("Video encoders in this build: x264 (h264)"), "{}", help.stdout);
}

/// Trick play: each H.264 rendition has an I-frame playlist listed in the
/// master (`EXT-X-I-FRAME-STREAM-INF`); every entry is a byte range of its segment that, after
/// init.mp4, decodes alone to exactly one keyframe at the segment's start. The
/// MPD's trick-mode AdaptationSet lists keyframe-only fragments holding the same
/// keyframes, and Shaka Player fast-forwards on both.
#[test]
fn trick_play_streams_hold_each_segments_keyframe_that_decodes_alone_and_shaka_plays_them() {
    let source = source_180p();
    let out = tempfile::tempdir().unwrap();
    transcode(&source, out.path(), &["--codecs", "h264,av1", "--segment-duration", "1"]);
    let master = std::fs::read_to_string(out.path().join("master.m3u8")).unwrap();
    assert!(
        master.contains("#EXT-X-I-FRAME-STREAM-INF:") && master.contains("URI=\"h264-180p/iframes.m3u8\""),
        "{master}"
    );
    assert!(!master.contains("av1-180p/iframes.m3u8"), "H.264 rungs only: {master}");
    let listed: Vec<String> = report(out.path())["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["iframe_playlist"].as_str().map(str::to_string))
        .collect();
    assert_eq!(listed, ["h264-180p/iframes.m3u8"], "report.json lists the I-frame playlists");
    let rendition = out.path().join("h264-180p");
    let playlist = std::fs::read_to_string(rendition.join("iframes.m3u8")).unwrap();
    assert!(playlist.contains("#EXT-X-I-FRAMES-ONLY") && playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    let init = std::fs::read(rendition.join("init.mp4")).unwrap();
    let mut entries = 0;
    // The first picture's time, per kind (ffmpeg shifts a fragment by its
    // most negative composition offset, which the keyframe alone lacks).
    let mut first_pts = [None, None];
    let mut lines = playlist.lines();
    while let Some(line) = lines.next() {
        let Some(range) = line.strip_prefix("#EXT-X-BYTERANGE:") else { continue };
        let (length, offset) = range.split_once('@').unwrap();
        let (length, offset): (usize, usize) = (length.parse().unwrap(), offset.parse().unwrap());
        let uri = lines.find(|l| !l.starts_with('#')).unwrap();
        assert_eq!(uri, format!("{entries:06}.m4s"), "{playlist}");
        let segment = std::fs::read(rendition.join(uri)).unwrap();
        assert!(offset + length < segment.len(), "the range is the keyframe, not the whole segment");
        let range = &segment[offset..offset + length];
        // The DASH trick-mode fragment of the segment: the same keyframe, alone.
        let key_fragment = std::fs::read(rendition.join(format!("{entries:06}.key.m4s"))).unwrap();
        for (kind, (what, bytes)) in
            [("I-frame playlist entry", range), ("trick-mode fragment", key_fragment.as_slice())]
                .into_iter()
                .enumerate()
        {
            let alone = out.path().join("alone.mp4");
            std::fs::write(&alone, [init.as_slice(), bytes].concat()).unwrap();
            let frames = ffprobe_json(&[
                "-select_streams",
                "v:0",
                "-show_entries",
                "frame=key_frame,pict_type,pts_time,pkt_size",
                alone.to_str().unwrap(),
            ]);
            let frames = frames["frames"].as_array().unwrap();
            assert_eq!(frames.len(), 1, "{what} {entries}: {frames:?}");
            assert_eq!((frames[0]["key_frame"].as_i64(), frames[0]["pict_type"].as_str()), (Some(1), Some("I")));
            let pts: f64 = frames[0]["pts_time"].as_str().unwrap().parse().unwrap();
            let first = *first_pts[kind].get_or_insert(pts);
            assert!(
                (pts - first - entries as f64).abs() < 0.02,
                "{what} {entries} is at {pts} s, entry 0 at {first} s"
            );
            // Both end with the keyframe's bytes.
            let size: usize = frames[0]["pkt_size"].as_str().unwrap().parse().unwrap();
            assert_eq!(key_fragment[key_fragment.len() - size..], range[length - size..], "{what} {entries}");
        }
        assert!(key_fragment.len() < segment.len(), "the trick-mode fragment is the keyframe alone");
        entries += 1;
    }
    assert_eq!(entries, 4, "one entry per 1 s segment of the 4 s source: {playlist}");

    // DASH: a trick-mode AdaptationSet for the H.264 set (id 0), over the keyframe-only fragments.
    let mpd = std::fs::read_to_string(out.path().join("manifest.mpd")).unwrap();
    assert!(
        mpd.contains(r#"<EssentialProperty schemeIdUri="http://dashif.org/guidelines/trickmode" value="0"/>"#),
        "{mpd}"
    );
    assert!(
        mpd.contains(r#"id="h264-180p-trick""#) && mpd.contains(r#"media="h264-180p/$Number%06d$.key.m4s""#),
        "{mpd}"
    );
    assert!(!mpd.contains("av1-180p-trick") && !out.path().join("av1-180p/000000.key.m4s").exists(), "{mpd}");
    let trick: Vec<String> = report(out.path())["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dash_trick_mode"] == true)
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(trick, ["h264-180p"], "report.json says which renditions have DASH trick mode");

    // Shaka Player fast-forwards at 4x on the I-frame playlist (HLS) and on the trick-mode set (DASH).
    for (manifest, trick_request) in [("master.m3u8", "byte range of an I-frame entry"), ("manifest.mpd", ".key.m4s")] {
        let result = play_with(out.path(), manifest, "shaka", &[(320, 180)], &["--trick-play", "4"]);
        let requests: Vec<(String, Option<String>)> = result["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["trick"] == true)
            .map(|r| (r["path"].as_str().unwrap().to_string(), r["range"].as_str().map(str::to_string)))
            .collect();
        let fetched = requests.iter().any(|(path, range)| {
            if manifest.ends_with(".mpd") {
                path.starts_with("h264-180p/") && path.ends_with(".key.m4s")
            } else {
                path.starts_with("h264-180p/0")
                    && range.as_deref().is_some_and(|r| playlist_ranges(&playlist).iter().any(|p| p == r))
            }
        });
        assert!(fetched, "{manifest}: no {trick_request} fetched in trick play: {requests:?}\n{result}");
        assert_eq!(result["trickPlayRate"], 4.0, "{result}");
    }
}

/// The HTTP `Range` values of an I-frame playlist's entries (`bytes=first-last`).
fn playlist_ranges(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
        .map(|range| {
            let (length, offset) = range.split_once('@').unwrap();
            let (length, offset): (u64, u64) = (length.parse().unwrap(), offset.parse().unwrap());
            format!("bytes={offset}-{}", offset + length - 1)
        })
        .collect()
}

/// Thumbnails: a poster from the middle at the picture's size, and one
/// thumbnail per interval in per-segment JPEG sprites that the WebVTT track
/// lists one cue each, in order, at the interval's times; each thumbnail is
/// the source's picture at its time (PSNR against ffmpeg's own frame), and
/// report.json lists them.
#[test]
fn thumbnails_and_poster_match_their_track_and_the_source() {
    let source = source_180p();
    let out = tempfile::tempdir().unwrap();
    transcode(&source, out.path(), &["--codecs", "h264", "--segment-duration", "2", "--thumbnail-interval", "1"]);
    let probe = |path: &Path| {
        let v = ffprobe_json(&["-show_entries", "stream=codec_name,width,height", path.to_str().unwrap()]);
        let s = &v["streams"][0];
        (s["codec_name"].as_str().unwrap().to_string(), s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap())
    };
    assert_eq!(probe(&out.path().join("poster.jpg")), ("mjpeg".to_string(), 320, 180));
    let vtt = std::fs::read_to_string(out.path().join("thumbnails.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let cues: Vec<(&str, &str)> = vtt
        .split("\n\n")
        .skip(1)
        .map(|cue| {
            let (times, target) = cue.trim().split_once('\n').unwrap();
            (times, target)
        })
        .collect();
    let times: Vec<&str> = cues.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        [
            "00:00:00.000 --> 00:00:01.000",
            "00:00:01.000 --> 00:00:02.000",
            "00:00:02.000 --> 00:00:03.000",
            "00:00:03.000 --> 00:00:04.000"
        ],
        "{vtt}"
    );
    for (i, (_, target)) in cues.iter().enumerate() {
        let (file, xywh) = target.split_once("#xywh=").unwrap();
        let xywh: Vec<u64> = xywh.split(',').map(|n| n.parse().unwrap()).collect();
        assert_eq!((xywh[2], xywh[3]), (160, 90), "{target}");
        let sprite = out.path().join(file);
        let (codec, width, height) = probe(&sprite);
        assert_eq!(codec, "mjpeg");
        assert!(xywh[0] + xywh[2] <= width && height == 90, "{target} outside its {width}x{height} sprite");
        // The tile is the source's picture at the cue's start.
        let tile = out.path().join(format!("tile-{i}.png"));
        let reference = out.path().join(format!("source-{i}.png"));
        let crop = format!("crop=160:90:{}:0", xywh[0]);
        tessera_testkit::ffmpeg(&["-y", "-i", sprite.to_str().unwrap(), "-vf", &crop, tile.to_str().unwrap()]);
        let at = i.to_string();
        let scale = "scale=160:90:flags=bicubic";
        let source_arg = source.to_str().unwrap();
        tessera_testkit::ffmpeg(&[
            "-y",
            "-ss",
            &at,
            "-i",
            source_arg,
            "-frames:v",
            "1",
            "-vf",
            scale,
            reference.to_str().unwrap(),
        ]);
        let psnr = psnr_against_scaled(&tile, &reference, 160, 90);
        // About 24 dB against its own time at 160x90 (JPEG of a bicubic downscale), 13 against a neighbour's.
        assert!(psnr > 20.0, "thumbnail {i} is not the source at {i} s: PSNR {psnr:.1} dB");
    }
    let sprites: Vec<_> = std::fs::read_dir(out.path().join("thumbnails")).unwrap().collect();
    assert_eq!(sprites.len(), 2, "one sprite per 2 s segment");
    let thumbnails = &report(out.path())["thumbnails"];
    assert_eq!(thumbnails["count"], 4, "{thumbnails}");
    assert_eq!(
        (thumbnails["poster"].as_str(), thumbnails["track"].as_str()),
        (Some("poster.jpg"), Some("thumbnails.vtt"))
    );
}

/// 320x180, 4 s, with two audio tracks: English (default, a 440 Hz tone at
/// ffmpeg's level) and French (880 Hz, 12 dB quieter).
fn two_languages() -> PathBuf {
    cached_fixture(
        &fixtures(),
        "two-languages.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=880:sample_rate=48000:duration=4,volume=0.25",
            "-map",
            "0",
            "-map",
            "1",
            "-map",
            "2",
            "-c:v",
            "libx264",
            "-g",
            "30",
            "-c:a",
            "aac",
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=fra",
            "-disposition:a:0",
            "default",
            "-disposition:a:1",
            "0",
            "-f",
            "mp4",
        ],
    )
}

/// Mean volume of a file's audio, dB.
fn mean_volume(path: &Path) -> f64 {
    let log = ffmpeg_stderr(&["-i", path.to_str().unwrap(), "-af", "volumedetect", "-f", "null", "-"]);
    let line = log.lines().find(|l| l.contains("mean_volume:")).expect("volumedetect output");
    line.split("mean_volume:").nth(1).unwrap().trim().trim_end_matches(" dB").parse().unwrap()
}

/// Every audio language becomes an audio rendition with its language (HLS
/// `EXT-X-MEDIA` in one group, DASH an AdaptationSet each), English the
/// default as the source marks it; each holds its own track; hls.js and
/// dash.js list both and switch to French; `--audio-languages` keeps some,
/// and one the source lacks fails with the languages it has.
#[test]
fn every_audio_language_becomes_a_rendition_players_list_and_switch_to() {
    let source = two_languages();
    let out = tempfile::tempdir().unwrap();
    let pkg = out.path().join("pkg");
    transcode(&source, &pkg, &["--codecs", "h264", "--segment-duration", "1"]);
    let master = std::fs::read_to_string(pkg.join("master.m3u8")).unwrap();
    let media: Vec<&str> = master.lines().filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO")).collect();
    assert_eq!(media.len(), 2, "{master}");
    assert!(media[0].contains("LANGUAGE=\"eng\"") && media[0].contains("DEFAULT=YES"), "{master}");
    assert!(media[1].contains("LANGUAGE=\"fra\"") && !media[1].contains("DEFAULT=YES"), "{master}");
    let mpd = std::fs::read_to_string(pkg.join("manifest.mpd")).unwrap();
    assert!(mpd.contains(r#"contentType="audio" lang="eng""#) || mpd.contains(r#"lang="eng""#), "{mpd}");
    assert!(mpd.contains(r#"lang="fra""#) && mpd.contains(r#"value="alternate""#), "{mpd}");
    // Each rendition is its own track: the French one is the quieter tone, and both last the video.
    let names = rendition_names(&pkg);
    let audio: Vec<&String> = names.iter().filter(|n| n.starts_with("aac")).collect();
    assert_eq!(audio.len(), 2, "{names:?}");
    let volume = |name: &str| mean_volume(&pkg.join(name).join("index.m3u8"));
    let (english, french) = (volume(audio[0]), volume(audio[1]));
    assert!((english - french - 12.0).abs() < 2.0, "English {english:.1} dB, French {french:.1} dB");
    for name in &audio {
        let (_, secs) = count_frames(&pkg.join(name.as_str()).join("index.m3u8"), "a");
        assert!((secs - 4.0).abs() < 0.1, "{name} lasts {secs} s");
    }
    for (player, manifest) in [("hls", "master.m3u8"), ("dash", "manifest.mpd")] {
        let result = play_with(&pkg, manifest, player, &[(320, 180)], &["--switch-audio"]);
        let langs: Vec<&str> =
            result["audioTracks"].as_array().unwrap().iter().filter_map(|t| t["lang"].as_str()).collect();
        assert!(langs.len() == 2 && langs[0].starts_with("en") && langs[1].starts_with("fr"), "{player}: {result}");
        assert!(
            result["audioTrack"].as_str().unwrap_or_default().starts_with("fr"),
            "{player} did not switch: {result}"
        );
    }
    // Only French.
    let french_only = out.path().join("fra");
    transcode(&source, &french_only, &["--codecs", "h264", "--segment-duration", "1", "--audio-languages", "fra"]);
    let master = std::fs::read_to_string(french_only.join("master.m3u8")).unwrap();
    assert_eq!(master.matches("TYPE=AUDIO").count(), 1, "{master}");
    assert!(master.contains("LANGUAGE=\"fra\"") && master.contains("DEFAULT=YES"), "{master}");
    // A language the source lacks.
    let missing = out.path().join("deu");
    let args = ["transcode", source.to_str().unwrap(), "--out", missing.to_str().unwrap(), "--audio-languages", "deu"];
    let run = tessera(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no audio track in deu (the source's tracks: eng, fra)"), "{}", run.stderr);
}
