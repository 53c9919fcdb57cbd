//! [`AuditLayer`]: captures `tracing` events with target `audit` into an [`AuditLog`].

mod config;
pub(crate) mod fields;
mod stats;
mod writer;

use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use config::AuditLayerConfig;
pub use stats::AuditStats;
pub use writer::AuditWriter;

use self::fields::EventFields;
use self::stats::Counters;
use self::writer::{Msg, WriteSettings};
use super::{AuditError, AuditLog};
use crate::trace::TraceContext;

/// A `tracing_subscriber` layer appending events with the audit target to an
/// [`AuditLog`] without blocking the code that emits them. Clones share the channel and
/// counters.
///
/// # Field mapping
///
/// | record field | event field (first present wins) |
/// |---|---|
/// | `action` | `action`, `event`, else the message, else the event's name |
/// | `actor` | `actor`, `sub`, `subject`, `user` |
/// | `resource` | `resource`, `path`, `key_id`, `family`, `kid` |
/// | `outcome` | `outcome` (`success`, `failure`, `denied`, `error`, `unknown`); without it: `denied` for an action ending in `denied`, else `error` for `ERROR` events, `failure` for `WARN`, `success` below |
/// | `reason` | `reason` |
/// | `source_addr` | `source_addr`, `source`, `client_addr`, `remote_addr`, `peer_addr` |
/// | `trace_id` | `trace_id`, else the request's [`TraceContext`], else a `trace_id` field of an enclosing span |
/// | `extra` | every other field, the message included |
///
/// Texts are cut to the record limits and NUL characters removed, so a captured event
/// never fails an append.
///
/// # Never blocking the caller
///
/// The layer only builds the record and `try_send`s it into a bounded channel
/// ([`AuditLayerConfig::buffer`]); when the channel is full the record is dropped and
/// counted ([`AuditStats::dropped`], metric `audit_records_dropped_total`). A background
/// writer appends in batches of up to [`AuditLayerConfig::batch_size`], retrying a failed
/// batch with backoff.
///
/// # Where the writer runs
///
/// [`AuditLayer::new`] spawns the writer on the current tokio runtime when there is one,
/// and otherwise on a dedicated thread (`platform-audit-writer`) running its own
/// single-threaded runtime, so building the subscriber before any runtime exists works.
/// A PostgreSQL pool's connections belong to the runtime that opened them: outside a
/// runtime, prefer [`AuditLayer::with_runtime`] with the handle of the runtime the
/// [`Store`](platform_core::store::Store) was connected on. SQLite pools work from any
/// runtime.
///
/// # Filters
///
/// A filter applied to the whole subscriber (a global `EnvFilter` such as `warn`) drops
/// audit events before any layer sees them. Filter the output layers instead
/// (`fmt_layer.with_filter(env_filter)`) and add this layer unfiltered, as the
/// "Audit trail" section of `docs/observability.md` shows, so audit capture does not
/// depend on the log level.
///
/// # Example
///
/// ```
/// use platform_core::store::Store;
/// use platform_observe::audit::{AuditLayer, AuditLayerConfig, AuditLog, AuditQuery};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let log = AuditLog::new(Store::connect("sqlite::memory:").await?).await?;
/// let (layer, writer) = AuditLayer::new(log.clone(), AuditLayerConfig::default())?;
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::warn!(target: "audit", event = "access_denied", sub = "eve", path = "/admin", "denied");
///     tracing::info!("not an audit event: ignored by the layer");
/// });
/// writer.flush().await?;
/// let page = log.query(&AuditQuery::new()).await?;
/// assert_eq!(page.entries.len(), 1);
/// let record = &page.entries[0].record;
/// assert_eq!((record.action.as_str(), record.actor.as_deref()), ("access_denied", Some("eve")));
/// assert_eq!(record.outcome.as_str(), "denied");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AuditLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    target: String,
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
}

impl AuditLayer {
    /// A layer writing to `log`; the writer runs on the current tokio runtime, or on a
    /// dedicated thread when there is none. Fails on an invalid config, or when the
    /// thread cannot be started.
    pub fn new(log: AuditLog, cfg: AuditLayerConfig) -> Result<(Self, AuditWriter), AuditError> {
        match Handle::try_current() {
            Ok(handle) => Self::with_runtime(log, cfg, &handle),
            Err(_) => {
                let (layer, writer, task) = Self::parts(log, cfg)?;
                std::thread::Builder::new()
                    .name("platform-audit-writer".to_owned())
                    .spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                        match rt {
                            Ok(rt) => rt.block_on(task),
                            Err(e) => tracing::error!(
                                target: "platform::observe::audit",
                                error = %e, "cannot start the audit writer's runtime; audit records are dropped"
                            ),
                        }
                    })
                    .map_err(AuditError::WriterStart)?;
                Ok((layer, writer))
            }
        }
    }

    /// A layer writing to `log`, its writer spawned on `runtime`.
    pub fn with_runtime(
        log: AuditLog,
        cfg: AuditLayerConfig,
        runtime: &Handle,
    ) -> Result<(Self, AuditWriter), AuditError> {
        let (layer, writer, task) = Self::parts(log, cfg)?;
        runtime.spawn(task);
        Ok((layer, writer))
    }

    fn parts(
        log: AuditLog,
        cfg: AuditLayerConfig,
    ) -> Result<(Self, AuditWriter, impl Future<Output = ()> + Send + 'static), AuditError> {
        cfg.validate()?;
        let (tx, rx) = mpsc::channel(cfg.buffer);
        let counters = Arc::new(Counters::default());
        let settings = WriteSettings {
            batch_size: cfg.batch_size,
            attempts: cfg.write_attempts,
            backoff: cfg.retry_backoff,
        };
        let task = writer::run(log, rx, Arc::clone(&counters), settings);
        let writer = AuditWriter { tx: tx.clone(), counters: Arc::clone(&counters) };
        let layer = Self { shared: Arc::new(Shared { target: cfg.target, tx, counters }) };
        Ok((layer, writer, task))
    }

    /// The counters so far (the same as [`AuditWriter::stats`]).
    pub fn stats(&self) -> AuditStats {
        self.shared.counters.snapshot()
    }

    fn send(&self, record: super::AuditRecord) {
        let c = &self.shared.counters;
        Counters::add(&c.captured, 1);
        if self.shared.tx.try_send(Msg::Record(record)).is_err() {
            Counters::add(&c.dropped, 1);
        }
    }
}

/// A span's `trace_id` field, kept in its extensions.
#[derive(Debug, Clone)]
struct SpanTraceId(String);

/// Reads a `trace_id` field, if the visited values have one.
#[derive(Debug, Default)]
struct TraceIdField(Option<String>);

impl Visit for TraceIdField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "trace_id" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "trace_id" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S> Layer<S> for AuditLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.on_record(id, &Record::new(attrs.values()), ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut field = TraceIdField::default();
        values.record(&mut field);
        if let (Some(trace_id), Some(span)) = (field.0, ctx.span(id)) {
            span.extensions_mut().replace(SpanTraceId(trace_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() != self.shared.target {
            return;
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let current_trace = || {
            TraceContext::current_trace_id().map(|t| t.to_string()).or_else(|| {
                ctx.event_scope(event)?
                    .find_map(|span| span.extensions().get::<SpanTraceId>().map(|t| t.0.clone()))
            })
        };
        self.send(fields.into_record(*meta.level(), meta.name(), current_trace));
    }
}
