//! The services over the in-process bus: a task that keeps failing is
//! dead-lettered and fails its job with the last error; a bad source
//! segment fails its job at once while another job completes; a task
//! taken by a worker that vanishes is redelivered after the ack-wait; a cancel
//! stops a running task at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tessera_coordinator::{run_vod_job, VodJobSpec};
use tessera_core::bus::{Bus, ConsumerConfig, MemoryBus, OutgoingMessage};
use tessera_core::topology::{ensure_streams, task_consumer_config, TaskDelivery};
use tessera_core::wire::{
    job_events_subject, source_segment_key, task_subject, JobEvent, JobEventKind, JobPlan, RenditionSpec, SourceInfo,
    Task, TaskCodec, TaskPriority, WorkerClass, EVENTS_STREAM, TASKS_STREAM, WIRE_VERSION,
};
use tessera_core::{Ladder, Rung, Store};
use tessera_media::{Limits, SpeedPreset, VideoCodec};
use tessera_worker::{WorkerConfig, WorkerStores};
use tokio_util::sync::CancellationToken;

const DELIVERY: TaskDelivery = TaskDelivery { ack_wait: Duration::from_secs(1), max_deliver: 2, max_ack_pending: 100 };

fn source() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("service-fixtures");
    let recipe =
        "-f lavfi -i testsrc2=size=320x180:rate=30:duration=2 -c:v libx264 -bf 2 -g 30 -pix_fmt yuv420p -f mp4";
    tessera_testkit::cached_fixture(&dir, "180p.mp4", &recipe.split_whitespace().collect::<Vec<_>>())
}

fn rung() -> Rung {
    Rung::new(VideoCodec::H264, 180, 300)
}

struct Cluster {
    bus: Arc<dyn Bus>,
    stores: WorkerStores,
    shutdown: CancellationToken,
}

async fn start() -> Cluster {
    start_on(Arc::new(MemoryBus::new())).await
}

async fn start_on(bus: Arc<dyn Bus>) -> Cluster {
    ensure_streams(bus.as_ref()).await.unwrap();
    let stores = WorkerStores { sources: Store::in_memory(), outputs: Store::in_memory() };
    let shutdown = CancellationToken::new();
    let config = WorkerConfig {
        class: WorkerClass::Cpu,
        codecs: TaskCodec::ALL.to_vec(),
        slots: 2,
        delivery: DELIVERY,
        drain_timeout: Duration::from_secs(5),
        outage_window: Duration::from_secs(5),
        encode_child: None,
        benchmark_task_time: None,
    };
    tokio::spawn(tessera_worker::run(bus.clone(), stores.clone(), config, Default::default(), shutdown.clone()));
    tokio::spawn(tessera_packager::run(bus.clone(), stores.outputs.clone(), Duration::from_secs(5), shutdown.clone()));
    Cluster { bus, stores, shutdown }
}

/// Waits for the job's final event (packaged or failed).
async fn outcome(bus: &dyn Bus, job: &str) -> JobEventKind {
    let watch = bus
        .consumer(
            EVENTS_STREAM,
            &ConsumerConfig {
                durable: format!("watch-{job}"),
                filter_subject: job_events_subject(job),
                ack_wait: Duration::from_secs(30),
                max_deliver: 1,
                max_ack_pending: 10_000,
                dead_letter_subject: None,
            },
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        for d in watch.fetch(100, Duration::from_millis(200)).await.unwrap() {
            d.ack().await.unwrap();
            let event: JobEvent = serde_json::from_slice(&d.payload).unwrap();
            if matches!(event.kind, JobEventKind::Packaged { .. } | JobEventKind::Failed { .. }) {
                return event.kind;
            }
        }
    }
    panic!("job {job} did not end");
}

/// Publishes the plan of a one-segment, one-rendition job by hand.
async fn publish_plan(bus: &dyn Bus, job: &str) -> RenditionSpec {
    let spec = RenditionSpec::Video { rung: rung() };
    let plan = JobPlan {
        segments: 1,
        renditions: vec![spec.clone()],
        source: SourceInfo { width: 320, height: 180, frame_rate: 30.0, duration_secs: 1.0, frames: 30 },
        output_prefix: format!("outputs/{job}"),
        first: None,
        submitted_at_ms: None,
        subtitles: Vec::new(),
    };
    let planned = JobEvent::new(job, JobEventKind::Planned(plan));
    bus.publish(planned.to_message()).await.unwrap();
    spec
}

/// Publishes a one-segment, one-rendition job by hand.
async fn publish_single_task(bus: &dyn Bus, job: &str) -> Task {
    let spec = publish_plan(bus, job).await;
    let task = Task {
        version: WIRE_VERSION,
        job: job.into(),
        seq: 0,
        rendition: spec,
        source_key: source_segment_key(job, 0),
        output_key: format!("outputs/{job}/h264-180p/000000.m4s"),
        frame_rate: 30.0,
        published_at_ms: None,
        part_secs: None,
        report_captions: false,
        key_frame_fragment: false,
    };
    bus.publish(OutgoingMessage::json(
        task_subject(WorkerClass::Cpu, TaskCodec::H264, TaskPriority::Rest),
        Some(task.id()),
        &task,
    ))
    .await
    .unwrap();
    task
}

fn vod_spec(job: &str) -> VodJobSpec {
    VodJobSpec {
        job: job.into(),
        ladder: Ladder { rungs: vec![rung()], per_title: false },
        segment_duration: tessera_core::SegmentDuration::vod(Some(1.0)).unwrap(),
        speed: SpeedPreset::Veryfast,
        output_prefix: format!("outputs/{job}"),
        class: WorkerClass::Cpu,
        limits: Limits::default(),
        traceparent: Some(TRACE.into()),
        cutter: Default::default(),
        outage_window: Duration::from_secs(5),
        submitted_at_ms: None,
        thumbnail_interval_secs: 0.0,
        audio_languages: Vec::new(),
        subtitles: Vec::new(),
    }
}

/// The trace context the test jobs carry.
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_keeps_failing_is_dead_lettered_and_fails_its_job_with_the_last_error() {
    let cluster = start().await;
    // No source segment is ever written: every attempt fails to read it.
    publish_single_task(cluster.bus.as_ref(), "lost").await;
    match outcome(cluster.bus.as_ref(), "lost").await {
        JobEventKind::Failed { reason, bad_input } => {
            assert!(!bad_input);
            assert!(reason.starts_with("segment 0 of h264-180p failed 2 times; last error:"), "{reason}");
            assert!(reason.contains("sources/lost/000000.seg") && reason.contains("not found"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!cluster.stores.outputs.exists("outputs/lost/master.m3u8").await.unwrap());
    cluster.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_segment_fails_its_job_while_another_job_completes() {
    bad_and_good_jobs(start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_over_jetstream_on_a_real_nats_server() {
    let server = tessera_testkit::nats::NatsServer::start();
    let bus = tessera_core::bus::JetStreamBus::connect(&server.url()).await.unwrap();
    bad_and_good_jobs(start_on(Arc::new(bus)).await).await;
}

async fn bad_and_good_jobs(cluster: Cluster) {
    // Job "bad": a source segment of garbage.
    cluster
        .stores
        .sources
        .put(&source_segment_key("bad", 0), Bytes::from_static(b"garbage, not a source segment"))
        .await
        .unwrap();
    publish_single_task(cluster.bus.as_ref(), "bad").await;
    // Job "good": a real source through the coordinator, at the same time.
    let file = source();
    let plan = run_vod_job(cluster.bus.as_ref(), &cluster.stores.sources, &vod_spec("good"), file, &Default::default())
        .await
        .unwrap();
    assert_eq!(plan.segments, 2);
    match outcome(cluster.bus.as_ref(), "bad").await {
        JobEventKind::Failed { reason, bad_input } => {
            assert!(bad_input);
            assert!(
                reason.starts_with(
                    "segment 0 of h264-180p: malformed source segment: does not start with the TSSEG1 magic"
                ),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    match outcome(cluster.bus.as_ref(), "good").await {
        JobEventKind::Packaged { outputs } => assert!(outputs.contains(&"outputs/good/master.m3u8".to_string())),
        other => panic!("{other:?}"),
    }
    let playlist = cluster.stores.outputs.get("outputs/good/h264-180p/index.m3u8").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&playlist).matches("#EXTINF").count(), 2);
    // The job's trace context is on its plan (coordinator) and every segment report (workers).
    let events = cluster.bus.history(EVENTS_STREAM, &job_events_subject("good")).await.unwrap();
    let traced =
        |m: &tessera_core::bus::StoredMessage| m.message.headers.iter().any(|(k, v)| k == "traceparent" && v == TRACE);
    let reports: Vec<_> =
        events.iter().filter(|m| String::from_utf8_lossy(&m.message.payload).contains("segment_done")).collect();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|m| traced(m)) && traced(&events[0]), "trace context missing: {events:?}");
    cluster.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_held_by_a_vanished_worker_is_redelivered_and_the_job_completes() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    ensure_streams(bus.as_ref()).await.unwrap();
    let sources = Store::in_memory();
    let file = source();
    run_vod_job(bus.as_ref(), &sources, &vod_spec("steal"), file, &Default::default()).await.unwrap();
    // A "worker" takes the first task (the job's only rung: its first rendition) and dies without acking.
    let thief = bus
        .consumer(TASKS_STREAM, &task_consumer_config(WorkerClass::Cpu, TaskCodec::H264, TaskPriority::First, DELIVERY))
        .await
        .unwrap();
    let stolen = thief.fetch(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(stolen.len(), 1);
    drop(stolen);
    drop(thief);
    // Now the real services start; the stolen task comes back after the ack-wait.
    let stores = WorkerStores { sources, outputs: Store::in_memory() };
    let shutdown = CancellationToken::new();
    let config = WorkerConfig { slots: 2, delivery: DELIVERY, ..WorkerConfig::default() };
    tokio::spawn(tessera_worker::run(bus.clone(), stores.clone(), config, Default::default(), shutdown.clone()));
    tokio::spawn(tessera_packager::run(bus.clone(), stores.outputs.clone(), Duration::from_secs(5), shutdown.clone()));
    match outcome(bus.as_ref(), "steal").await {
        JobEventKind::Packaged { .. } => {}
        other => panic!("{other:?}"),
    }
    let playlist = stores.outputs.get("outputs/steal/h264-180p/index.m3u8").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&playlist).matches(".m4s").count(), 2, "no segment missing or listed twice");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_this_worker_cannot_read_fails_its_job_instead_of_hanging_it() {
    let cluster = start().await;
    // A task from a "newer coordinator" this worker cannot read.
    publish_plan(cluster.bus.as_ref(), "newer").await;
    let future = serde_json::json!({"version": 2, "job": "newer", "seq": 0, "rendition": {"kind": "hologram"}});
    let subject = task_subject(WorkerClass::Cpu, TaskCodec::H264, TaskPriority::Rest);
    cluster.bus.publish(OutgoingMessage::json(subject, Some("newer/x/0".into()), &future)).await.unwrap();
    match outcome(cluster.bus.as_ref(), "newer").await {
        JobEventKind::Failed { reason, bad_input: false } => {
            assert!(reason.contains("cannot read the task"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    cluster.shutdown.cancel();
}

/// A cancel reaches a running task at once: the worker follows the
/// cancelled-jobs bucket (it has no job records to poll), stops the task
/// within half a second, acks it and reports nothing for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_a_running_task_within_half_a_second() {
    use tessera_core::cancel::Cancellations;
    use tessera_core::kv::{KeyValue, MemoryKv};
    use tessera_core::topology::task_consumer_config;

    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    ensure_streams(bus.as_ref()).await.unwrap();
    let sources = Store::in_memory();
    run_vod_job(bus.as_ref(), &sources, &vod_spec("slow"), source(), &Default::default()).await.unwrap();
    let cancelled: Arc<dyn KeyValue> = Arc::new(MemoryKv::new());
    let stores = WorkerStores { sources, outputs: Store::in_memory() };
    let shutdown = CancellationToken::new();
    // Every task takes a minute: only a cancel ends it sooner.
    let config = WorkerConfig {
        slots: 2,
        delivery: DELIVERY,
        benchmark_task_time: Some(Duration::from_secs(60)),
        ..WorkerConfig::default()
    };
    let books = tessera_worker::WorkerBooks { cancels: Some(Cancellations::follow(cancelled.clone())), roster: None };
    tokio::spawn(tessera_worker::run(bus.clone(), stores, config, books, shutdown.clone()));
    let queue = task_consumer_config(WorkerClass::Cpu, TaskCodec::H264, TaskPriority::First, DELIVERY).durable;
    let depth = || async { bus.depth(TASKS_STREAM, &queue).await.unwrap().unwrap_or_default() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while depth().await.in_flight < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both tasks never ran: {:?}", depth().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Longer than the ack wait: the running tasks are kept alive meanwhile.
    tokio::time::sleep(DELIVERY.ack_wait * 2).await;
    assert_eq!(depth().await.in_flight, 2);

    Cancellations::follow(cancelled).cancel("slow").await.unwrap();
    let cancelled_at = tokio::time::Instant::now();
    while depth().await != Default::default() {
        assert!(cancelled_at.elapsed() < Duration::from_millis(500), "still running: {:?}", depth().await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let events = bus.history(EVENTS_STREAM, &job_events_subject("slow")).await.unwrap();
    let reported = events
        .iter()
        .filter_map(|m| serde_json::from_slice::<JobEvent>(&m.message.payload).ok())
        .filter(|e| matches!(e.kind, JobEventKind::SegmentDone(_) | JobEventKind::TaskRetry { .. }))
        .count();
    assert_eq!(reported, 0, "a cancelled task reports nothing");
    shutdown.cancel();
}
