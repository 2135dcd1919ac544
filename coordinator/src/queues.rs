//! Queue depths of the worker task consumers (`worker-{class}-{codec}` and
//! `worker-{class}-{codec}-first`, see [`TaskPriority`]),
//! polled every few seconds into one snapshot per process: `GET /v1/cluster`
//! shows it and the `tessera_queue_pending` / `tessera_queue_in_flight`
//! gauges (`/metrics` and OTLP) report it, for autoscaling on the queue.
//! Every coordinator reports the same figures: aggregate with `max`, not `sum`.

use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::metrics::ObservableGauge;
use opentelemetry::KeyValue;
use serde::Serialize;
use tessera_core::bus::Bus;
use tessera_core::telemetry::SCOPE;
use tessera_core::wire::{task_consumer, TaskCodec, TaskPriority, WorkerClass, TASKS_STREAM};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

/// How often the depths are read.
pub const POLL: Duration = Duration::from_secs(5);

/// One task queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct QueueView {
    /// Worker class.
    pub class: String,
    /// Codec.
    pub codec: String,
    /// `first` (jobs' first playable renditions) or `rest`.
    #[schema(value_type = String)]
    pub priority: TaskPriority,
    /// The durable consumer workers of this class, codec and priority share.
    pub consumer: String,
    /// Tasks not taken yet (or waiting to be delivered again).
    pub waiting: u64,
    /// Tasks taken and not finished.
    pub in_flight: u64,
}

/// The latest depths of this process (shared by its gauges).
static SNAPSHOT: LazyLock<Mutex<Vec<QueueView>>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// Polls in a row that could not read the depths; after [`STALE_AFTER_FAILURES`]
/// the snapshot is dropped rather than reported as current.
static FAILURES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Failed polls (15 s) after which the depths are no longer reported.
const STALE_AFTER_FAILURES: u32 = 3;

/// The gauges; they read [`SNAPSHOT`] whenever metrics are collected.
static GAUGES: LazyLock<(ObservableGauge<u64>, ObservableGauge<u64>)> = LazyLock::new(|| {
    let meter = opentelemetry::global::meter(SCOPE);
    let gauge = |name: &'static str, description: &'static str, pick: fn(&QueueView) -> u64| {
        meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |observer| {
                for queue in snapshot() {
                    let labels = [
                        KeyValue::new("class", queue.class.clone()),
                        KeyValue::new("codec", queue.codec.clone()),
                        KeyValue::new("priority", if queue.priority == TaskPriority::First { "first" } else { "rest" }),
                    ];
                    observer.observe(pick(&queue), &labels);
                }
            })
            .build()
    };
    (
        gauge("tessera_queue_pending", "Tasks waiting plus in flight per worker queue (scale workers on this)", |q| {
            q.waiting + q.in_flight
        }),
        gauge("tessera_queue_in_flight", "Tasks taken by workers and not finished, per worker queue", |q| q.in_flight),
    )
});

/// The latest depths (empty until the first poll).
pub fn snapshot() -> Vec<QueueView> {
    SNAPSHOT.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Reads every queue's depth once; queues no worker ever opened are left out.
/// A coordinator that cannot read them for [`STALE_AFTER_FAILURES`] polls
/// reports none (an autoscaler then sees no figure instead of an old one).
pub async fn refresh(bus: &dyn Bus) {
    use std::sync::atomic::Ordering;
    let mut queues = Vec::new();
    for class in [WorkerClass::Cpu, WorkerClass::Gpu] {
        for (codec, priority) in TaskCodec::ALL.into_iter().flat_map(|c| TaskPriority::ALL.map(|p| (c, p))) {
            let consumer = task_consumer(class, codec, priority);
            match bus.depth(TASKS_STREAM, &consumer).await {
                Ok(Some(depth)) => queues.push(QueueView {
                    class: class.as_str().into(),
                    codec: codec.as_str().into(),
                    priority,
                    consumer,
                    waiting: depth.waiting,
                    in_flight: depth.in_flight,
                }),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, %consumer, "queue depth unavailable");
                    if FAILURES.fetch_add(1, Ordering::Relaxed) + 1 >= STALE_AFTER_FAILURES {
                        SNAPSHOT.lock().unwrap_or_else(PoisonError::into_inner).clear();
                    }
                    return;
                }
            }
        }
    }
    FAILURES.store(0, Ordering::Relaxed);
    *SNAPSHOT.lock().unwrap_or_else(PoisonError::into_inner) = queues;
}

/// Polls the depths every [`POLL`] until `shutdown`.
pub async fn run(bus: Arc<dyn Bus>, shutdown: CancellationToken) {
    LazyLock::force(&GAUGES);
    loop {
        refresh(bus.as_ref()).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}
