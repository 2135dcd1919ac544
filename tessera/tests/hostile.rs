//! `tessera dev` against a hostile or careless client (issue 13): an upload of
//! boxes nested 20,000 deep fails its job with the reason while a good job
//! beside it completes and its loopback webhook is delivered (dev allows
//! loopback; the metadata address is refused); the control API answers no
//! CORS and wants JSON, while the served files stay readable cross-origin;
//! a job cannot take another's output prefix.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tessera_testkit::dev::DevServer;

fn source() -> PathBuf {
    tessera_testkit::av_clip_180p(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-fixtures"), 2)
}

async fn upload(http: &reqwest::Client, dev: &DevServer, bytes: Vec<u8>) -> String {
    let answer: Value =
        http.put(format!("{}/v1/uploads", dev.api)).body(bytes).send().await.unwrap().json().await.unwrap();
    answer["upload_id"].as_str().unwrap().to_string()
}

async fn post(http: &reqwest::Client, dev: &DevServer, request: Value) -> (u16, Value) {
    let response = http.post(format!("{}/v1/jobs", dev.api)).json(&request).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn wait_for(http: &reqwest::Client, dev: &DevServer, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job: Value =
            http.get(format!("{}/v1/jobs/{id}", dev.api)).send().await.unwrap().json().await.unwrap_or(Value::Null);
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} stuck: {job}\n{}", dev.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_client_fails_only_its_own_job() {
    let dev = DevServer::start(Path::new(env!("CARGO_BIN_EXE_tessera")), &["--slots", "1"]);
    let http = reqwest::Client::new();

    // A webhook receiver on loopback.
    let (hook_tx, mut hook_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let tx = hook_tx.clone();
            async move {
                let _ = tx.send(body.to_vec());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let bad = upload(&http, &dev, tessera_testkit::hostile::nested_trak_mp4(20_000)).await;
    let good = upload(&http, &dev, std::fs::read(source()).unwrap()).await;
    let (status, refused) = post(
        &http,
        &dev,
        json!({"source": {"upload_id": good}, "webhook_url": "http://169.254.169.254/latest/meta-data/"}),
    )
    .await;
    assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("invalid_webhook")), "{refused}");
    let (status, bad_job) = post(&http, &dev, json!({"source": {"upload_id": bad}})).await;
    assert_eq!(status, 201, "{bad_job}");
    let (status, good_job) =
        post(&http, &dev, json!({"source": {"upload_id": good}, "segment_duration": 1, "webhook_url": hook_url})).await;
    assert_eq!(status, 201, "{good_job}");
    let (bad_id, good_id) = (bad_job["id"].as_str().unwrap(), good_job["id"].as_str().unwrap());

    let failed = wait_for(&http, &dev, bad_id, |j| j["state"] == "failed").await;
    let reason = failed["error"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no video track"), "the job names the problem: {failed}");
    wait_for(&http, &dev, good_id, |j| j["state"] == "completed").await;
    let body = tokio::time::timeout(Duration::from_secs(30), hook_rx.recv()).await.unwrap().unwrap();
    let hook: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((hook["job"].as_str(), hook["event"].as_str()), (Some(good_id), Some("job.completed")));

    // Another job cannot write into the finished one's outputs, nor around them.
    let prefix = good_job["output_prefix"].as_str().unwrap().to_string();
    let (status, body) =
        post(&http, &dev, json!({"source": {"upload_id": good}, "output_prefix": "shows/s1/e1"})).await;
    assert_eq!(status, 201, "{body}");
    for taken in [prefix.clone(), format!("{prefix}/x"), "shows/s1".into(), "shows/s1/e1/x".into()] {
        let (status, body) = post(&http, &dev, json!({"source": {"upload_id": good}, "output_prefix": taken})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("output_prefix_taken")), "{taken}: {body}");
    }
    // Nor claim the folder every default prefix is in.
    let (status, body) = post(&http, &dev, json!({"source": {"upload_id": good}, "output_prefix": "outputs"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_output_prefix")), "{body}");
    let (status, body) =
        post(&http, &dev, json!({"source": {"upload_id": good}, "output_prefix": "p".repeat(512)})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_output_prefix")), "{body}");

    // The control API: JSON only, no CORS; the files: readable from any origin.
    let form = http
        .post(format!("{}/v1/jobs", dev.api))
        .header("content-type", "text/plain")
        .body(json!({"source": {"upload_id": good}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let origin = "http://elsewhere.example";
    let api = http.get(format!("{}/v1/jobs", dev.api)).header("origin", origin).send().await.unwrap();
    assert_eq!(api.status(), 200);
    assert!(api.headers().get("access-control-allow-origin").is_none(), "no CORS on the control API");
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/v1/jobs", dev.api))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "no CORS preflight on the control API");
    let master =
        http.get(format!("{}/files/{prefix}/master.m3u8", dev.api)).header("origin", origin).send().await.unwrap();
    assert_eq!(master.status(), 200);
    assert_eq!(master.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"));
    assert_eq!(http.get(format!("{}/healthz", dev.api)).send().await.unwrap().status(), 200);
}
