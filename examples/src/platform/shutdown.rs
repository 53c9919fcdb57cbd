//! A shutdown trigger shared by the platform's servers, and the OS signals that pull it.
//!
//! Shaped like platform-gateway's `Shutdown` (in progress on another branch), so this
//! file can give way to it with a `use` change.

use std::future::Future;

use tokio::sync::watch;

/// A trigger; clones share it, and [`wait`](Self::wait) resolves once any clone pulled it.
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

    /// Whether it was triggered.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once triggered.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|&t| t).await;
    }

    /// Triggers when `signal` resolves (from a spawned task).
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

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn os_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
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
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(target: "platform", "Ctrl-C received; shutting down"),
        () = term => tracing::info!(target: "platform", "SIGTERM received; shutting down"),
    }
}
