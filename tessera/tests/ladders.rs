//! Ladders over the API (issue 14): `"ladder": "auto"` runs a per-title job
//! to the end; rungs naming an encoder, a capped quality or an encoder
//! that cannot take one are checked at submission with a 400 naming the
//! rung; live channels refuse a per-title ladder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tessera_testkit::dev::DevServer;

fn source() -> PathBuf {
    tessera_testkit::av_clip_180p(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("ladder-fixtures"), 2)
}

async fn post(http: &reqwest::Client, url: String, request: Value) -> (u16, Value) {
    let response = http.post(url).json(&request).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ladders_are_checked_at_submission_and_auto_runs_per_title() {
    let dev = DevServer::start(Path::new(env!("CARGO_BIN_EXE_tessera")), &["--slots", "2"]);
    let http = reqwest::Client::new();
    let upload: Value = http
        .put(format!("{}/v1/uploads", dev.api))
        .body(std::fs::read(source()).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = upload["upload_id"].as_str().unwrap().to_string();
    let jobs = format!("{}/v1/jobs", dev.api);

    let rung = |extra: Value| {
        let mut rung = json!({"codec": "h264", "height": 180, "bitrate_kbps": 300});
        rung.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"rungs": [rung]})
    };
    // Malformed JSON is an invalid request; a well-formed ladder this build cannot run is an invalid ladder.
    let refusals = [
        (rung(json!({"encoder": "x265"})), "invalid_request", "unknown encoder 'x265'"),
        (json!("fixed"), "invalid_request", "expected \"auto\" or a ladder object"),
        (rung(json!({"encoder": "svt-av1"})), "invalid_ladder", "svt-av1 encodes av1, not h264"),
        (
            rung(json!({"encoder": "openh264", "crf": 23})),
            "invalid_ladder",
            "h264-180p: openh264 has no capped quality mode",
        ),
        (rung(json!({"crf": 52})), "invalid_ladder", "crf 52 is outside x264's 0..=51"),
    ];
    for (ladder, code, reason) in refusals {
        let (status, body) =
            post(&http, jobs.clone(), json!({"source": {"upload_id": upload}, "ladder": ladder})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{ladder}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(reason), "{ladder}: {body}");
    }
    let (status, body) = post(&http, format!("{}/v1/live", dev.api), json!({"ladder": "auto"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_ladder")), "{body}");

    let (status, body) = post(
        &http,
        jobs.clone(),
        json!({"source": {"upload_id": upload}, "ladder": "auto", "codecs": ["h264", "av1"], "segment_duration": 1}),
    )
    .await;
    assert!(status == 201 || status == 202, "{status}: {body}");
    let id = body["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job: Value = http.get(format!("{jobs}/{id}")).send().await.unwrap().json().await.unwrap_or(Value::Null);
        if job["state"] == "completed" || job["state"] == "failed" {
            break job;
        }
        assert!(Instant::now() < deadline, "job stuck: {job}\n{}", dev.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["state"], "completed", "{job}\n{}", dev.log_text());
    let names: Vec<&str> = job["renditions"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"h264-180p") && names.contains(&"av1-180p"), "{names:?}");
    assert!(dev.log_text().contains("per-title ladder"), "{}", dev.log_text());
}
