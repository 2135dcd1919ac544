//! The coordinator's Prometheus metrics, served as text at `/metrics`.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Counters and gauges of one coordinator process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    jobs_submitted: IntCounter,
    jobs_ended: IntCounterVec,
    upload_bytes: IntCounter,
    /// Submissions being segmented by this process.
    pub segmenting: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("tessera_http_requests_total", "HTTP API requests by route and status"),
            &["route", "status"],
        )
        .expect("valid metric");
        let jobs_submitted =
            IntCounter::new("tessera_jobs_submitted_total", "Jobs accepted by this coordinator").expect("valid metric");
        let jobs_ended = IntCounterVec::new(
            Opts::new("tessera_jobs_ended_total", "Jobs that reached an end state, by state"),
            &["state"],
        )
        .expect("valid metric");
        let upload_bytes =
            IntCounter::new("tessera_upload_bytes_total", "Bytes received by PUT /v1/uploads").expect("valid metric");
        let segmenting =
            IntGauge::new("tessera_jobs_segmenting", "Jobs this coordinator is segmenting now").expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(jobs_submitted.clone()),
            Box::new(jobs_ended.clone()),
            Box::new(upload_bytes.clone()),
            Box::new(segmenting.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Self { registry, requests, jobs_submitted, jobs_ended, upload_bytes, segmenting }
    }

    /// Counts one API request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests.with_label_values(&[route, &status.to_string()]).inc();
    }

    /// Counts one accepted job.
    pub fn job_submitted(&self) {
        self.jobs_submitted.inc();
    }

    /// Counts one job reaching `state`.
    pub fn job_ended(&self, state: &str) {
        self.jobs_ended.with_label_values(&[state]).inc();
    }

    /// Counts uploaded bytes.
    pub fn uploaded(&self, bytes: u64) {
        self.upload_bytes.inc_by(bytes);
    }

    /// The Prometheus text exposition of every metric: this coordinator's
    /// and the process's default registry (where OpenTelemetry instruments
    /// such as the queue gauges and store errors are exported).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let mut families = self.registry.gather();
        families.extend(prometheus::default_registry().gather());
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
