//! W3C trace context: ids, the `traceparent` header, and the context of the current request.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use http::HeaderValue;

/// A 16-byte trace id, shown as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id, shown as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lower-case hex into `out`, which holds exactly twice as many.
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

/// `bytes` (at most 16) as lower-case hex, written without the formatting machinery:
/// ids are formatted on every request that propagates a trace.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut buf = [0u8; 32];
    let out = &mut buf[..bytes.len() * 2];
    hex_into(out, bytes);
    f.pad(std::str::from_utf8(out).map_err(|_| fmt::Error)?)
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl TraceId {
    /// A random, valid (non-zero) trace id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..).to_be_bytes();
            if id != [0; 16] {
                return Self(id);
            }
        }
    }

    /// Parses 32 lower-case hex digits; the all-zero id is invalid.
    pub fn parse(s: &str) -> Option<Self> {
        parse_hex(s).filter(|b| *b != [0; 16]).map(Self)
    }
}

impl SpanId {
    /// A random, valid (non-zero) span id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..).to_be_bytes();
            if id != [0; 8] {
                return Self(id);
            }
        }
    }

    /// Parses 16 lower-case hex digits; the all-zero id is invalid.
    pub fn parse(s: &str) -> Option<Self> {
        parse_hex(s).filter(|b| *b != [0; 8]).map(Self)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The parsed `traceparent` header: `00-<trace id>-<parent span id>-<flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace this request belongs to.
    pub trace_id: TraceId,
    /// The caller's span.
    pub parent_id: SpanId,
    /// Trace flags; bit 0 is `sampled`.
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value (W3C Trace Context level 1). Version `00` must have
    /// exactly four fields; later versions may append fields, which are ignored.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut parts = value.split('-');
        let version = parts.next()?;
        let version = parse_hex::<1>(version)?[0];
        if version == 0xff {
            return None;
        }
        let trace_id = TraceId::parse(parts.next()?)?;
        let parent_id = SpanId::parse(parts.next()?)?;
        let flags = parse_hex::<1>(parts.next()?)?[0];
        if version == 0 && (parts.next().is_some() || value.len() != 55) {
            return None;
        }
        Some(Self { trace_id, parent_id, flags })
    }

    /// `true` when the caller sampled the trace.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The header value, version `00`.
    pub fn to_header_value(&self) -> HeaderValue {
        // `00-` 32 hex `-` 16 hex `-` 2 hex: 55 bytes.
        let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex_into(&mut buf[3..35], &self.trace_id.0);
        hex_into(&mut buf[36..52], &self.parent_id.0);
        hex_into(&mut buf[53..55], &[self.flags]);
        HeaderValue::from_bytes(&buf).expect("hex digits and dashes are a valid header value")
    }
}

/// The trace context of one hop: the trace, this hop's span, the remote parent, and the
/// `tracestate` and `baggage` headers carried along unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: TraceId,
    /// This hop's span.
    pub span_id: SpanId,
    /// The caller's span, when the trace came from upstream.
    pub parent_id: Option<SpanId>,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
    /// The vendor `tracestate` header, forwarded as received.
    pub tracestate: Option<HeaderValue>,
    /// The W3C `baggage` header, forwarded as received.
    pub baggage: Option<HeaderValue>,
}

thread_local! {
    // Shared, so entering and leaving a context moves a pointer, not the context.
    static CURRENT: RefCell<Option<Arc<TraceContext>>> = const { RefCell::new(None) };
}

impl TraceContext {
    /// A new trace with a random id and span, sampled.
    pub fn new_root() -> Self {
        Self {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_id: None,
            flags: 1,
            tracestate: None,
            baggage: None,
        }
    }

    /// A child of this context: same trace, new span, this span as parent.
    pub fn child(&self) -> Self {
        self.clone().into_child()
    }

    /// [`child`](Self::child), taking this context instead of copying it.
    pub fn into_child(self) -> Self {
        Self { span_id: SpanId::random(), parent_id: Some(self.span_id), ..self }
    }

    /// The `traceparent` to send downstream: this span as the parent.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent { trace_id: self.trace_id, parent_id: self.span_id, flags: self.flags }
    }

    /// The context of the request being served on this thread: set by
    /// [`ServerTrace`](super::ServerTrace) while its inner future (your handler) is polled.
    /// Tasks you spawn do not inherit it; wrap them with [`TraceContext::scope`].
    pub fn current() -> Option<Self> {
        CURRENT.with(|c| c.borrow().as_deref().cloned())
    }

    /// The current trace id, if a request is being served on this thread.
    pub fn current_trace_id() -> Option<TraceId> {
        CURRENT.with(|c| c.borrow().as_ref().map(|c| c.trace_id))
    }

    /// Records the ids on a span declared with empty `trace_id`, `span_id`, `parent_id`.
    pub(crate) fn record_on(&self, span: &tracing::Span) {
        // A span no subscriber wants (the usual case with logging at `warn`) records
        // nothing, but each `record` would still look its field up by name.
        if span.is_disabled() {
            return;
        }
        span.record("trace_id", tracing::field::display(self.trace_id));
        span.record("span_id", tracing::field::display(self.span_id));
        if let Some(p) = self.parent_id {
            span.record("parent_id", tracing::field::display(p));
        }
    }

    /// Runs `fut` with this context as [`current`](Self::current) while it is polled.
    pub fn scope<F>(self, fut: F) -> super::future::Scoped<F> {
        super::future::Scoped::new(self, fut)
    }
}

/// Sets the current context for the lifetime of the guard, restoring the previous one.
pub(crate) struct Enter<'a> {
    slot: &'a mut Option<Arc<TraceContext>>,
}

impl<'a> Enter<'a> {
    pub(crate) fn new(slot: &'a mut Option<Arc<TraceContext>>) -> Self {
        let prev = CURRENT.with(|c| c.replace(slot.take()));
        *slot = prev;
        Self { slot }
    }
}

impl Drop for Enter<'_> {
    fn drop(&mut self) {
        let prev = self.slot.take();
        let ours = CURRENT.with(|c| c.replace(prev));
        *self.slot = ours;
    }
}
