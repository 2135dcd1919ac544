//! Logs, traces and metrics of one tessera process.
//!
//! - Logs go to stderr, as text or as JSON lines (`--log-format json`), filtered
//!   by `TESSERA_LOG` (default `warn`). JSON lines carry the fields of the spans
//!   they happen in: job, segment, rendition and trace id.
//! - Traces go over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
//!   one) is set, with the standard `OTEL_*` settings (protocol, headers,
//!   resource attributes, batch delays). Tessera's spans at info level are sent
//!   whatever `TESSERA_LOG` says.
//! - Metrics made with the OpenTelemetry API land in the process's Prometheus
//!   registry (served at `/metrics`) and, with an endpoint, go over OTLP too.

use std::time::Duration;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tessera_core::telemetry::{ChosenSpanIds, SCOPE};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the fields of the enclosing spans.
    Json,
}

/// The installed providers; dropping it flushes what is buffered.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // Errors here mean the collector is gone; nothing useful is left to do at exit.
        if let Some(tracer) = self.tracer.take() {
            let _ = tracer.shutdown();
        }
        if let Some(meter) = self.meter.take() {
            let _ = meter.shutdown();
        }
    }
}

/// True when an OTLP endpoint is configured for `signal` (`TRACES`, `METRICS`).
fn otlp_configured(signal: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    set("OTEL_EXPORTER_OTLP_ENDPOINT") || set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"))
}

/// Sets up logging, tracing and metrics for a process running `service`
/// (its OpenTelemetry `service.name` unless `OTEL_SERVICE_NAME` says otherwise).
pub fn init(service: &'static str, format: LogFormat) -> anyhow::Result<Telemetry> {
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service);
    }
    let resource = resource.build();

    let tracer = if otlp_configured("TRACES") {
        let exporter = SpanExporter::builder().with_http().build().context("OTLP trace exporter")?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_id_generator(ChosenSpanIds)
            .with_resource(resource.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        Some(provider)
    } else {
        None
    };

    let prometheus = opentelemetry_prometheus::exporter()
        .with_registry(prometheus::default_registry().clone())
        .without_target_info()
        .scope_info_enabled(false)
        .build()
        .context("Prometheus metric exporter")?;
    let mut meter = SdkMeterProvider::builder().with_reader(prometheus).with_resource(resource);
    if otlp_configured("METRICS") {
        let exporter = MetricExporter::builder().with_http().build().context("OTLP metric exporter")?;
        meter = meter.with_reader(PeriodicReader::builder(exporter).with_interval(metric_interval()).build());
    }
    let meter = meter.build();
    opentelemetry::global::set_meter_provider(meter.clone());
    tessera_core::store::init_metrics();

    let mut filter = EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // srt-tokio warns once per datagram it cannot parse: anyone could fill the
    // logs by sending garbage to the SRT port. Its errors stay, unless asked.
    if !std::env::var("TESSERA_LOG").is_ok_and(|v| v.contains("srt_protocol")) {
        filter = filter.add_directive("srt_protocol=error".parse().context("log directive")?);
    }
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
    }
    .with_filter(filter);
    let traces = tracer.as_ref().map(|provider| {
        let spans = Targets::new().with_target("tessera", tracing::Level::INFO);
        tracing_opentelemetry::layer().with_tracer(provider.tracer(SCOPE)).with_filter(spans)
    });
    // Fails only when a subscriber is already installed (never: `run` is called once per process).
    let _ = tracing_subscriber::registry().with(logs).with(traces).try_init();
    Ok(Telemetry { tracer, meter: Some(meter) })
}

/// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds), default 60 s as the specification says.
fn metric_interval() -> Duration {
    std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(Duration::from_secs(60), Duration::from_millis)
}
