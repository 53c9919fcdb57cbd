//! Stopping a [`Server`](super::Server): the trigger, the OS signals, and the drain.

use std::future::Future;
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
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger not yet pulled.
    pub fn new() -> Self {
        Self { tx: watch::channel(false).0 }
    }

    /// Starts the shutdown (idempotent).
    pub fn trigger(&self) {
        self.tx.send_replace(true);
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
