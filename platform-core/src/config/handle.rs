//! `ConfigHandle`: the current value, lock-free to read, swapped atomically on updates.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use tokio::sync::{broadcast, watch};

use super::error::{Origin, UpdateError};
use super::event::{ConfigChange, ConfigEvent};

pub(super) type Validator<T> = Box<dyn Fn(&T) -> Result<(), String> + Send + Sync>;
/// Pushes a projection of the new value into a section channel; `false` once nobody listens.
type Section<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// How many events a slow [`ConfigHandle::events`] receiver may fall behind before it
/// sees `Lagged`.
const EVENT_CAPACITY: usize = 64;

/// The current configuration: a cheap lock-free read, atomic updates with validation,
/// change subscriptions and restart-required keys.
///
/// Clones share one value. Reads never block and never see a half-applied update. An
/// update that fails to load or validate leaves the last good value in place and is
/// reported three ways: the returned [`UpdateError`], a [`ConfigEvent::Rejected`] on
/// [`events`](Self::events), and a `tracing` warning (target `platform::config`).
///
/// ```
/// use platform_core::config::{ConfigEvent, ConfigHandle};
///
/// #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct App { port: u16, timeout_ms: u64 }
///
/// let handle = ConfigHandle::builder()
///     .validate(|c: &App| if c.timeout_ms == 0 { Err("timeout_ms must be > 0".into()) } else { Ok(()) })
///     .restart_required(["port"])
///     .build(App { port: 80, timeout_ms: 100 })
///     .unwrap();
/// let mut events = handle.events();
///
/// // Invalid: rejected, the last good value stays.
/// assert!(handle.update(App { port: 80, timeout_ms: 0 }).is_err());
/// assert_eq!(handle.load().timeout_ms, 100);
/// assert_eq!(handle.version(), 1);
///
/// // The port needs a restart: held back and reported, the timeout is applied.
/// handle.update(App { port: 81, timeout_ms: 200 }).unwrap();
/// assert_eq!(*handle.load_full(), App { port: 80, timeout_ms: 200 });
/// assert_eq!(handle.version(), 2);
/// assert!(matches!(events.try_recv(), Ok(ConfigEvent::Rejected { .. })));
/// assert!(matches!(events.try_recv(), Ok(ConfigEvent::RestartRequired { keys, .. }) if keys == ["port"]));
/// ```
pub struct ConfigHandle<T> {
    pub(super) inner: Arc<Inner<T>>,
}

pub(super) struct Inner<T> {
    pub(super) current: ArcSwap<T>,
    pub(super) version: AtomicU64,
    pub(super) validator: Option<Validator<T>>,
    pub(super) restart_required: Vec<String>,
    pub(super) changes: watch::Sender<Arc<ConfigChange<T>>>,
    pub(super) events: broadcast::Sender<ConfigEvent>,
    /// Section projections; the mutex also serialises updates.
    pub(super) sections: Mutex<Vec<Section<T>>>,
    pub(super) pending_restart: Mutex<Vec<String>>,
}

impl<T> Clone for ConfigHandle<T> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<T: fmt::Debug> fmt::Debug for ConfigHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigHandle")
            .field("version", &self.version())
            .field("current", &*self.load())
            .field("restart_required", &self.inner.restart_required)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ConfigHandle`] with a validation hook and restart-required keys.
pub struct ConfigHandleBuilder<T> {
    validator: Option<Validator<T>>,
    restart_required: Vec<String>,
}

impl<T> fmt::Debug for ConfigHandleBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigHandleBuilder")
            .field("validator", &self.validator.is_some())
            .field("restart_required", &self.restart_required)
            .finish()
    }
}

impl<T> ConfigHandleBuilder<T> {
    /// Every value (the initial one too) must pass `f`; its `Err` is the reason reported.
    pub fn validate<F>(mut self, f: F) -> Self
    where
        F: Fn(&T) -> Result<(), String> + Send + Sync + 'static,
    {
        self.validator = Some(Box::new(f));
        self
    }

    /// Marks dotted key paths (`server.port`) as restart-required: changes to them are
    /// reported and held back, never applied while running.
    pub fn restart_required<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.restart_required.extend(keys.into_iter().map(Into::into));
        self
    }

    /// The handle, holding `initial` as version 1 once it passes validation.
    pub fn build(self, initial: T) -> Result<ConfigHandle<T>, UpdateError> {
        if let Some(validate) = &self.validator {
            validate(&initial)
                .map_err(|reason| UpdateError::Invalid { origin: Origin::Defaults, reason })?;
        }
        let initial = Arc::new(initial);
        let change = ConfigChange {
            old: initial.clone(),
            new: initial.clone(),
            version: 1,
            origin: Origin::Defaults,
        };
        let (changes, _) = watch::channel(Arc::new(change));
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(ConfigHandle {
            inner: Arc::new(Inner {
                current: ArcSwap::new(initial),
                version: AtomicU64::new(1),
                validator: self.validator,
                restart_required: self.restart_required,
                changes,
                events,
                sections: Mutex::new(Vec::new()),
                pending_restart: Mutex::new(Vec::new()),
            }),
        })
    }
}

impl<T> ConfigHandle<T> {
    /// A handle without validation or restart-required keys.
    pub fn new(initial: T) -> Self {
        Self::builder().build(initial).expect("no validator, nothing to reject")
    }

    /// A builder for validation and restart-required keys.
    pub fn builder() -> ConfigHandleBuilder<T> {
        ConfigHandleBuilder { validator: None, restart_required: Vec::new() }
    }

    /// The current value, without locking or reference-count traffic in the common case.
    /// Hold the guard briefly; use [`load_full`](Self::load_full) to keep the value.
    #[inline]
    pub fn load(&self) -> Guard<Arc<T>> {
        self.inner.current.load()
    }

    /// The current value as an owned `Arc`.
    #[inline]
    pub fn load_full(&self) -> Arc<T> {
        self.inner.current.load_full()
    }

    /// The version of the current value: 1 for the initial value, +1 per applied update.
    /// Rejected and unchanged updates leave it as it is.
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// Restart-required keys whose changed values are held back (empty when none).
    pub fn pending_restart(&self) -> Vec<String> {
        lock(&self.inner.pending_restart).clone()
    }

    /// Changes with old and new values. The receiver starts at the current value (marked
    /// seen); a slow receiver sees the latest change (with its own `old`), not every one.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ConfigChange<T>>> {
        self.inner.changes.subscribe()
    }

    /// Operator events: applied, unchanged, rejected, restart-required, source unavailable.
    pub fn events(&self) -> broadcast::Receiver<ConfigEvent> {
        self.inner.events.subscribe()
    }

    /// A `watch` channel of one section of the configuration, e.g. a layer's config for
    /// its `watch_config`. It is updated in the same step as the handle, and only when
    /// the projected value changes.
    ///
    /// ```
    /// use platform_core::config::ConfigHandle;
    ///
    /// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
    /// struct App { http: Http, log: String }
    /// #[derive(Clone, Default, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
    /// struct Http { timeout_ms: u64 }
    ///
    /// let handle = ConfigHandle::new(App::default());
    /// let mut http = handle.watch_section(|c: &App| c.http.clone());
    /// handle.update(App { http: Http { timeout_ms: 5 }, log: "debug".into() }).unwrap();
    /// assert!(http.has_changed().unwrap());
    /// assert_eq!(http.borrow_and_update().timeout_ms, 5);
    ///
    /// // A change elsewhere does not wake the section's receiver.
    /// handle.update(App { http: Http { timeout_ms: 5 }, log: "info".into() }).unwrap();
    /// assert!(!http.has_changed().unwrap());
    /// ```
    ///
    /// A resilience layer follows its section with `watch_config`, e.g.
    /// `TimeoutLayer::new(..).watch_config(handle.watch_section(|c| c.timeout.clone()))`.
    pub fn watch_section<S, F>(&self, project: F) -> watch::Receiver<S>
    where
        S: PartialEq + Send + Sync + 'static,
        F: Fn(&T) -> S + Send + Sync + 'static,
    {
        let mut sections = lock(&self.inner.sections);
        let (tx, rx) = watch::channel(project(&self.load()));
        sections.push(Box::new(move |value: &T| {
            if tx.is_closed() {
                return false;
            }
            tx.send_if_modified(|s| {
                let next = project(value);
                let changed = *s != next;
                if changed {
                    *s = next;
                }
                changed
            });
            true
        }));
        rx
    }

    /// Reports that a source cannot be reached (the value stays as it is).
    pub(super) fn source_unavailable(&self, source: String, reason: String) {
        tracing::warn!(target: "platform::config", %source, %reason,
            "configuration source unavailable; keeping the last good value");
        self.emit(ConfigEvent::SourceUnavailable { source, reason });
    }

    pub(super) fn emit(&self, event: ConfigEvent) {
        // No receiver is fine: events are also `tracing` events.
        let _ = self.inner.events.send(event);
    }
}

pub(super) fn lock<V>(m: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    // The data behind these mutexes stays consistent across a panic (plain pushes and
    // replacements), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
