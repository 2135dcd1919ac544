//! Dispatch capacity of the cluster path, without the codecs: coordinator
//! segmenting and publishing, JetStream on a real nats-server, workers
//! scheduling, the store, the packager. Workers run the benchmark-only
//! fixed-time stand-in encoder (`WorkerConfig::benchmark_task_time`), so the
//! figures are what the path itself sustains and adds.
//!
//! `cargo bench -p tessera --bench dispatch` (needs nats-server >= 2.10 and
//! ffmpeg on PATH). Settings by environment: `TASK_MS` (default 20),
//! `WORKERS` (4), `SLOTS` per worker (8), `JOBS` (4), `SECONDS` of source per
//! job (60, cut into 1 s segments, 5 renditions each).
//!
//! Reports tasks/s against the ideal `WORKERS x SLOTS / TASK_MS`, p50/p99 of
//! the queue wait (source segment written and task published -> task started)
//! and of the packaging delay (last task done -> manifests written).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_coordinator::{run_vod_job, VodJobSpec};
use tessera_core::bus::{Bus, ConsumerConfig, JetStreamBus};
use tessera_core::clock::now_ms;
use tessera_core::wire::{JobEvent, JobEventKind, WorkerClass, EVENTS_STREAM};
use tessera_core::{Ladder, Store};
use tessera_media::{Limits, SpeedPreset};
use tessera_testkit::nats::NatsServer;
use tessera_worker::{WorkerConfig, WorkerStores};
use tokio_util::sync::CancellationToken;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((values.len() - 1) as f64 * p).round() as usize;
    values[rank]
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let task_ms = setting("TASK_MS", 20);
    let workers = setting("WORKERS", 4) as usize;
    let slots = setting("SLOTS", 8) as usize;
    let jobs = setting("JOBS", 4) as usize;
    let seconds = setting("SECONDS", 60);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dispatch-bench");
    std::fs::create_dir_all(&dir)?;
    let recipe = format!(
        "-f lavfi -i testsrc2=size=320x180:rate=30:duration={seconds} \
         -f lavfi -i sine=frequency=440:sample_rate=48000:duration={seconds} \
         -c:v libx264 -g 30 -keyint_min 30 -pix_fmt yuv420p -c:a aac -shortest -f mp4"
    );
    let args: Vec<&str> = recipe.split_whitespace().collect();
    let source = tessera_testkit::cached_fixture(&dir, &format!("dispatch-{seconds}s.mp4"), &args);
    let ladder = Ladder::from_json(
        r#"{"rungs": [{"codec": "h264", "height": 180, "bitrate_kbps": 400},
                      {"codec": "h264", "height": 144, "bitrate_kbps": 300},
                      {"codec": "h264", "height": 112, "bitrate_kbps": 200},
                      {"codec": "h264", "height": 72, "bitrate_kbps": 100}]}"#,
    )?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let nats = NatsServer::start();
        let store_dir = tempfile::tempdir()?;
        let store = Store::local_dir(store_dir.path())?;
        let connect = || async { anyhow::Ok(Arc::new(JetStreamBus::connect(&nats.url()).await?) as Arc<dyn Bus>) };
        let bus = connect().await?;
        tessera_core::topology::ensure_streams(bus.as_ref()).await?;
        let watch = bus
            .consumer(
                EVENTS_STREAM,
                &ConsumerConfig {
                    durable: "bench-watch".into(),
                    filter_subject: "tessera.events.job.>".into(),
                    ack_wait: Duration::from_secs(30),
                    max_deliver: 1,
                    max_ack_pending: 100_000,
                    dead_letter_subject: None,
                },
            )
            .await?;
        let shutdown = CancellationToken::new();
        let mut services = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let config = WorkerConfig {
                slots,
                benchmark_task_time: Some(Duration::from_millis(task_ms)),
                ..WorkerConfig::default()
            };
            let stores = WorkerStores { sources: store.clone(), outputs: store.clone() };
            let (worker_bus, stop) = (connect().await?, shutdown.clone());
            services.spawn(async move { tessera_worker::run(worker_bus, stores, config, Default::default(), stop).await.map_err(anyhow::Error::from) });
        }
        let (packager_bus, stop, outputs) = (connect().await?, shutdown.clone(), store.clone());
        services.spawn(async move { tessera_packager::run(packager_bus, outputs, tessera_core::backoff::DEFAULT_OUTAGE_WINDOW, stop).await.map_err(anyhow::Error::from) });

        let started = Instant::now();
        let first_publish = now_ms();
        let mut coordinators = tokio::task::JoinSet::new();
        for j in 0..jobs {
            let spec = VodJobSpec {
                job: format!("bench-{j}"),
                ladder: ladder.clone(),
                segment_duration: tessera_core::SegmentDuration::vod(Some(1.0)).expect("1 s is a valid segment duration"),
                speed: SpeedPreset::Veryfast,
                output_prefix: format!("outputs/bench-{j}"),
                class: WorkerClass::Cpu,
                limits: Limits::default(),
                traceparent: None,
                cutter: Default::default(),
                outage_window: tessera_core::backoff::DEFAULT_OUTAGE_WINDOW,
                submitted_at_ms: None,
                thumbnail_interval_secs: 0.0,
                audio_languages: Vec::new(),
                subtitles: Vec::new(),
            };
            let (bus, store, file) = (bus.clone(), store.clone(), source.clone());
            coordinators.spawn(async move {
                run_vod_job(bus.as_ref(), &store, &spec, file, &CancellationToken::new()).await.map_err(anyhow::Error::from)
            });
        }
        while let Some(done) = coordinators.join_next().await {
            done??;
        }

        let mut waits = Vec::new();
    let mut runs = Vec::new();
        let mut last_done: HashMap<String, u64> = HashMap::new();
        let mut packaging = Vec::new();
        let mut tasks = 0u64;
        let mut last_finish = 0u64;
        while packaging.len() < jobs {
            for delivery in watch.fetch(512, Duration::from_secs(1)).await? {
                let received = now_ms();
                delivery.ack().await?;
                let event: JobEvent = serde_json::from_slice(&delivery.payload)?;
                match event.kind {
                    JobEventKind::SegmentDone(done) => {
                        tasks += 1;
                        if let (Some(q), Some(s), Some(f)) = (done.queued_at_ms, done.started_at_ms, done.finished_at_ms) {
                            waits.push(s.saturating_sub(q));
                            runs.push(f.saturating_sub(s));
                            let last = last_done.entry(event.job.clone()).or_default();
                            *last = (*last).max(f);
                            last_finish = last_finish.max(f);
                        }
                    }
                    JobEventKind::Packaged { .. } => packaging.push(received.saturating_sub(last_done[&event.job])),
                    JobEventKind::Failed { reason, .. } => anyhow::bail!("job {} failed: {reason}", event.job),
                    _ => {}
                }
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "the benchmark did not finish in 30 min");
        }
        let elapsed = started.elapsed();
        shutdown.cancel();
        while let Some(stopped) = services.join_next().await {
            stopped.context("a service panicked")??;
        }
        let span_ms = last_finish.saturating_sub(first_publish).max(1);
        let rate = tasks as f64 * 1000.0 / span_ms as f64;
        let ideal = (workers * slots) as f64 * 1000.0 / task_ms as f64;
        println!("dispatch: {jobs} jobs x {seconds} segments x 5 renditions = {tasks} tasks, {workers} workers x {slots} slots, {task_ms} ms per task");
        println!("  throughput      {rate:.0} tasks/s ({:.0}% of the ideal {ideal:.0} tasks/s); wall {:.1} s", rate / ideal * 100.0, elapsed.as_secs_f64());
        println!(
            "  queue wait      p50 {} ms, p99 {} ms (task published -> started; includes waiting for a free slot)",
            percentile(&mut waits, 0.5),
            percentile(&mut waits, 0.99)
        );
        println!(
            "  task run        p50 {} ms, p99 {} ms (started -> fragment written and reported)",
            percentile(&mut runs, 0.5),
            percentile(&mut runs, 0.99)
        );
        println!(
            "  packaging       p50 {} ms, p99 {} ms (last task done -> manifests written, per job)",
            percentile(&mut packaging, 0.5),
            percentile(&mut packaging, 0.99)
        );
        anyhow::Ok(())
    })
}
