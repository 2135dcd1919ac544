//! The packager's metrics, made with the OpenTelemetry API: the `tessera
//! packager` command exports them at `/metrics` (Prometheus names below) and
//! over OTLP when an endpoint is set.

use std::sync::LazyLock;

use opentelemetry::metrics::Counter;
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
