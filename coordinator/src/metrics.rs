//! The coordinator's metrics, made with the OpenTelemetry API like every
//! Tessera metric: the process's meter provider exports them at `/metrics`
//! (Prometheus names below) and over OTLP when an endpoint is set.

use opentelemetry::metrics::{Counter, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use tessera_core::telemetry::SCOPE;

/// Counters and gauges of the coordinator (cheap to clone).
#[derive(Clone)]
pub struct Metrics {
    requests: Counter<u64>,
    jobs_submitted: Counter<u64>,
    jobs_ended: Counter<u64>,
    upload_bytes: Counter<u64>,
    segmenting: UpDownCounter<i64>,
}

impl Metrics {
    /// The instruments, from the process's meter provider (no-ops without one).
    pub fn new() -> Self {
        let meter: Meter = opentelemetry::global::meter(SCOPE);
        let counter = |name: &'static str, description: &'static str| {
            meter.u64_counter(name).with_description(description).build()
        };
        Self {
            // tessera_http_requests_total{route,status}
            requests: counter("tessera_http_requests", "HTTP API requests by route and status"),
            // tessera_jobs_submitted_total
            jobs_submitted: counter("tessera_jobs_submitted", "Jobs accepted by this coordinator"),
            // tessera_jobs_ended_total{state}
            jobs_ended: counter("tessera_jobs_ended", "Jobs that reached an end state, by state"),
            // tessera_upload_bytes_total
            upload_bytes: counter("tessera_upload_bytes", "Bytes received by PUT /v1/uploads"),
            // tessera_jobs_segmenting
            segmenting: meter
                .i64_up_down_counter("tessera_jobs_segmenting")
                .with_description("Jobs this coordinator is segmenting now")
                .build(),
        }
    }

    /// Counts one API request (`route` is a matched route pattern, never a raw path).
    pub fn request(&self, route: &str, status: u16) {
        self.requests.add(1, &[KeyValue::new("route", route.to_string()), KeyValue::new("status", status.to_string())]);
    }

    /// Counts one accepted job.
    pub fn job_submitted(&self) {
        self.jobs_submitted.add(1, &[]);
    }

    /// Counts one job reaching `state`.
    pub fn job_ended(&self, state: &'static str) {
        self.jobs_ended.add(1, &[KeyValue::new("state", state)]);
    }

    /// Counts uploaded bytes.
    pub fn uploaded(&self, bytes: u64) {
        self.upload_bytes.add(bytes, &[]);
    }

    /// Counts a job being segmented by this process while the guard lives.
    pub fn segmenting(&self) -> Segmenting {
        self.segmenting.add(1, &[]);
        Segmenting(self.segmenting.clone())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A job being segmented (see [`Metrics::segmenting`]).
pub struct Segmenting(UpDownCounter<i64>);

impl Drop for Segmenting {
    fn drop(&mut self) {
        self.0.add(-1, &[]);
    }
}
