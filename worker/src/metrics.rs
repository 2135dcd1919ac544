//! The worker's Prometheus metrics, in the process-wide default registry
//! (the `tessera worker` command serves it at `/metrics`).

use std::sync::LazyLock;

use prometheus::{
    register_histogram_vec, register_int_counter_vec, register_int_gauge, HistogramVec, IntCounterVec, IntGauge,
};

// Registering a metric fails only for a duplicate name or bad labels: these
// are fixed here, so `expect` states a programming error, not an input one.

/// Tasks running now.
pub static TASKS_IN_FLIGHT: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("tessera_worker_tasks_in_flight", "Tasks this worker is running").expect("metric")
});

/// Tasks settled, by codec and outcome (done, failed, retry, cancelled, handed_back).
pub static TASKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!("tessera_worker_tasks_total", "Tasks settled by codec and outcome", &["codec", "outcome"])
        .expect("metric")
});

/// Wall seconds per finished task, by codec.
pub static TASK_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "tessera_worker_task_seconds",
        "Wall time of finished tasks by codec",
        &["codec"],
        vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    )
    .expect("metric")
});
