//! The worker's metrics, made with the OpenTelemetry API: the `tessera worker`
//! command exports them at `/metrics` (Prometheus names below) and over OTLP
//! when an endpoint is set. Without an installed meter provider they cost
//! nothing and record nothing.

use std::sync::LazyLock;

use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use tessera_core::telemetry::SCOPE;

fn meter() -> Meter {
    opentelemetry::global::meter(SCOPE)
}

/// Tasks running now (`tessera_worker_tasks_in_flight`).
static TASKS_IN_FLIGHT: LazyLock<UpDownCounter<i64>> = LazyLock::new(|| {
    meter()
        .i64_up_down_counter("tessera_worker_tasks_in_flight")
        .with_description("Tasks this worker is running")
        .build()
});

/// Tasks settled, by codec and outcome (`tessera_worker_tasks_total`).
static TASKS: LazyLock<Counter<u64>> = LazyLock::new(|| {
    meter().u64_counter("tessera_worker_tasks").with_description("Tasks settled by codec and outcome").build()
});

/// Wall seconds per finished task, by codec (`tessera_worker_task_seconds`).
static TASK_SECONDS: LazyLock<Histogram<f64>> = LazyLock::new(|| {
    meter()
        .f64_histogram("tessera_worker_task")
        .with_unit("s")
        .with_description("Wall time of finished tasks by codec")
        .with_boundaries(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
        .build()
});

/// Frames encoded per wall second of a video task's encode, by codec and rung (`tessera_encode_fps`).
static ENCODE_FPS: LazyLock<Histogram<f64>> = LazyLock::new(|| {
    meter()
        .f64_histogram("tessera_encode_fps")
        .with_description("Frames per second of each segment's scale and encode, by codec and rung")
        .with_boundaries(vec![5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 240.0, 480.0, 960.0])
        .build()
});

/// From a task's publication to its fragment being written, by codec (`tessera_segment_latency_seconds`).
static SEGMENT_LATENCY: LazyLock<Histogram<f64>> = LazyLock::new(|| {
    meter()
        .f64_histogram("tessera_segment_latency")
        .with_unit("s")
        .with_description("Seconds from a task's publication to its segment being written (queue wait + run), by codec")
        .with_boundaries(vec![0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0])
        .build()
});

/// Counts a settled task: `done`, `failed`, `retry`, `cancelled` or `handed_back`.
pub fn task_settled(codec: &'static str, outcome: &'static str) {
    TASKS.add(1, &[KeyValue::new("codec", codec), KeyValue::new("outcome", outcome)]);
}

/// Records a finished task's wall time and, when it was published at a known
/// time, its segment latency.
pub fn task_finished(codec: &'static str, run_secs: f64, latency_secs: Option<f64>) {
    let labels = [KeyValue::new("codec", codec)];
    TASK_SECONDS.record(run_secs, &labels);
    if let Some(latency) = latency_secs {
        SEGMENT_LATENCY.record(latency, &labels);
    }
}

/// Records one video segment's encode speed.
pub fn encoded(codec: &'static str, rung: String, frames: u64, secs: f64) {
    if secs > 0.0 && frames > 0 {
        ENCODE_FPS.record(frames as f64 / secs, &[KeyValue::new("codec", codec), KeyValue::new("rung", rung)]);
    }
}

/// Counts a running task in `tessera_worker_tasks_in_flight` while alive.
pub struct InFlight;

impl InFlight {
    /// One more task running.
    pub fn start() -> Self {
        TASKS_IN_FLIGHT.add(1, &[]);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        TASKS_IN_FLIGHT.add(-1, &[]);
    }
}
