//! A control-plane server on a real socket for the `control_*` integration tests.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use platform_core::control::{ConfigStore, ControlPlane};
use platform_core::registry::Registry;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Upper bound of every wait; tests wait for the expected state, never for a fixed time.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running service.
pub struct TestServer {
    pub addr: SocketAddr,
    pub plane: ControlPlane,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves on an ephemeral port of 127.0.0.1.
    pub async fn start(registry: Arc<dyn Registry>, config: Arc<dyn ConfigStore>) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), registry, config).await
    }

    /// Serves on `addr` (a port a stopped server used, to simulate a restart).
    pub async fn start_on(
        addr: SocketAddr,
        registry: Arc<dyn Registry>,
        config: Arc<dyn ConfigStore>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let plane = ControlPlane::new(registry, config).keep_alive(Duration::from_millis(500));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = plane.router();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
        Self { addr, plane, stop, task }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Ends watch streams, shuts down gracefully and waits until every connection closed.
    pub async fn stop(self) {
        self.plane.shutdown();
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task).await.expect("graceful shutdown").expect("task");
    }
}

/// Polls `check` until it holds, within [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
