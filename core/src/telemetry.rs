//! Trace context across services. A job's W3C `traceparent` travels in the
//! NATS headers of its submission, tasks and events; each service makes its
//! spans children of it, so one job is one connected trace. The job's own
//! span is recorded when the job ends, with the span id chosen at submission
//! (see [`record_span`]), and spans whose times are known only afterwards
//! (queue waits) are recorded the same way.
//!
//! Without an installed tracer (no `OTEL_EXPORTER_OTLP_ENDPOINT`) all of this
//! costs a header parse and records nothing.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
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

    /// A new sampled trace with a new span id.
    pub fn new_root() -> Self {
        let trace = uuid::Uuid::new_v4().as_u128().max(1);
        Self { trace_id: TraceId::from(trace), span_id: new_span_id(), sampled: true }
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
    let bytes = uuid::Uuid::new_v4().as_u64_pair().0.max(1);
    SpanId::from(bytes)
}

/// Makes `span` a child of the `traceparent` header value, when there is a valid one.
/// Call it right after creating the span, before entering it.
pub fn adopt(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(parent) = traceparent.and_then(TraceParent::parse) {
        // Fails only without an OpenTelemetry layer, when there is nothing to link.
        let _ = span.set_parent(parent.context());
    }
}

/// The `traceparent` of `span` when it is recorded, else `fallback` (the job's own).
pub fn traceparent_of(span: &tracing::Span, fallback: Option<&str>) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        let flags = span_context.trace_flags().to_u8();
        return Some(format!("00-{}-{}-{flags:02x}", span_context.trace_id(), span_context.span_id()));
    }
    fallback.map(str::to_string)
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
        CHOSEN_TRACE_ID.with(Cell::take).unwrap_or_else(|| TraceParent::new_root().trace_id)
    }

    fn new_span_id(&self) -> SpanId {
        CHOSEN_SPAN_ID.with(Cell::take).unwrap_or_else(new_span_id)
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
    let parent = match (span.parent, span.id) {
        (Some(parent), _) => parent.context(),
        // A root whose trace id was chosen: a remote parent carrying only the trace id
        // would add a phantom parent, so start a fresh context on that trace.
        (None, Some(_)) | (None, None) => Context::new(),
    };
    let time = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
    let builder = tracer.span_builder(span.name).with_start_time(time(span.start_ms)).with_attributes(span.attributes);
    if let Some(id) = span.id {
        CHOSEN_SPAN_ID.with(|c| c.set(Some(id.span_id)));
        CHOSEN_TRACE_ID.with(|c| c.set(Some(id.trace_id)));
    }
    let mut started = builder.start_with_context(&tracer, &parent);
    CHOSEN_SPAN_ID.with(Cell::take);
    CHOSEN_TRACE_ID.with(Cell::take);
    if let Some(error) = span.error {
        use opentelemetry::trace::Span as _;
        started.set_status(opentelemetry::trace::Status::error(error.to_string()));
    }
    opentelemetry::trace::Span::end_with_timestamp(&mut started, time(span.end_ms.max(span.start_ms)));
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
}
