//! The reconnect loop shared by remote sources (Redis, the config service over HTTP).

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use super::SourceEvent;

/// A remote source that follows its backend in sessions: one connection at a time, each
/// running until it drops and saying why.
pub(crate) trait Sessions: Send + Sync + 'static {
    /// Runs one connected session, sending documents on `tx`; `seen` is the last version
    /// sent, `down` whether an outage was reported (the session clears it once connected).
    fn follow(
        &self,
        tx: &mpsc::Sender<SourceEvent>,
        seen: &mut Option<u64>,
        down: &mut bool,
    ) -> impl Future<Output = String> + Send;

    /// How long to wait before the next session after one ended.
    fn retry_delay(&self) -> Duration;
}

/// Follows `source` session after session until the receiving side is dropped, reporting
/// [`SourceEvent::Unavailable`] once per outage.
pub(crate) async fn run_sessions<S: Sessions>(source: S, tx: mpsc::Sender<SourceEvent>) {
    let mut seen: Option<u64> = None;
    let mut down = false;
    while !tx.is_closed() {
        let reason = source.follow(&tx, &mut seen, &mut down).await;
        if !down && !tx.is_closed() {
            down = true;
            let _ = tx.send(SourceEvent::Unavailable { reason }).await;
        }
        tokio::time::sleep(source.retry_delay()).await;
    }
}
