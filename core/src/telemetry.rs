//! Trace context across services. A job's W3C `traceparent` travels in the
//! NATS headers of its submission, tasks and events; each service makes its
//! spans children of it, so one job is one connected trace. The job's own
//! span is recorded when the job ends, with the span id chosen at submission
//! (see [`record_span`]), and spans whose times are known only afterwards
//! (queue waits) are recorded the same way.
//!
//! Without an installed tracer (no `OTEL_EXPORTER_OTLP_ENDPOINT`) all of this
//! costs a header parse and records nothing.
//!
//! It also renders the process's metrics as Prometheus text (every service's `/metrics`).

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Instrumentation scope of every span Tessera records itself.
pub const SCOPE: &str = "tessera";

/// A parsed W3C `traceparent` (version 00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The parent span.
    pub span_id: SpanId,
    /// Whether the trace is sampled.
    pub sampled: bool,
}

impl TraceParent {
    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; `None` for anything else or all-zero ids.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if parts.next().is_some() || version != "00" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
            return None;
        }
        let trace_id = TraceId::from_hex(trace).ok().filter(|t| *t != TraceId::INVALID)?;
        let span_id = SpanId::from_hex(span).ok().filter(|s| *s != SpanId::INVALID)?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self { trace_id, span_id, sampled: flags & 1 == 1 })
    }

    /// A new trace with a new span id, sampled as the process's
    /// `OTEL_TRACES_SAMPLER` would sample a root span of it (so a job's later
    /// root span and its children, which follow this flag, agree).
    pub fn new_root() -> Self {
        let trace_id = RandomIdGenerator::default().new_trace_id();
        Self { trace_id, span_id: new_span_id(), sampled: root_sampled(trace_id) }
    }

    /// The same trace with a new span id (for a span whose parent is `self`).
    pub fn new_child(&self) -> Self {
        Self { span_id: new_span_id(), ..*self }
    }

    /// The header value.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, u8::from(self.sampled))
    }

    /// The trace id as 32 hex digits (what logs carry).
    pub fn trace_hex(&self) -> String {
        self.trace_id.to_string()
    }

    /// The trace id of a `traceparent` header value, or `""` without a valid one.
    pub fn trace_hex_of(header: Option<&str>) -> String {
        header.and_then(Self::parse).map(|t| t.trace_hex()).unwrap_or_default()
    }

    /// An OpenTelemetry context whose remote parent is this span.
    pub fn context(&self) -> Context {
        let flags = if self.sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        Context::new().with_remote_span_context(SpanContext::new(
            self.trace_id,
            self.span_id,
            flags,
            true,
            TraceState::default(),
        ))
    }
}

fn new_span_id() -> SpanId {
    RandomIdGenerator::default().new_span_id()
}

/// Whether the configured sampler keeps a root span of `trace_id`: the
/// standard `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` settings, read
/// once (default: always on). Ratio sampling decides on the trace id alone,
/// so the decision made here is the one the SDK makes for the job's span.
fn root_sampled(trace_id: TraceId) -> bool {
    use opentelemetry::trace::SpanKind;
    use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
    static SAMPLER: std::sync::LazyLock<Sampler> = std::sync::LazyLock::new(|| {
        let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
        let ratio = || {
            let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
            arg.and_then(|a| a.trim().parse::<f64>().ok()).filter(|r| (0.0..=1.0).contains(r)).unwrap_or(1.0)
        };
        match name.trim() {
            "always_off" | "parentbased_always_off" => Sampler::AlwaysOff,
            "traceidratio" | "parentbased_traceidratio" => Sampler::TraceIdRatioBased(ratio()),
            _ => Sampler::AlwaysOn,
        }
    });
    let result = SAMPLER.should_sample(None, trace_id, "job", &SpanKind::Internal, &[], &[]);
    result.decision == SamplingDecision::RecordAndSample
}

/// Makes `span` a child of the `traceparent` header value, when there is a valid one.
/// Call it right after creating the span, before entering it.
pub fn adopt(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(parent) = traceparent.and_then(TraceParent::parse) {
        // Fails only without an OpenTelemetry layer, when there is nothing to link.
        let _ = span.set_parent(parent.context());
    }
}

thread_local! {
    /// The span id the next span started on this thread must have (see [`ChosenSpanIds`]).
    static CHOSEN_SPAN_ID: Cell<Option<SpanId>> = const { Cell::new(None) };
    /// The trace id the next root span started on this thread must have.
    static CHOSEN_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// An id generator that gives the next span the id [`record_span`] chose
/// (the SDK has no other way to record a span whose id was handed out before
/// it started), and random ids otherwise. Install it in the tracer provider.
#[derive(Debug, Default)]
pub struct ChosenSpanIds;

impl opentelemetry_sdk::trace::IdGenerator for ChosenSpanIds {
    fn new_trace_id(&self) -> TraceId {
        CHOSEN_TRACE_ID.with(Cell::take).unwrap_or_else(|| RandomIdGenerator::default().new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        CHOSEN_SPAN_ID.with(Cell::take).unwrap_or_else(new_span_id)
    }
}

/// The ids the next span started on this thread gets; cleared when dropped,
/// even by a panic, so they can never reach another span.
struct Chosen;

impl Chosen {
    fn set(id: TraceParent) -> Self {
        CHOSEN_SPAN_ID.with(|c| c.set(Some(id.span_id)));
        CHOSEN_TRACE_ID.with(|c| c.set(Some(id.trace_id)));
        Self
    }
}

impl Drop for Chosen {
    fn drop(&mut self) {
        CHOSEN_SPAN_ID.with(Cell::take);
        CHOSEN_TRACE_ID.with(Cell::take);
    }
}

/// A span whose times are known after the fact.
#[derive(Debug)]
pub struct PastSpan<'a> {
    /// Span name.
    pub name: &'static str,
    /// The span itself when its id was handed out before (a job's span), else a new id.
    pub id: Option<TraceParent>,
    /// Its parent (a remote context); `None` with `id` set makes it a trace root.
    pub parent: Option<TraceParent>,
    /// Start, milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// End, milliseconds since the Unix epoch.
    pub end_ms: u64,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// An error that ended it, if any.
    pub error: Option<&'a str>,
}

/// Records a finished span through the global tracer provider.
pub fn record_span(span: PastSpan<'_>) {
    let tracer = opentelemetry::global::tracer_provider().tracer(SCOPE);
    // Without a parent the span is a root; a chosen trace id then comes
    // through the id generator (a parent carrying only the trace id would
    // show up as a phantom parent).
    let parent = span.parent.map_or_else(Context::new, |parent| parent.context());
    let time = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
    let builder = tracer.span_builder(span.name).with_start_time(time(span.start_ms)).with_attributes(span.attributes);
    let mut started = {
        let _chosen = span.id.map(Chosen::set);
        builder.start_with_context(&tracer, &parent)
    };
    if let Some(error) = span.error {
        use opentelemetry::trace::Span as _;
        started.set_status(opentelemetry::trace::Status::error(error.to_string()));
    }
    opentelemetry::trace::Span::end_with_timestamp(&mut started, time(span.end_ms.max(span.start_ms)));
}

/// The Prometheus text exposition of the process's default registry, where
/// the OpenTelemetry Prometheus exporter puts every metric.
pub fn prometheus_text() -> String {
    use prometheus::Encoder;
    let mut out = Vec::new();
    // Encoding gathered families into a Vec cannot fail.
    let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_traceparent() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceParent::parse(value).expect("valid");
        assert_eq!(parsed.header(), value);
        assert!(parsed.sampled);
        let child = parsed.new_child();
        assert_eq!(child.trace_id, parsed.trace_id);
        assert_ne!(child.span_id, parsed.span_id);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        assert!(TraceParent::parse(&TraceParent::new_root().header()).is_some());
    }

    #[test]
    fn past_spans_get_the_chosen_ids_and_nothing_else_does() {
        use opentelemetry_sdk::trace::{InMemorySpanExporterBuilder, SdkTracerProvider};
        let exporter = InMemorySpanExporterBuilder::new().build();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_id_generator(ChosenSpanIds)
            .build();
        opentelemetry::global::set_tracer_provider(provider);
        let job = TraceParent::new_root();
        let past = |name, id, parent, start_ms| PastSpan {
            name,
            id,
            parent,
            start_ms,
            end_ms: start_ms + 500,
            attributes: Vec::new(),
            error: None,
        };
        record_span(past("job", Some(job), None, 1_000));
        record_span(past("task.queue_wait", None, Some(job), 1_100));
        let client = TraceParent::new_root();
        let child_job = client.new_child();
        record_span(past("job", Some(child_job), Some(client), 2_000));

        let spans = exporter.get_finished_spans().expect("spans");
        let find = |name: &str, trace: TraceId| {
            spans.iter().find(|s| s.name == name && s.span_context.trace_id() == trace).expect(name)
        };
        let root = find("job", job.trace_id);
        assert_eq!(root.span_context.span_id(), job.span_id);
        assert_eq!(root.parent_span_id, SpanId::INVALID, "a job without a caller is a root");
        assert_eq!(root.start_time, UNIX_EPOCH + Duration::from_millis(1_000));
        assert_eq!(root.end_time, UNIX_EPOCH + Duration::from_millis(1_500));
        let wait = find("task.queue_wait", job.trace_id);
        assert_eq!(wait.parent_span_id, job.span_id);
        assert_ne!(wait.span_context.span_id(), job.span_id, "the chosen id went to one span only");
        let nested = find("job", client.trace_id);
        assert_eq!(nested.span_context.span_id(), child_job.span_id);
        assert_eq!(nested.parent_span_id, client.span_id, "a job continues its caller's trace");
        assert!(CHOSEN_SPAN_ID.with(Cell::get).is_none() && CHOSEN_TRACE_ID.with(Cell::get).is_none());
    }
}
