//! The cluster end to end: `tessera coordinator`, `worker` and `packager`
//! as separate processes on a real nats-server and a real S3 API server
//! (moto), driven through the HTTP API, with processes killed and restarted
//! under them. Each test owns its servers (free ports, own folders).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tessera_testkit::nats::NatsServer;
use tessera_testkit::s3::S3Server;
use tessera_testkit::{cached_fixture, count_frames, free_port};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-fixtures")
}

/// 320x180 H.264 High (B-frames) + AAC, keyframe every 2 s, `secs` long.
fn source(secs: u32) -> PathBuf {
    let recipe = format!(
        "-f lavfi -i testsrc2=size=320x180:rate=30:duration={secs} \
         -f lavfi -i sine=frequency=440:sample_rate=48000:duration={secs} \
         -c:v libx264 -profile:v high -bf 3 -g 60 -keyint_min 60 -pix_fmt yuv420p \
         -c:a aac -b:a 96k -shortest -f mp4"
    );
    let args: Vec<&str> = recipe.split_whitespace().collect();
    cached_fixture(&fixtures(), &format!("180p-{secs}s.mp4"), &args)
}

const BUCKET: &str = "media";
const STORE: &str = "s3://media/tessera";

/// Servers, service processes and a client for the API.
struct Cluster {
    nats: NatsServer,
    s3: S3Server,
    logs: tempfile::TempDir,
    port: u16,
    rtmp_port: u16,
    srt_port: u16,
    packager_ops_port: u16,
    coordinator: Option<Child>,
    coordinator_args: Vec<String>,
    workers: Vec<Child>,
    packager: Option<Child>,
    token: Option<String>,
    http: reqwest::Client,
    spawned: usize,
    /// Extra environment of every process.
    env: Vec<(String, String)>,
}

impl Cluster {
    /// Servers plus a coordinator (with `coordinator_args`) and a packager; no workers yet.
    async fn start(coordinator_args: &[&str]) -> Self {
        Self::start_with(coordinator_args, &[]).await
    }

    /// [`Cluster::start`] with extra environment for every process.
    async fn start_with(coordinator_args: &[&str], env: &[(&str, &str)]) -> Self {
        let s3 = S3Server::start();
        s3.create_bucket(BUCKET);
        let mut cluster = Self {
            nats: NatsServer::start(),
            s3,
            logs: tempfile::tempdir().unwrap(),
            port: free_port(),
            rtmp_port: free_port(),
            srt_port: tessera_testkit::free_udp_port(),
            packager_ops_port: free_port(),
            coordinator: None,
            coordinator_args: coordinator_args.iter().map(|s| s.to_string()).collect(),
            workers: Vec::new(),
            packager: None,
            token: None,
            http: reqwest::Client::new(),
            spawned: 0,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        cluster.start_coordinator().await;
        let ops = format!("127.0.0.1:{}", cluster.packager_ops_port);
        cluster.packager = Some(cluster.spawn("packager", &["packager", "--listen", &ops]));
        cluster
    }

    fn spawn(&mut self, name: &str, args: &[&str]) -> Child {
        self.spawned += 1;
        let log = self.log_path(&format!("{name}-{}", self.spawned));
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .env("TESSERA_NATS", self.nats.url())
            .env("TESSERA_STORE", STORE)
            .env("TESSERA_LOG", "info,tessera_worker=debug")
            .envs(self.s3.env())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start tessera")
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    /// Every log so far, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        let mut entries: Vec<_> = std::fs::read_dir(self.logs.path()).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: String =
                text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            out += &format!("\n--- {} ---\n{tail}", entry.file_name().to_string_lossy());
        }
        out
    }

    async fn start_coordinator(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let rtmp = format!("127.0.0.1:{}", self.rtmp_port);
        let srt = format!("127.0.0.1:{}", self.srt_port);
        let mut args =
            vec!["coordinator".to_string(), "--listen".into(), listen, "--rtmp".into(), rtmp, "--srt".into(), srt];
        args.extend(self.coordinator_args.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.coordinator = Some(self.spawn("coordinator", &args));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self.http.get(self.url("/readyz")).send().await.map(|r| r.status().is_success());
            if ready.unwrap_or(false) {
                return;
            }
            assert!(Instant::now() < deadline, "coordinator not ready within 30 s{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn add_worker(&mut self, extra: &[&str]) {
        self.add_worker_with_slots(1, extra);
    }

    fn add_worker_with_slots(&mut self, slots: usize, extra: &[&str]) {
        let slots = slots.to_string();
        let mut args = vec!["worker", "--slots", &slots, "--ack-wait", "3", "--drain-timeout", "2"];
        args.extend_from_slice(extra);
        let worker = self.spawn("worker", &args);
        self.workers.push(worker);
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("API reachable");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn upload(&self, file: &Path) -> String {
        let bytes = std::fs::read(file).unwrap();
        let (status, body) = self.call(self.request(reqwest::Method::PUT, "/v1/uploads").body(bytes)).await;
        assert_eq!(status, 201, "{body}");
        body["upload_id"].as_str().unwrap().to_string()
    }

    async fn submit(&self, request: Value) -> String {
        let (status, body) = self.call(self.request(reqwest::Method::POST, "/v1/jobs").json(&request)).await;
        assert_eq!(status, 201, "{body}{}", self.logs());
        body["id"].as_str().unwrap().to_string()
    }

    async fn job(&self, id: &str) -> Value {
        let (status, body) = self.call(self.request(reqwest::Method::GET, &format!("/v1/jobs/{id}"))).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls until `done(job)` holds.
    async fn wait_for(&self, id: &str, what: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            // A coordinator may be down for a moment: treat connection errors as "not yet".
            if let Ok(response) = self.request(reqwest::Method::GET, &format!("/v1/jobs/{id}")).send().await {
                if let Ok(job) = response.json::<Value>().await {
                    if done(&job) {
                        return job;
                    }
                    if job["state"] == "failed" && what != "failed" {
                        panic!("job {id} failed while waiting for {what}: {job}{}", self.logs());
                    }
                }
            }
            assert!(Instant::now() < deadline, "job {id}: no {what} within {timeout:?}{}", self.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        self.wait_for(id, state, timeout, |job| job["state"] == state).await
    }

    /// Creates an H.264 channel with 2 s segments: (its id, its RTMP URL, its 180p playlist's key).
    async fn create_channel(&self) -> (String, String, String) {
        self.create_channel_with(json!({"codecs": ["h264"], "segment_duration": 2})).await
    }

    /// A channel made with `body`: its id, RTMP URL and 180p playlist key.
    async fn create_channel_with(&self, body: Value) -> (String, String, String) {
        let request = self.request(reqwest::Method::POST, "/v1/live").json(&body);
        let (status, channel) = self.call(request).await;
        assert_eq!(status, 201, "{channel}");
        let id = channel["id"].as_str().unwrap().to_string();
        let url = channel["rtmp_url"].as_str().unwrap().to_string();
        let playlist = format!("live/{id}/h264-180p/index.m3u8");
        (id, url, playlist)
    }

    /// Uploads `input`, submits it for an H.264 + AV1 ladder in 1 s segments,
    /// and waits for its first finished task.
    async fn start_two_codec_job(&self, input: &Path) -> String {
        let upload = self.upload(input).await;
        let job = self
            .submit(json!({"source": {"upload_id": upload}, "codecs": ["h264", "av1"], "segment_duration": 1}))
            .await;
        self.wait_for(&job, "a done task", Duration::from_secs(60), |j| j["progress"]["done"].as_u64() >= Some(1))
            .await;
        job
    }

    /// A completed job's package is `tessera transcode`'s on the same input (H.264 + AV1 ladder).
    async fn assert_matches_transcode(&self, done: &Value, input: &Path, segment_duration: &str) {
        let package = self.tree(done["output_prefix"].as_str().unwrap()).await;
        let local = transcode_tree(input, &["--codecs", "h264,av1", "--segment-duration", segment_duration]).await;
        assert_same_package(&package, &local);
    }

    /// Waits for an ended job's scratch source segments to be removed.
    async fn assert_sources_removed(&self, job: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.tree(&format!("sources/{job}")).await.is_empty() {
            assert!(Instant::now() < deadline, "source segments left behind");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every object under `prefix`, by key relative to it.
    async fn tree(&self, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        for (key, value) in self.s3.env() {
            std::env::set_var(key, value);
        }
        // A test may run the services on another store (TESSERA_STORE in its environment).
        let store_url = self.env.iter().find(|(k, _)| k == "TESSERA_STORE").map_or(STORE, |(_, v)| v.as_str());
        let store = tessera_core::Store::open(&format!("{store_url}/{prefix}")).unwrap();
        let mut out = BTreeMap::new();
        for key in store.list("").await.unwrap() {
            out.insert(key.clone(), store.get(&key).await.unwrap().to_vec());
        }
        out
    }

    /// Downloads the package under `prefix` to a folder (for ffmpeg).
    async fn download(&self, prefix: &str, dir: &Path) {
        for (key, bytes) in self.tree(prefix).await {
            let path = dir.join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.workers.iter_mut().chain(self.coordinator.as_mut()).chain(self.packager.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for a process to exit, returning its exit code.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a log contains `needle`.
async fn wait_log(path: &Path, needle: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !std::fs::read_to_string(path).unwrap_or_default().contains(needle) {
        assert!(Instant::now() < deadline, "{} never logged '{needle}'", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `tessera transcode` of the same input, as a tree.
async fn transcode_tree(input: &Path, args: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["transcode", input.to_str().unwrap(), "--out", dir.path().to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = tessera_core::Store::local_dir(dir.path()).unwrap();
    let mut tree = BTreeMap::new();
    for key in store.list("").await.unwrap() {
        tree.insert(key.clone(), store.get(&key).await.unwrap().to_vec());
    }
    tree
}

/// Two trees are the same package: same keys, same bytes (report.json less CPU times and timing).
fn assert_same_package(cluster: &BTreeMap<String, Vec<u8>>, local: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(cluster.keys().collect::<Vec<_>>(), local.keys().collect::<Vec<_>>());
    for (key, bytes) in cluster {
        if key == "report.json" {
            let strip = |b: &[u8]| {
                let mut v: Value = serde_json::from_slice(b).unwrap();
                for r in v["renditions"].as_array_mut().unwrap() {
                    r.as_object_mut().unwrap().remove("encode_cpu_secs");
                }
                v.as_object_mut().unwrap().remove("timing");
                if let Some(t) = v.get_mut("thumbnails").and_then(Value::as_object_mut) {
                    t.remove("cpu_secs");
                }
                v
            };
            assert_eq!(strip(bytes), strip(&local[key]));
        } else {
            assert!(bytes == &local[key], "{key} differs between the cluster and tessera transcode");
        }
    }
}

/// A cluster with one worker that has started a task of an H.264 + AV1 job
/// in 2 s segments: (the cluster, the job, its input).
async fn a_worker_mid_task() -> (Cluster, String, PathBuf) {
    let input = source(4);
    let mut cluster = Cluster::start(&[]).await;
    cluster.add_worker(&[]);
    let upload = cluster.upload(&input).await;
    let job = cluster
        .submit(json!({"source": {"upload_id": upload}, "codecs": ["h264", "av1"], "segment_duration": 2}))
        .await;
    wait_log(&cluster.log_path("worker-3"), "task started", Duration::from_secs(60)).await;
    (cluster, job, input)
}

/// One job through coordinator + two workers + packager; one worker is
/// killed (SIGKILL) in the middle of a task. The job completes with output
/// byte-identical to `tessera transcode` of the same input and ladder, so
/// no segment is missing or listed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_costs_nothing_and_output_matches_transcode() {
    let (mut cluster, job, input) = a_worker_mid_task().await;
    // The first worker has started an (AV1, the longest) task: kill it mid-task.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut victim = cluster.workers.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    cluster.add_worker(&[]);
    cluster.add_worker(&[]);
    let done = cluster.wait_state(&job, "completed", Duration::from_secs(180)).await;
    assert_eq!(done["progress"]["done"], done["progress"]["total"]);
    assert_eq!(done["progress"]["total"], 8, "2 segments x (h264-180p, av1-180p, aac, thumbnails): {done}");
    cluster.assert_matches_transcode(&done, &input, "2").await;
    // The job's scratch source segments are removed once it ended.
    cluster.assert_sources_removed(&job, Duration::from_secs(10)).await;
}

/// Watch while it transcodes. With only an H.264 + AAC worker, an H.264 +
/// AV1 job's first rendition (h264-180p) and its audio are published while
/// the AV1 rung waits: the master playlist lists h264-180p alone, the job
/// API says when it became playable and where to play it, and the
/// rendition's playlist grows to its final VOD form, which decodes to every
/// frame. Once an AV1 worker joins, the job completes, the master lists both
/// rungs at the same URL, and the package is `tessera transcode`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_plays_before_its_whole_ladder_is_encoded() {
    let input = source(4);
    let mut cluster = Cluster::start(&["--playback-base-url", "https://cdn.example/tessera"]).await;
    cluster.add_worker(&["--codecs", "h264,aac"]);
    let upload = cluster.upload(&input).await;
    let job = cluster
        .submit(json!({"source": {"upload_id": upload}, "codecs": ["h264", "av1"], "segment_duration": 2}))
        .await;
    let playable = cluster.wait_for(&job, "playable", Duration::from_secs(120), |j| j["playable_at"].is_string()).await;
    assert_eq!(playable["state"], "running", "{playable}");
    assert!(playable["playable_after_secs"].as_f64().unwrap() > 0.0, "{playable}");
    let prefix = playable["output_prefix"].as_str().unwrap().to_string();
    assert_eq!(playable["playback"]["hls"], format!("https://cdn.example/tessera/{prefix}/master.m3u8"), "{playable}");
    // The first rendition and the audio finish; the AV1 rung has no worker.
    let first_done = |j: &Value| {
        let renditions = j["renditions"].as_array().cloned().unwrap_or_default();
        let state = |name: &str| renditions.iter().find(|r| r["name"] == name).map(|r| r["state"].clone());
        state("h264-180p") == Some(json!("done"))
            && renditions.iter().any(|r| r["name"].as_str().unwrap_or("").starts_with("aac") && r["state"] == "done")
    };
    cluster.wait_for(&job, "the first rendition done", Duration::from_secs(120), first_done).await;
    let dir = tempfile::tempdir().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let playlist = loop {
        let tree = cluster.tree(&prefix).await;
        let text =
            tree.get("h264-180p/index.m3u8").map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        if text.contains("#EXT-X-ENDLIST") {
            let master = String::from_utf8_lossy(&tree["master.m3u8"]).into_owned();
            assert!(master.contains("h264-180p/index.m3u8") && !master.contains("av1-180p"), "{master}");
            assert!(master.contains("TYPE=AUDIO"), "{master}");
            for unfinished in ["manifest.mpd", "report.json", "av1-180p/init.mp4", "av1-180p/index.m3u8"] {
                assert!(!tree.contains_key(unfinished), "{unfinished} written before the job completed");
            }
            break text;
        }
        assert!(Instant::now() < deadline, "h264-180p never got its final playlist: {text}{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD") && playlist.matches(".m4s").count() == 2, "{playlist}");
    cluster.download(&prefix, dir.path()).await;
    let (frames, _) = count_frames(&dir.path().join("master.m3u8"), "v");
    assert_eq!(frames, 120, "the early master plays the whole first rendition");
    assert_eq!(cluster.job(&job).await["state"], "running");
    cluster.add_worker(&["--codecs", "av1,image"]);
    let done = cluster.wait_state(&job, "completed", Duration::from_secs(180)).await;
    assert_eq!(done["playable_at"], playable["playable_at"], "playable once");
    let package = cluster.tree(&prefix).await;
    let master = String::from_utf8_lossy(&package["master.m3u8"]).into_owned();
    assert!(master.contains("av1-180p/index.m3u8") && master.contains("h264-180p/index.m3u8"), "{master}");
    let report: Value = serde_json::from_slice(&package["report.json"]).unwrap();
    let timing = &report["timing"];
    assert_eq!(timing["first_rendition"], "h264-180p", "{report}");
    assert!(timing["playable_after_secs"].as_f64() < timing["completed_after_secs"].as_f64(), "{timing}");
    cluster.assert_matches_transcode(&done, &input, "2").await;
}

/// A minute-long store outage mid-job (the store's folder replaced by a file,
/// so every read and write fails, even for root) is waited out: the job
/// completes with the same bytes as `tessera transcode`, without a retry
/// counted against any task, and its source segments are removed after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_long_store_outage_is_waited_out() {
    let input = source(4);
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("store");
    std::fs::create_dir_all(&folder).unwrap();
    let url = format!("file://{}", folder.display());
    let mut cluster = Cluster::start_with(&[], &[("TESSERA_STORE", url.as_str())]).await;
    cluster.add_worker(&[]);
    let job = cluster.start_two_codec_job(&input).await;
    let away = root.path().join("store.away");
    std::fs::rename(&folder, &away).unwrap();
    std::fs::write(&folder, b"the store is down").unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let during = cluster.job(&job).await;
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(&away, &folder).unwrap();
    assert_eq!(during["state"], "running", "the job waits through the outage: {during}");
    let done = cluster.wait_state(&job, "completed", Duration::from_secs(180)).await;
    assert_eq!(done["progress"]["done"], done["progress"]["total"]);
    let worker_log = std::fs::read_to_string(cluster.log_path("worker-3")).unwrap_or_default();
    assert!(worker_log.contains("store or bus unavailable"), "the outage was met: {}", cluster.logs());
    assert!(!worker_log.contains("will retry"), "no delivery was spent on the outage: {}", cluster.logs());
    cluster.assert_matches_transcode(&done, &input, "1").await;
    cluster.assert_sources_removed(&job, Duration::from_secs(30)).await;
}

/// A worker frozen (SIGSTOP) mid-task past its ack wait and then resumed:
/// its task is done by another worker meanwhile, its late write changes no
/// byte and nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_that_wakes_up_late_changes_nothing() {
    let (mut cluster, job, input) = a_worker_mid_task().await;
    let pid = cluster.workers[0].id().to_string();
    let signal = |name: &str| assert!(Command::new("kill").args([name, &pid]).status().unwrap().success());
    signal("-STOP");
    cluster.add_worker(&[]);
    // Past the 3 s ack wait: the task goes to the other worker, which finishes the job.
    let done = cluster.wait_state(&job, "completed", Duration::from_secs(180)).await;
    let prefix = done["output_prefix"].as_str().unwrap().to_string();
    let before = cluster.tree(&prefix).await;
    signal("-CONT");
    // The woken worker finishes its stale task (or drops it); give it time to write.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let after = cluster.job(&job).await;
    assert_eq!(after["progress"]["done"], after["progress"]["total"], "nothing counted twice: {after}");
    assert_eq!(after["progress"], done["progress"]);
    assert_eq!(cluster.tree(&prefix).await, before, "the late write changed no byte");
    cluster.assert_matches_transcode(&done, &input, "2").await;
}

/// Three NATS nodes, every stream and bucket with three replicas: one node
/// killed -9 mid-job is ridden through, and the job completes with the same
/// bytes as `tessera transcode`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_one_of_three_nats_nodes_loses_nothing() {
    let input = source(4);
    let mut nats = tessera_testkit::nats::NatsCluster::start(3);
    let urls = nats.urls();
    let mut cluster =
        Cluster::start_with(&[], &[("TESSERA_NATS", urls.as_str()), ("TESSERA_NATS_REPLICAS", "3")]).await;
    cluster.add_worker(&[]);
    let job = cluster.start_two_codec_job(&input).await;
    // Every stream and bucket is on the nodes that stay, three times over.
    let replicas = nats.stream_replicas(1);
    for name in ["TESSERA_JOBS", "TESSERA_TASKS", "TESSERA_EVENTS", "KV_tessera_jobs", "KV_tessera_live"] {
        assert_eq!(replicas.get(name), Some(&3), "{name}: {replicas:?}");
    }
    nats.kill(0);
    // Events nak'ed while the streams elected new leaders are folded in when redelivered.
    let done = cluster
        .wait_for(&job, "completed with every task counted", Duration::from_secs(180), |j| {
            j["state"] == "completed" && j["progress"]["done"] == j["progress"]["total"]
        })
        .await;
    cluster.assert_matches_transcode(&done, &input, "1").await;
}

/// Three NATS nodes: one killed -9 in the middle of a live broadcast leaves
/// no gap: every segment is published, in order, without a discontinuity,
/// and the recording has every frame that was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_nats_node_mid_broadcast_leaves_no_gap() {
    let mut nats = tessera_testkit::nats::NatsCluster::start(3);
    let urls = nats.urls();
    let mut cluster =
        Cluster::start_with(&[], &[("TESSERA_NATS", urls.as_str()), ("TESSERA_NATS_REPLICAS", "3")]).await;
    cluster.add_worker(&[]);
    let (id, url, playlist) = cluster.create_channel().await;
    let publisher = tessera_testkit::rtmp_push(&url, 12);
    let deadline = Instant::now() + Duration::from_secs(60);
    while listed(&cluster, &playlist).await.0 < 1 {
        assert!(Instant::now() < deadline, "no live segment{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nats.kill(0);
    let pushed = publisher.wait_with_output().unwrap();
    assert!(pushed.status.success(), "the publish failed{}", cluster.logs());
    let job = cluster.wait_state(&id, "completed", Duration::from_secs(120)).await;
    let (segments, vod) = listed(&cluster, &playlist).await;
    assert_eq!(Some(segments as u64), job["renditions"][0]["total"].as_u64(), "{job}\n{vod}");
    let numbers: Vec<usize> = vod.lines().filter(|l| l.ends_with(".m4s")).map(|l| l[..6].parse().unwrap()).collect();
    assert_eq!(numbers, (0..segments).collect::<Vec<_>>(), "every segment, in order: {vod}");
    assert!(!vod.contains("#EXT-X-DISCONTINUITY"), "no gap: {vod}");
    let dir = tempfile::tempdir().unwrap();
    cluster.download(&format!("live/{id}"), dir.path()).await;
    let (frames, _) = count_frames(&dir.path().join("h264-180p/index.m3u8"), "v");
    assert_eq!(frames, 360, "every frame of the 12 s push");
}

/// The coordinator is killed and restarted mid-job, then nats-server is
/// stopped and restarted mid-job, then the packager is killed and restarted:
/// every service reconnects and the job completes with every frame. A worker
/// stopped with SIGTERM exits cleanly within its drain timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_survives_coordinator_and_nats_restarts() {
    let input = source(6);
    let mut cluster = Cluster::start(&[]).await;
    cluster.add_worker(&["--codecs", "av1,h264,aac"]);
    let upload = cluster.upload(&input).await;
    // 1 s segments: 18 tasks, so the job is still running when the packager is killed below.
    let job = cluster
        .submit(json!({"source": {"upload_id": upload}, "codecs": ["h264", "av1"], "segment_duration": 1}))
        .await;
    cluster.wait_for(&job, "progress", Duration::from_secs(60), |j| j["state"] == "running").await;

    let mut coordinator = cluster.coordinator.take().unwrap();
    coordinator.kill().unwrap();
    coordinator.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.start_coordinator().await;

    cluster.nats.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.nats.restart();

    // The packager is killed after it took some of the job's events, then
    // restarted: it rebuilds the job from the events stream.
    cluster
        .wait_for(&job, "two done tasks", Duration::from_secs(120), |j| j["progress"]["done"].as_u64() >= Some(2))
        .await;
    let mut packager = cluster.packager.take().unwrap();
    packager.kill().unwrap();
    packager.wait().unwrap();
    assert_eq!(cluster.job(&job).await["state"], "running", "the packager died mid-job");
    cluster.packager = Some(cluster.spawn("packager", &["packager"]));

    // A second worker joins; the first is stopped with SIGTERM and drains.
    cluster.add_worker(&[]);
    let mut first = cluster.workers.remove(0);
    sigterm(&first);
    let code = wait_exit(&mut first, Duration::from_secs(20));
    assert_eq!(code, Some(0), "a SIGTERM'd worker exits cleanly within its drain timeout{}", cluster.logs());

    let done = cluster.wait_state(&job, "completed", Duration::from_secs(240)).await;
    assert_eq!(done["progress"]["done"], 24, "6 segments x (h264, av1, aac, thumbnails): {done}");
    assert!(cluster.logs().contains("rebuilt a job from its event history"), "{}", cluster.logs());
    let dir = tempfile::tempdir().unwrap();
    cluster.download(done["output_prefix"].as_str().unwrap(), dir.path()).await;
    for rendition in ["h264-180p", "av1-180p"] {
        let (frames, _) = count_frames(&dir.path().join(rendition).join("index.m3u8"), "v");
        assert_eq!(frames, 180, "{rendition}");
    }
}

/// A bad input fails its job with a clear error while a good job submitted
/// at the same time completes and its signed webhook arrives (internal
/// webhook destinations are refused unless allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_job_fails_clearly_while_a_good_one_completes_with_its_webhook() {
    // A webhook receiver that records what it gets.
    let (hook_tx, mut hook_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>)>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let tx = hook_tx.clone();
            async move {
                let signature =
                    headers.get("tessera-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let _ = tx.send((signature, body.to_vec()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    // Loopback receivers are refused unless allowed: this one address is.
    let mut cluster = Cluster::start(&["--webhook-secret", "hush", "--webhook-allow", "127.0.0.1"]).await;
    cluster.add_worker(&[]);
    let bad_file = cluster.logs.path().join("bad.mp4");
    std::fs::write(&bad_file, b"this is not an MP4 file, just text pretending to be one").unwrap();
    let bad_upload = cluster.upload(&bad_file).await;
    let good_upload = cluster.upload(&source(4)).await;
    let port = hook_url.rsplit(':').next().unwrap().trim_end_matches("/hook");
    for internal in [
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://0x7f000002:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/hook".to_string(),
    ] {
        let request = json!({"source": {"upload_id": good_upload}, "webhook_url": internal});
        let (status, body) = cluster.call(cluster.request(reqwest::Method::POST, "/v1/jobs").json(&request)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_webhook")), "{internal}: {body}");
    }
    let bad = cluster.submit(json!({"source": {"upload_id": bad_upload}, "segment_duration": 2})).await;
    let good = cluster
        .submit(json!({"source": {"upload_id": good_upload}, "segment_duration": 2, "webhook_url": hook_url}))
        .await;
    let failed = cluster.wait_state(&bad, "failed", Duration::from_secs(60)).await;
    let reason = failed["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("no container libavformat recognises"), "names the container problem: {reason}");
    assert_eq!(failed["error"]["bad_input"], true);
    let done = cluster.wait_state(&good, "completed", Duration::from_secs(120)).await;
    assert!(done["outputs"].as_array().unwrap().iter().any(|o| o.as_str().unwrap().ends_with("master.m3u8")));

    let (signature, body) = tokio::time::timeout(Duration::from_secs(30), hook_rx.recv()).await.unwrap().unwrap();
    let hook: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((hook["job"].as_str(), hook["event"].as_str()), (Some(good.as_str()), Some("job.completed")));
    let (t, v1) = signature.split_once(",v1=").expect("t=...,v1=... signature");
    let timestamp = t.strip_prefix("t=").unwrap();
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hush").unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&body);
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()), "HMAC-SHA256 over '<t>.<body>'");
    let after =
        cluster.wait_for(&good, "webhook delivered", Duration::from_secs(10), |j| j["webhook"] == "delivered").await;
    assert_eq!(after["state"], "completed");
}

/// Cancel mid-job: the state is cancelled, the worker goes idle (a job
/// submitted next completes), and nothing is written after the cancel
/// settles. A repeated cancel is accepted; cancelling a completed job is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stops_writing_and_frees_the_workers() {
    let mut cluster = Cluster::start(&[]).await;
    cluster.add_worker(&[]);
    let long = cluster.upload(&source(8)).await;
    let job = cluster.submit(json!({"source": {"upload_id": long}, "codecs": ["av1"], "segment_duration": 2})).await;
    cluster
        .wait_for(&job, "a done segment", Duration::from_secs(120), |j| j["progress"]["done"].as_u64() >= Some(1))
        .await;
    let (status, cancelled) = cluster.call(cluster.request(reqwest::Method::DELETE, &format!("/v1/jobs/{job}"))).await;
    assert_eq!((status, cancelled["state"].as_str()), (202, Some("cancelled")), "{cancelled}");
    // Settling: the running task stops at its next check (within a second or two).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let prefix = cancelled["output_prefix"].as_str().unwrap().to_string();
    let settled = cluster.tree(&prefix).await;
    let next = cluster.upload(&source(4)).await;
    let second = cluster.submit(json!({"source": {"upload_id": next}, "segment_duration": 2})).await;
    cluster.wait_state(&second, "completed", Duration::from_secs(120)).await;
    assert_eq!(
        cluster.tree(&prefix).await.keys().collect::<Vec<_>>(),
        settled.keys().collect::<Vec<_>>(),
        "nothing written after the cancel settled"
    );
    assert!(!settled.contains_key("master.m3u8"), "a cancelled job has no manifests");
    let job = cluster.job(&job).await;
    assert_eq!(job["state"], "cancelled");
    assert!(job["progress"]["done"].as_u64() < job["progress"]["total"].as_u64(), "{job}");
    // Cancelling again is harmless (a retry); cancelling a completed job is refused.
    let (status, again) = cluster
        .call(cluster.request(reqwest::Method::DELETE, &format!("/v1/jobs/{}", job["id"].as_str().unwrap())))
        .await;
    assert_eq!((status, again["state"].as_str()), (202, Some("cancelled")));
    let (status, ended) = cluster.call(cluster.request(reqwest::Method::DELETE, &format!("/v1/jobs/{second}"))).await;
    assert_eq!((status, ended["error"]["code"].as_str()), (409, Some("job_ended")));
}

/// Authentication, size limits, path tricks, idempotency, the GPU class on
/// its CPU fallback, and the open endpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_what_it_must_and_repeats_idempotent_submissions() {
    let mut cluster = Cluster::start(&["--api-token", "secret-token", "--max-upload-bytes", "200000"]).await;
    // No token, a wrong token: 401 with a JSON error.
    let (status, body) = cluster.call(cluster.http.get(cluster.url("/v1/jobs"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = cluster.call(cluster.http.get(cluster.url("/v1/jobs")).bearer_auth("wrong")).await;
    assert_eq!(status, 401);
    cluster.token = Some("secret-token".into());
    let (status, page) = cluster.call(cluster.request(reqwest::Method::GET, "/v1/jobs")).await;
    assert_eq!((status, page["jobs"].as_array().map(Vec::len)), (200, Some(0)));

    // Over the size limit: 413, whether declared up front (the client waits
    // for 100-continue, as curl does, and never sends the body) or streamed.
    let head = "PUT /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token\r\nConnection: close\r\n\
                Content-Length: 300000\r\nExpect: 100-continue\r\n\r\n";
    let answer = raw_http(cluster.port, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    let (status, body) =
        cluster.call(cluster.request(reqwest::Method::PUT, "/v1/uploads").body(chunked(vec![0u8; 300_000]))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));

    let upload = cluster.upload(&source(4)).await;
    let tricks = [
        json!({"id": "../escape", "source": {"upload_id": upload}}),
        json!({"id": "a/b", "source": {"upload_id": upload}}),
        json!({"source": {"upload_id": "../../etc/passwd"}}),
        json!({"source": {"url": "s3://media/tessera/../other/x.mp4"}}),
        json!({"source": {"url": "s3://elsewhere/x.mp4"}}),
        json!({"source": {"url": "file:///etc/passwd"}}),
        json!({"source": {"upload_id": upload}, "output_prefix": "../outside"}),
        json!({"source": {"upload_id": upload}, "output_prefix": "/absolute"}),
        json!({"source": {"upload_id": upload}, "output_prefix": "a/./b"}),
        json!({"source": {"upload_id": upload}, "output_prefix": "a//b"}),
        json!({"source": {"upload_id": upload}, "output_prefix": "sources/x"}),
        json!({"source": {"upload_id": upload}, "webhook_url": "http://example.com/hook"}),
        json!({"source": {"upload_id": upload}, "ladder": {"rungs": [{"codec": "h264", "height": 7, "bitrate_kbps": 1}]}}),
        json!({"source": {"upload_id": "no-such-upload"}}),
    ];
    for request in tricks {
        let (status, body) = cluster.call(cluster.request(reqwest::Method::POST, "/v1/jobs").json(&request)).await;
        assert_eq!(status, 400, "{request} -> {body}");
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{body}");
    }
    let (status, _) = cluster.call(cluster.request(reqwest::Method::GET, "/v1/jobs/..%2F..%2Fetc")).await;
    assert!(status == 400 || status == 404, "{status}");
    // A bad setting is a 400 naming its field, for jobs and channels alike.
    for (path, request, field) in [
        ("/v1/jobs", json!({"source": {"upload_id": upload}, "speed": "turbo"}), "speed: unknown speed preset 'turbo'"),
        ("/v1/jobs", json!({"source": {"upload_id": upload}, "segment_duration": 31}), "segment_duration: "),
        ("/v1/live", json!({"segment_duration": 12}), "segment_duration: a segment duration must be within 1-10"),
        ("/v1/live", json!({"class": "tpu"}), "class: unknown worker class 'tpu'"),
    ] {
        let (status, body) = cluster.call(cluster.request(reqwest::Method::POST, path).json(&request)).await;
        assert_eq!(status, 400, "{request} -> {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(field), "{request} -> {body}");
    }

    // The same Idempotency-Key and body: the same job; another body: 422.
    // The job goes to the GPU class: this build's gpu workers encode on the CPU.
    let request = json!({"source": {"upload_id": upload}, "segment_duration": 2, "class": "gpu"});
    let post =
        |body: &Value| cluster.request(reqwest::Method::POST, "/v1/jobs").header("Idempotency-Key", "k-1").json(body);
    let (first_status, first) = cluster.call(post(&request)).await;
    let (again_status, again) = cluster.call(post(&request)).await;
    assert_eq!((first_status, again_status), (201, 200));
    assert_eq!(first["id"], again["id"]);
    let (status, body) = cluster.call(post(&json!({"source": {"upload_id": upload}, "segment_duration": 3}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("idempotency_key_reused")));
    let (status, body) = cluster
        .call(
            cluster
                .request(reqwest::Method::POST, "/v1/jobs")
                .json(&json!({"id": first["id"], "source": {"upload_id": upload}})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("job_exists")));
    let worker_ops = free_port();
    cluster.add_worker(&["--class", "gpu", "--listen", &format!("127.0.0.1:{worker_ops}")]);
    let id = first["id"].as_str().unwrap();
    cluster.wait_state(id, "completed", Duration::from_secs(120)).await;

    // The worker's and the packager's health and metrics endpoints.
    let ops = |port: u16, path: &str| cluster.http.get(format!("http://127.0.0.1:{port}{path}")).send();
    for port in [worker_ops, cluster.packager_ops_port] {
        assert_eq!(ops(port, "/healthz").await.unwrap().status(), 200);
        assert_eq!(ops(port, "/readyz").await.unwrap().status(), 200);
    }
    let worker_metrics = ops(worker_ops, "/metrics").await.unwrap().text().await.unwrap();
    assert!(
        worker_metrics.contains("tessera_worker_tasks_total{codec=\"h264\",outcome=\"done\"} 2"),
        "{worker_metrics}"
    );
    assert!(worker_metrics.contains("tessera_worker_tasks_in_flight 0"), "{worker_metrics}");
    assert!(worker_metrics.contains("tessera_worker_task_seconds_count{codec=\"aac\"} 2"), "{worker_metrics}");
    let packager_metrics = ops(cluster.packager_ops_port, "/metrics").await.unwrap().text().await.unwrap();
    assert!(packager_metrics.contains("tessera_packager_jobs_total{outcome=\"packaged\"} 1"), "{packager_metrics}");
    let (_, page) = cluster.call(cluster.request(reqwest::Method::GET, "/v1/jobs?limit=1")).await;
    assert_eq!(page["jobs"][0]["id"], id);

    // Open endpoints: health, readiness, metrics, and the OpenAPI document (behind auth).
    let health = cluster.http.get(cluster.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = cluster.http.get(cluster.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_jobs_submitted_total 1"), "{metrics}");
    assert!(metrics.contains("tessera_http_requests_total{route=\"POST /v1/jobs\",status=\"400\"}"), "{metrics}");
    let (status, openapi) = cluster.call(cluster.request(reqwest::Method::GET, "/v1/openapi.json")).await;
    assert_eq!(status, 200);
    for path in ["/v1/jobs", "/v1/jobs/{id}", "/v1/uploads"] {
        assert!(openapi["paths"][path].is_object(), "{path} documented");
    }
}

/// Sends `request` on a fresh connection and returns what comes back.
async fn raw_http(port: u16, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// A body sent in 16 KiB chunks with no declared length.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let parts: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(parts))
}

/// Segments listed in a playlist in the bucket (0 when it is not there yet).
async fn listed(cluster: &Cluster, key: &str) -> (usize, String) {
    for (k, v) in cluster.s3.env() {
        std::env::set_var(k, v);
    }
    let store = tessera_core::Store::open(STORE).unwrap();
    match store.get(key).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            (text.matches("#EXTINF").count(), text)
        }
        Err(_) => (0, String::new()),
    }
}

/// Waits until `needle` appears `count` times in a log.
async fn wait_log_count(path: &Path, needle: &str, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while std::fs::read_to_string(path).unwrap_or_default().matches(needle).count() < count {
        assert!(Instant::now() < deadline, "{} never logged '{needle}' {count} times", path.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A broadcast through the cluster survives attacks on the coordinator's RTMP
/// port (nested AMF0, a shrinking chunk, half-sent huge messages), a worker
/// killed mid-task and a coordinator killed between segments (the publisher reconnects to the
/// restarted one, as OBS does): the final playlist has every segment, in
/// order, with the reconnect marked, and every frame decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_survives_a_killed_worker_and_a_coordinator_restart() {
    let mut cluster = Cluster::start(&["--live-grace", "15"]).await;
    cluster.add_worker(&[]);
    cluster.add_worker(&[]);
    let victim_log = cluster.log_path("worker-3");
    let (id, url, playlist) = cluster.create_channel().await;

    let mut first = tessera_testkit::rtmp_push(&url, 60);
    let deadline = Instant::now() + Duration::from_secs(60);
    while listed(&cluster, &playlist).await.0 < 1 {
        assert!(Instant::now() < deadline, "no live segment{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Attacks on the coordinator's RTMP port change nothing for the broadcast.
    tessera_testkit::hostile::rtmp_attacks(cluster.rtmp_port).await;
    // A worker dies in the middle of a task.
    let started = std::fs::read_to_string(&victim_log).unwrap_or_default().matches("task started").count();
    wait_log_count(&victim_log, "task started", started + 1, Duration::from_secs(30)).await;
    let mut victim = cluster.workers.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let before = listed(&cluster, &playlist).await.0;
    while listed(&cluster, &playlist).await.0 < before + 1 {
        assert!(Instant::now() < deadline + Duration::from_secs(60), "the broadcast stalled{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The coordinator dies between segments, and the publisher's connection with it.
    let mut coordinator = cluster.coordinator.take().unwrap();
    coordinator.kill().unwrap();
    coordinator.wait().unwrap();
    let _ = first.wait();
    cluster.start_coordinator().await;
    // The publisher comes back once the dead coordinator's lease ran out (3 s).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let second = tessera_testkit::rtmp_push(&url, 4).wait_with_output().unwrap();
    assert!(second.status.success(), "the reconnect was refused{}", cluster.logs());
    let job = cluster.wait_state(&id, "completed", Duration::from_secs(120)).await;

    let (segments, vod) = listed(&cluster, &playlist).await;
    assert_eq!(Some(segments as u64), job["renditions"][0]["total"].as_u64(), "{job}\n{vod}");
    let numbers: Vec<usize> = vod.lines().filter(|l| l.ends_with(".m4s")).map(|l| l[..6].parse().unwrap()).collect();
    assert_eq!(numbers, (0..segments).collect::<Vec<_>>(), "every segment, in order: {vod}");
    assert_eq!(vod.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{vod}");
    let dir = tempfile::tempdir().unwrap();
    cluster.download(&format!("live/{id}"), dir.path()).await;
    let (frames, duration) = count_frames(&dir.path().join("h264-180p/index.m3u8"), "v");
    assert!(frames >= 120 + 120, "{frames} frames");
    assert!(
        (duration - frames as f64 / 30.0).abs() < 0.2,
        "the segments' durations cover the frames: {duration} s, {frames}"
    );
}

/// Low-Latency HLS in the cluster: a worker killed while it streams a
/// segment's parts costs nothing. Its task comes back to the other worker,
/// which reads the segment's source chunks again and writes the same parts
/// and segment: every segment is listed, each is its parts, every frame is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_latency_broadcast_loses_no_part_when_a_worker_dies() {
    let mut cluster = Cluster::start(&["--live-grace", "3"]).await;
    // Streamed tasks wait for their source: a segment's two tasks and the next one's overlap.
    cluster.add_worker_with_slots(4, &[]);
    cluster.add_worker_with_slots(4, &[]);
    let victim_log = cluster.log_path("worker-3");
    let body = json!({"codecs": ["h264"], "segment_duration": 2, "low_latency": true});
    let (id, url, playlist) = cluster.create_channel_with(body).await;
    let mut publisher = tessera_testkit::rtmp_push(&url, 16);
    wait_log_count(&victim_log, "task started", 2, Duration::from_secs(60)).await;
    let mut victim = cluster.workers.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(publisher.wait().unwrap().success(), "the publisher was cut off{}", cluster.logs());
    let job = cluster.wait_state(&id, "completed", Duration::from_secs(120)).await;

    let (segments, vod) = listed(&cluster, &playlist).await;
    assert_eq!(Some(segments as u64), job["renditions"][0]["total"].as_u64(), "{job}\n{vod}");
    let dir = tempfile::tempdir().unwrap();
    cluster.download(&format!("live/{id}"), dir.path()).await;
    let rendition = dir.path().join("h264-180p");
    for seq in 0..segments {
        let whole = std::fs::read(rendition.join(format!("{seq:06}.m4s"))).unwrap();
        let parts: Vec<u8> =
            (0..).map_while(|k| std::fs::read(rendition.join(format!("{seq:06}.{k}.m4s"))).ok()).flatten().collect();
        assert_eq!(parts, whole, "segment {seq} is its parts, none missing");
    }
    let (frames, duration) = count_frames(&rendition.join("index.m3u8"), "v");
    assert_eq!(frames, 480, "every frame that was pushed (16 s at 30 fps){}", cluster.logs());
    assert!((duration - 16.0).abs() < 0.2, "{duration}");
}

/// Every OTLP export received: (signal, body).
type Exports = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A small OTLP/HTTP receiver (JSON encoding): keeps every export it is sent.
struct OtlpReceiver {
    port: u16,
    exports: Exports,
}

impl OtlpReceiver {
    async fn start() -> Self {
        use axum::extract::{Path as UrlPath, State};
        let exports = Exports::default();
        let app = axum::Router::new()
            .route(
                "/v1/{signal}",
                axum::routing::post(
                    |State(exports): State<Exports>,
                     UrlPath(signal): UrlPath<String>,
                     body: axum::body::Bytes| async move {
                        let value: Value = serde_json::from_slice(&body).expect("OTLP JSON");
                        exports.lock().unwrap().push((signal, value));
                        ([("content-type", "application/json")], "{}")
                    },
                ),
            )
            .with_state(exports.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, exports }
    }

    /// Every item of one signal received, with its resource's service.name:
    /// `resourceSpans[].scopeSpans[].spans[]` for traces, the `Metrics` ones for metrics.
    fn items(&self, signal: &str, kind: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (_, export) in self.exports.lock().unwrap().iter().filter(|(s, _)| s == signal) {
            for resource in export[format!("resource{kind}")].as_array().into_iter().flatten() {
                let service = resource["resource"]["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == "service.name")
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .unwrap_or_default()
                    .to_string();
                for scope in resource[format!("scope{kind}")].as_array().into_iter().flatten() {
                    for item in scope[kind.to_ascii_lowercase()].as_array().into_iter().flatten() {
                        out.push((service.clone(), item.clone()));
                    }
                }
            }
        }
        out
    }

    /// Every span received: (service.name, span).
    fn spans(&self) -> Vec<(String, Value)> {
        self.items("traces", "Spans")
    }

    /// The names of every metric received, by service.
    fn metric_names(&self) -> std::collections::BTreeSet<(String, String)> {
        self.items("metrics", "Metrics")
            .into_iter()
            .map(|(service, metric)| (service, metric["name"].as_str().unwrap_or_default().to_string()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_is_one_connected_trace_across_the_services_with_metrics_and_json_logs() {
    let otlp = OtlpReceiver::start().await;
    let endpoint = format!("http://127.0.0.1:{}", otlp.port);
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
        ("TESSERA_LOG_FORMAT", "json"),
    ];
    let mut cluster = Cluster::start_with(&[], &env).await;
    let worker_ops = free_port();
    cluster.add_worker(&["--listen", &format!("127.0.0.1:{worker_ops}")]);
    let upload = cluster.upload(&source(4)).await;
    // The client's own trace: the job's span must become its child.
    let (client_trace, client_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let request = cluster
        .request(reqwest::Method::POST, "/v1/jobs")
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .json(&json!({"source": {"upload_id": upload}, "codecs": ["h264"], "segment_duration": 2}));
    let (status, body) = cluster.call(request).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let job = cluster.wait_state(&id, "completed", Duration::from_secs(120)).await;
    let tasks = job["progress"]["total"].as_u64().unwrap();
    assert!(tasks >= 4, "2 segments x (video rungs + audio): {job}");

    // Prometheus: the named metrics after a job.
    let text = |url: String| async { cluster.http.get(url).send().await.unwrap().text().await.unwrap() };
    let worker_metrics = text(format!("http://127.0.0.1:{worker_ops}/metrics")).await;
    for needle in [
        "tessera_worker_tasks_in_flight 0",
        "tessera_encode_fps_count{codec=\"h264\",rung=\"h264-180p\"} 2",
        "tessera_segment_latency_seconds_count{codec=\"h264\"} 2",
        "tessera_store_errors_total{op=\"write\"} 0",
    ] {
        assert!(worker_metrics.contains(needle), "worker /metrics lacks {needle}:\n{worker_metrics}");
    }
    // The queue gauges are read every 5 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = text(cluster.url("/metrics")).await;
        if metrics.contains("tessera_queue_pending{class=\"cpu\",codec=\"h264\",priority=\"rest\"} 0") {
            assert!(
                metrics.contains("tessera_queue_pending{class=\"cpu\",codec=\"h264\",priority=\"first\"} 0"),
                "{metrics}"
            );
            assert!(
                metrics.contains("tessera_queue_in_flight{class=\"cpu\",codec=\"aac\",priority=\"first\"} 0"),
                "{metrics}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no queue gauge on the coordinator:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The dashboard's view of the cluster: the worker and its queues.
    let (status, view) = cluster.call(cluster.request(reqwest::Method::GET, "/v1/cluster")).await;
    assert_eq!(status, 200);
    assert_eq!(view["workers"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(view["workers"][0]["class"], "cpu");
    assert!(view["queues"].as_array().unwrap().iter().any(|q| q["consumer"] == "worker-cpu-h264"), "{view}");

    // Stop every process so that it flushes what it buffered.
    for child in cluster.workers.iter().chain(cluster.coordinator.as_ref()).chain(cluster.packager.as_ref()) {
        sigterm(child);
    }
    for child in cluster.workers.iter_mut().chain(cluster.coordinator.as_mut()).chain(cluster.packager.as_mut()) {
        assert_eq!(wait_exit(child, Duration::from_secs(20)), Some(0), "{}", cluster.logs());
    }

    // One connected trace: every span of the job is on the client's trace, and
    // every parent is a span of the trace (or the client's, for the job span).
    let spans: Vec<(String, Value)> =
        otlp.spans().into_iter().filter(|(_, s)| s["traceId"].as_str() == Some(client_trace)).collect();
    let ids: std::collections::BTreeSet<&str> = spans.iter().filter_map(|(_, s)| s["spanId"].as_str()).collect();
    let summary: Vec<String> = spans.iter().map(|(svc, s)| format!("{svc} {}", s["name"])).collect();
    for (service, span) in &spans {
        let parent = span["parentSpanId"].as_str().unwrap_or_default();
        assert!(
            ids.contains(parent) || (span["name"] == "job" && parent == client_span),
            "{service} span {} has a parent outside the trace: {parent}\n{summary:#?}",
            span["name"]
        );
    }
    let named = |service: &str, name: &str| spans.iter().filter(|(svc, s)| svc == service && s["name"] == name).count();
    assert_eq!(named("tessera-coordinator", "job"), 1, "{summary:#?}");
    assert!(named("tessera-coordinator", "job.segment") >= 1, "{summary:#?}");
    assert!(named("tessera-coordinator", "store.write") >= 2, "source segments: {summary:#?}");
    assert_eq!(named("tessera-worker", "task.run") as u64, tasks, "{summary:#?}");
    assert_eq!(named("tessera-worker", "task.queue_wait") as u64, tasks, "{summary:#?}");
    assert_eq!(named("tessera-worker", "encode"), 2, "{summary:#?}");
    // A thumbnail task writes its sprite, and the one holding the poster's time the poster too;
    // an H.264 task (an encode) its fragment and its keyframe alone (DASH trick mode).
    let encodes = named("tessera-worker", "encode") as u64;
    assert_eq!(named("tessera-worker", "store.write") as u64, tasks + 1 + encodes, "{summary:#?}");
    // The finished package, after the playlists written while it was encoded.
    assert!(named("tessera-packager", "manifest.update") >= 2, "{summary:#?}");
    assert!(named("tessera-packager", "store.write") >= 4, "playlists, MPD, report: {summary:#?}");
    // The job span covers its tasks.
    let time = |s: &Value, field: &str| s[field].as_str().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    let job_span = &spans.iter().find(|(_, s)| s["name"] == "job").unwrap().1;
    for (_, span) in spans.iter().filter(|(_, s)| s["name"] == "task.run") {
        assert!(time(span, "startTimeUnixNano") >= time(job_span, "startTimeUnixNano"), "{span}");
    }

    // Metrics over OTLP as well.
    let exported = otlp.metric_names();
    for (service, metric) in [
        ("tessera-worker", "tessera_worker_tasks_in_flight"),
        ("tessera-worker", "tessera_encode_fps"),
        ("tessera-worker", "tessera_segment_latency"),
        ("tessera-worker", "tessera_store_errors"),
        ("tessera-coordinator", "tessera_queue_pending"),
        ("tessera-coordinator", "tessera_http_requests"),
        ("tessera-coordinator", "tessera_jobs_submitted"),
        ("tessera-packager", "tessera_packager_jobs"),
    ] {
        assert!(exported.contains(&(service.to_string(), metric.to_string())), "{service} {metric}: {exported:?}");
    }

    // JSON logs: a worker line inside a task carries the job, segment and trace id.
    let worker_log = std::fs::read_to_string(cluster.log_path("worker-3")).unwrap();
    let done: Value = worker_log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "task done")
        .unwrap_or_else(|| panic!("no JSON 'task done' line:\n{worker_log}"));
    let task_span = done["spans"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "task.run")).unwrap();
    assert_eq!(task_span["job"], id.as_str(), "{done}");
    assert_eq!(task_span["trace_id"], client_trace, "{done}");
    assert!(task_span["segment"].is_u64(), "{done}");
}
