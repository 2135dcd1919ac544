//! The operator dashboard in a real browser: `tessera dev` runs a job while
//! `tests/browser/dashboard.mjs` (Playwright, headless Chromium) watches its
//! progress on `/`, then plays the finished job with the page's hls.js
//! player, switches renditions and reads the per-rendition report.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tessera_testkit::cached_fixture;
use tessera_testkit::dev::DevServer;

/// 320x180 H.264 + AAC, keyframe every second, 6 s: with 1 s segments and an
/// H.264 + AV1 ladder on one slot, a job that runs long enough to be watched.
fn source() -> PathBuf {
    let fixtures = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-fixtures");
    let recipe = "-f lavfi -i testsrc2=size=320x180:rate=30:duration=6 \
         -f lavfi -i sine=frequency=440:sample_rate=48000:duration=6 \
         -c:v libx264 -profile:v high -g 30 -keyint_min 30 -pix_fmt yuv420p -c:a aac -b:a 96k -shortest -f mp4";
    let args: Vec<&str> = recipe.split_whitespace().collect();
    cached_fixture(&fixtures, "180p-6s.mp4", &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_job_progress_and_plays_it_when_finished() {
    let dev = DevServer::start(Path::new(env!("CARGO_BIN_EXE_tessera")), &["--slots", "1"]);
    let http = reqwest::Client::new();
    let bytes = std::fs::read(source()).unwrap();
    let upload: Value =
        http.put(format!("{}/v1/uploads", dev.api)).body(bytes).send().await.unwrap().json().await.unwrap();
    let ladder = json!({"rungs": [
        {"codec": "h264", "height": 180, "bitrate_kbps": 400},
        {"codec": "h264", "height": 144, "bitrate_kbps": 200},
        {"codec": "av1", "height": 144, "bitrate_kbps": 150},
    ]});
    // The browser opens the page first and the job is submitted once it watches (its id is
    // chosen here), so even a fast run is seen in progress.
    let id = "dashboard-check";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/dashboard.mjs");
    let shot = dev.out.join("dashboard.png");
    let mut browser = Command::new("node")
        .arg(&script)
        .args([&format!("{}/", dev.api), id, "--timeout", "240", "--screenshot", shot.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/test.sh installs it)");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stderr = browser.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("page open") {
                let _ = ready_tx.send(());
            }
            text += &line;
            text.push('\n');
        }
        text
    });
    let opened = ready_rx.recv_timeout(Duration::from_secs(90));
    assert!(opened.is_ok(), "the dashboard did not open: {}", reader.join().unwrap_or_default());
    let request = json!({"id": id, "source": {"upload_id": upload["upload_id"]}, "codecs": ["h264", "av1"],
        "ladder": ladder, "segment_duration": 1});
    let job: Value =
        http.post(format!("{}/v1/jobs", dev.api)).json(&request).send().await.unwrap().json().await.unwrap();
    assert_eq!(job["id"], id, "{job}");
    let out = browser.wait_with_output().expect("the check ends");
    let stderr = reader.join().unwrap_or_default();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    assert!(
        out.status.success() && result["ok"] == true,
        "dashboard check failed:\n{stdout}\n{stderr}\n--- tessera dev ---\n{}",
        dev.log_text()
    );
    // What the browser saw, checked again here.
    assert_eq!(result["state"], "completed", "{result}");
    assert_eq!(result["progress"]["increased"], true, "{result}");
    assert!(result["workers"].as_u64() >= Some(1), "{result}");
    assert_eq!(result["player"]["levels"].as_array().map(Vec::len), Some(3), "three video rungs: {result}");
    assert_eq!(result["player"]["switched"]["height"], 144, "{result}");
    let rows = result["report"]["rows"].as_array().cloned().unwrap_or_default();
    for name in ["h264-180p", "h264-144p", "av1-144p"] {
        assert!(rows.iter().any(|r| r == name), "report row {name}: {result}");
    }
}
