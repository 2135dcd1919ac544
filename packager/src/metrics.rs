//! The packager's metrics, made with the OpenTelemetry API: the `tessera
//! packager` command exports them at `/metrics` (Prometheus names below) and
//! over OTLP when an endpoint is set.

use std::sync::LazyLock;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;
use tessera_core::telemetry::SCOPE;

fn counter(name: &'static str, description: &'static str) -> Counter<u64> {
    opentelemetry::global::meter(SCOPE).u64_counter(name).with_description(description).build()
}

/// Job events handled (`tessera_packager_events_total`).
static EVENTS: LazyLock<Counter<u64>> = LazyLock::new(|| counter("tessera_packager_events", "Job events handled"));

/// Jobs ended by the packager, by outcome (`tessera_packager_jobs_total`).
static JOBS: LazyLock<Counter<u64>> = LazyLock::new(|| counter("tessera_packager_jobs", "Jobs packaged or failed"));

/// Live media playlists rewritten (`tessera_packager_live_playlist_updates_total`).
static LIVE_PLAYLIST_UPDATES: LazyLock<Counter<u64>> =
    LazyLock::new(|| counter("tessera_packager_live_playlist_updates", "Live media playlists rewritten"));

/// Counts one handled event.
pub fn event() {
    EVENTS.add(1, &[]);
}

/// Counts one job ended: `packaged` or `failed`.
pub fn job_ended(outcome: &'static str) {
    JOBS.add(1, &[KeyValue::new("outcome", outcome)]);
}

/// Counts one rewritten live media playlist.
pub fn live_playlist_updated() {
    LIVE_PLAYLIST_UPDATES.add(1, &[]);
}

/// Seconds from a low-latency part's source chunk being cut at ingest to the
/// part being listed in every rendition's playlist (`tessera_packager_live_part_latency_seconds`).
static LIVE_PART_LATENCY: LazyLock<Histogram<f64>> = LazyLock::new(|| {
    opentelemetry::global::meter(SCOPE)
        .f64_histogram("tessera_packager_live_part_latency")
        .with_unit("s")
        .with_description("From a part's last frame arriving at ingest to the part listed in every rendition")
        .with_boundaries(vec![0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0])
        .build()
});

/// Records one part listed everywhere, `secs` after its source was cut.
pub fn live_part_listed(secs: f64) {
    LIVE_PART_LATENCY.record(secs, &[]);
}
