//! Ids from OpenTelemetry when its `tracing` layer is installed.

use std::str::FromStr;

use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, TraceContextExt, TraceFlags, TraceId as OtelTraceId,
    TraceState,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::context::{SpanId, TraceContext, TraceId};

/// Makes the remote caller the OpenTelemetry parent of `span`, then adopts its ids.
pub(crate) fn server_ids(span: &tracing::Span, ctx: TraceContext) -> TraceContext {
    if let Some(parent) = ctx.parent_id {
        let state = ctx
            .tracestate
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default();
        let remote = SpanContext::new(
            OtelTraceId::from_bytes(ctx.trace_id.0),
            OtelSpanId::from_bytes(parent.0),
            TraceFlags::new(ctx.flags),
            true,
            state,
        );
        // Fails only when the span has no OpenTelemetry data (layer not installed).
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    adopt(span, ctx)
}

/// Adopts the ids of the client span (a child of the current OpenTelemetry span).
pub(crate) fn client_ids(span: &tracing::Span, ctx: TraceContext) -> TraceContext {
    adopt(span, ctx)
}

fn adopt(span: &tracing::Span, mut ctx: TraceContext) -> TraceContext {
    let cx = span.context();
    let otel_span = cx.span();
    let sc = otel_span.span_context();
    if sc.is_valid() {
        ctx.trace_id = TraceId(sc.trace_id().to_bytes());
        ctx.span_id = SpanId(sc.span_id().to_bytes());
        ctx.flags = sc.trace_flags().to_u8();
    }
    ctx
}
