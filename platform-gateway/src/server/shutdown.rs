//! Stopping a [`Server`](super::Server): the trigger, the OS signals, and the drain.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::watch;

/// A programmatic shutdown trigger for
/// [`Server::serve_with_shutdown`](super::Server::serve_with_shutdown). Clones share one
/// trigger; [`wait`](Self::wait) resolves once any clone has called
/// [`trigger`](Self::trigger), also for callers that start waiting afterwards.
///
/// ```
/// use platform_gateway::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let shutdown = Shutdown::new();
/// let waiting = shutdown.clone();
/// shutdown.trigger();
/// waiting.wait().await;
/// assert!(waiting.is_triggered());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
    /// The connections being served, woken when the trigger is pulled.
    connections: Arc<Connections>,
}

/// The tasks serving connections: each registers its waker once, and checks a flag on
/// every poll, instead of polling a channel receiver on every wake-up.
#[derive(Debug, Default)]
struct Connections {
    triggered: AtomicBool,
    next: AtomicU64,
    wakers: Mutex<HashMap<u64, Waker>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger not yet pulled.
    pub fn new() -> Self {
        Self { tx: watch::channel(false).0, connections: Arc::default() }
    }

    /// Starts the shutdown (idempotent).
    pub fn trigger(&self) {
        self.connections.triggered.store(true, Ordering::Release);
        self.tx.send_replace(true);
        let wakers: Vec<Waker> = {
            let mut map = self.connections.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            map.drain().map(|(_, w)| w).collect()
        };
        for w in wakers {
            w.wake();
        }
    }

    /// A watch for one connection's task; see [`ConnectionWatch`].
    pub(crate) fn connection(&self) -> ConnectionWatch {
        ConnectionWatch { connections: self.connections.clone(), key: None }
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the shutdown is triggered.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|&t| t).await;
    }

    /// Triggers this shutdown when `signal` resolves (for instance [`os_signal`]),
    /// from a spawned task; must be called inside a tokio runtime.
    pub fn trigger_on<F>(&self, signal: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = signal => this.trigger(),
                () = this.wait() => {}
            }
        });
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM — what orchestrators send before
/// they kill a process. If a handler cannot be installed it is logged and that signal
/// is not awaited.
pub async fn os_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(target: "platform::gateway", error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(target: "platform::gateway", error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(target: "platform::gateway", "Ctrl-C received; shutting down"),
        () = term => tracing::info!(target: "platform::gateway", "SIGTERM received; shutting down"),
    }
}

/// How a [`Server`](super::Server) stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Connections open when the shutdown began.
    pub open_at_shutdown: usize,
    /// Connections still open at the drain deadline, closed by force.
    pub cut: usize,
    /// How long the drain took.
    pub took: Duration,
}

/// Tells one connection's task that the shutdown began. The task's waker is registered
/// on the first poll and kept (a task's waker does not change between polls); after
/// that each poll is one atomic load.
#[derive(Debug)]
pub(crate) struct ConnectionWatch {
    connections: Arc<Connections>,
    key: Option<u64>,
}

impl ConnectionWatch {
    /// `true` once the shutdown is triggered; otherwise arranges for the task polling
    /// with `cx` to be woken when it is.
    pub(crate) fn poll_triggered(&mut self, cx: &mut Context<'_>) -> bool {
        let shared = &self.connections;
        if self.key.is_none() {
            let key = shared.next.fetch_add(1, Ordering::Relaxed);
            let mut map = shared.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            // Checked under the lock: a trigger either ran before (seen here) or will
            // drain the map after this insert.
            if shared.triggered.load(Ordering::Acquire) {
                return true;
            }
            map.insert(key, cx.waker().clone());
            self.key = Some(key);
        }
        shared.triggered.load(Ordering::Acquire)
    }
}

impl Drop for ConnectionWatch {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.connections.wakers.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        }
    }
}
