//! [`LogShipLayer`]: captures `tracing` events into the shipper's buffer.

use std::fmt::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::Counters;
use super::task::in_shipping_task;
use crate::logs::record::LogLevel;
use crate::trace::{SpanId, TraceContext, TraceId};

/// The shipper's own target: never captured.
pub(crate) const OWN_TARGET: &str = "platform::observe::logs";

/// An event as captured on the emitting thread: borrowed `'static` names, owned values.
/// The shipping task turns it into a [`LogRecord`](crate::logs::LogRecord).
#[derive(Debug)]
pub(crate) struct Captured {
    pub(crate) time: SystemTime,
    pub(crate) level: LogLevel,
    pub(crate) target: &'static str,
    pub(crate) message: String,
    pub(crate) fields: Vec<(&'static str, Value)>,
    pub(crate) trace_id: Option<TraceId>,
    pub(crate) span_id: Option<SpanId>,
}

/// The emitters' signal to the shipping task that a full batch is queued: raised once
/// (by the first emitter to see the queue reach the threshold), re-armed by the task when
/// it takes from the queue. Events in between cost one relaxed load.
#[derive(Debug)]
pub(crate) struct ReadySignal {
    pub(crate) notify: Notify,
    raised: AtomicBool,
    threshold: usize,
}

impl ReadySignal {
    pub(crate) fn new(threshold: usize) -> Self {
        Self { notify: Notify::new(), raised: AtomicBool::new(false), threshold }
    }

    fn after_send(&self, tx: &mpsc::Sender<Captured>) {
        if self.raised.load(Ordering::Relaxed) {
            return;
        }
        let queued = tx.max_capacity().saturating_sub(tx.capacity());
        if queued >= self.threshold && !self.raised.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }

    pub(crate) fn rearm(&self) {
        self.raised.store(false, Ordering::Release);
    }
}

/// A `tracing_subscriber` layer that captures events into a
/// [`LogShipper`](super::LogShipper)'s bounded buffer. Obtain it from
/// [`LogShipper::layer`](super::LogShipper::layer); clones share the buffer.
///
/// Per event it reads the fields into a message and a list of `'static`-named values,
/// finds the trace and span id (the nearest enclosing span with a `trace_id` field, such
/// as the `http.request` span of [`ServerTraceLayer`](crate::trace::ServerTraceLayer),
/// else [`TraceContext::current_trace_id`]) and `try_send`s the result: when the buffer
/// is full the record is dropped and counted, so the emitting code never waits.
#[derive(Clone)]
pub struct LogShipLayer {
    pub(super) tx: mpsc::Sender<Captured>,
    pub(super) counters: Arc<Counters>,
    pub(super) ready: Arc<ReadySignal>,
    pub(super) min_level: LogLevel,
    pub(super) exclude: Arc<[Box<str>]>,
}

impl fmt::Debug for LogShipLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogShipLayer")
            .field("min_level", &self.min_level)
            .field("exclude", &self.exclude)
            .finish_non_exhaustive()
    }
}

impl LogShipLayer {
    fn captures(&self, meta: &tracing::Metadata<'_>) -> bool {
        LogLevel::from(*meta.level()) >= self.min_level
            && !self.exclude.iter().any(|p| meta.target().starts_with(&**p))
            && !in_shipping_task()
    }
}

/// The trace and span id recorded on a span.
#[derive(Debug, Default, Clone, Copy)]
struct SpanIds {
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
}

impl SpanIds {
    fn wanted(meta: &tracing::Metadata<'_>) -> bool {
        let fields = meta.fields();
        fields.field("trace_id").is_some() || fields.field("span_id").is_some()
    }

    fn set(&mut self, field: &Field, text: &str) {
        match field.name() {
            "trace_id" => self.trace_id = TraceId::parse(text).or(self.trace_id),
            "span_id" => self.span_id = SpanId::parse(text).or(self.span_id),
            _ => {}
        }
    }
}

impl Visit for SpanIds {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "trace_id" | "span_id") {
            let mut text = String::with_capacity(32);
            let _ = write!(text, "{value:?}");
            self.set(field, &text);
        }
    }
}

/// Reads an event's fields: `message` into the text, the rest as JSON values.
#[derive(Default)]
struct Fields {
    message: String,
    values: Vec<(&'static str, Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, v: Value) {
        self.values.push((field.name(), v));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push(field, Value::String(format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push(field, Value::String(value.to_owned()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let v = i64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.push(field, v);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let v = u64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.push(field, v);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number: keep their text.
        let v = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.push(field, v);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.push(field, Value::String(text));
    }
}

impl<S> tracing_subscriber::Layer<S> for LogShipLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !SpanIds::wanted(attrs.metadata()) {
            return;
        }
        let mut ids = SpanIds::default();
        attrs.record(&mut ids);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(ids);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !SpanIds::wanted(span.metadata()) {
            return;
        }
        let mut ext = span.extensions_mut();
        let mut ids = ext.remove::<SpanIds>().unwrap_or_default();
        values.record(&mut ids);
        ext.insert(ids);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !self.captures(meta) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut ids = SpanIds::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(found) = span.extensions().get::<SpanIds>()
                    && found.trace_id.is_some()
                {
                    ids = *found;
                    break;
                }
            }
        }
        if ids.trace_id.is_none() {
            ids.trace_id = TraceContext::current_trace_id();
        }
        let captured = Captured {
            time: SystemTime::now(),
            level: LogLevel::from(*meta.level()),
            target: meta.target(),
            message: fields.message,
            fields: fields.values,
            trace_id: ids.trace_id,
            span_id: ids.span_id,
        };
        match self.tx.try_send(captured) {
            Ok(()) => self.ready.after_send(&self.tx),
            Err(TrySendError::Full(_)) => self.counters.drop_full(),
            Err(TrySendError::Closed(_)) => self.counters.drop_stopped(),
        }
    }
}
