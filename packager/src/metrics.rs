//! The packager's Prometheus metrics, in the process-wide default registry
//! (the `tessera packager` command serves it at `/metrics`).

use std::sync::LazyLock;

use prometheus::{register_int_counter, register_int_counter_vec, IntCounter, IntCounterVec};

// Registering a metric fails only for a duplicate name or bad labels: these
// are fixed here, so `expect` states a programming error, not an input one.

/// Job events handled.
pub static EVENTS: LazyLock<IntCounter> =
    LazyLock::new(|| register_int_counter!("tessera_packager_events_total", "Job events handled").expect("metric"));

/// Jobs ended by the packager, by outcome (packaged, failed).
pub static JOBS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!("tessera_packager_jobs_total", "Jobs packaged or failed", &["outcome"]).expect("metric")
});

/// Live media playlists rewritten because a rendition's run of segments grew.
pub static LIVE_PLAYLIST_UPDATES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("tessera_packager_live_playlist_updates_total", "Live media playlists rewritten")
        .expect("metric")
});
