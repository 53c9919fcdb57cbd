use std::fmt;
use std::sync::Arc;

type Callback<E> = Arc<dyn Fn(&E) + Send + Sync>;

/// Callbacks told about a layer's events (state changes, rejections, shadow decisions).
///
/// Every layer emits its events as `tracing` events with a reason; listeners receive the
/// same typed event for metrics, alerting or tests. Listeners run inline on the calling
/// task, so keep them cheap. Cloning is cheap and clones share the callbacks.
///
/// ```
/// use platform_core::resilience::Listeners;
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
///
/// let seen = Arc::new(AtomicUsize::new(0));
/// let counter = seen.clone();
/// let listeners = Listeners::<&'static str>::new().with(move |_event: &&str| {
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// listeners.emit(&"tripped");
/// assert_eq!(seen.load(Ordering::Relaxed), 1);
/// ```
pub struct Listeners<E> {
    callbacks: Arc<[Callback<E>]>,
}

impl<E> Listeners<E> {
    /// No listeners.
    pub fn new() -> Self {
        Self { callbacks: Arc::new([]) }
    }

    /// Adds a callback (builder style).
    pub fn with<F>(self, f: F) -> Self
    where
        F: Fn(&E) + Send + Sync + 'static,
    {
        let mut v: Vec<Callback<E>> = self.callbacks.iter().cloned().collect();
        v.push(Arc::new(f));
        Self { callbacks: v.into() }
    }

    /// Calls every callback with `event`.
    pub fn emit(&self, event: &E) {
        for cb in self.callbacks.iter() {
            cb(event);
        }
    }

    /// `true` when no callback is registered (lets callers skip building an event).
    pub fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
    }
}

impl<E> Default for Listeners<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Clone for Listeners<E> {
    fn clone(&self) -> Self {
        Self { callbacks: self.callbacks.clone() }
    }
}

impl<E> fmt::Debug for Listeners<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listeners").field("len", &self.callbacks.len()).finish()
    }
}
