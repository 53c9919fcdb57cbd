//! One watch: a task following a service through pub/sub, the change log and periodic
//! reconciliation.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::mpsc;

use super::store::{Store, unavailable};
use crate::registry::{RegistryError, Snapshot, Watch, WatchEvent};

/// Events buffered between the task and a slow consumer (the task then waits; the
/// change log lets it catch up).
const BUFFER: usize = 64;
/// First delay before reconnecting; doubles up to the reconciliation interval.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Takes the first snapshot (the last known one, marked stale, when Redis is down) and
/// spawns the task that follows the service.
pub(super) async fn start(store: Arc<Store>, service: &str) -> Result<Watch, RegistryError> {
    let snapshot = store.instances(service).await?;
    let (tx, rx) = mpsc::channel(BUFFER);
    let needs_resync = snapshot.stale;
    tx.try_send(WatchEvent::Resync(snapshot.clone())).ok();
    let follower =
        Follower { store, service: service.to_owned(), view: snapshot, needs_resync, tx };
    tokio::spawn(follower.run());
    Ok(Watch::new(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    })))
}

struct Follower {
    store: Arc<Store>,
    service: String,
    view: Snapshot,
    needs_resync: bool,
    tx: mpsc::Sender<WatchEvent>,
}

impl Follower {
    async fn run(mut self) {
        let interval = self.store.config().reconcile_interval;
        let mut backoff = FIRST_BACKOFF;
        let mut connected_before = false;
        loop {
            let (conn, mut pushes) = match self.subscribe().await {
                Ok(subscribed) => subscribed,
                Err(error) => {
                    tracing::warn!(target: "platform::registry", service = %self.service, %error, retry_in = ?backoff, "watch cannot subscribe");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.tx.closed() => return,
                    }
                    backoff = (backoff * 2).min(interval);
                    continue;
                }
            };
            backoff = FIRST_BACKOFF;
            // After a reconnect anything may have been missed; the first subscription
            // only has to cover the moment between the first snapshot and subscribing.
            self.needs_resync |= connected_before;
            connected_before = true;
            if self.refresh().await.is_break() {
                return;
            }
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let flow = tokio::select! {
                    () = self.tx.closed() => return,
                    push = pushes.recv() => match push {
                        Some(PushInfo { kind: PushKind::Message, .. }) => self.refresh().await,
                        Some(PushInfo { kind: PushKind::Disconnection, .. }) | None => {
                            tracing::warn!(target: "platform::registry", service = %self.service, "watch connection lost; reconnecting");
                            break;
                        }
                        Some(_) => ControlFlow::Continue(()),
                    },
                    _ = tick.tick() => self.refresh().await,
                };
                if flow.is_break() {
                    return;
                }
            }
            drop(conn);
        }
    }

    /// Opens the watch connection, names it and subscribes to the service's channel.
    async fn subscribe(
        &self,
    ) -> Result<(redis::aio::MultiplexedConnection, mpsc::UnboundedReceiver<PushInfo>), RegistryError>
    {
        let op = "subscribe to changes";
        let config = self.store.config();
        let info = self.store.client().get_connection_info().clone();
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))
            .map_err(|e| unavailable(op, e))?;
        let (push_tx, pushes) = mpsc::unbounded_channel();
        let conn_config = AsyncConnectionConfig::new()
            .set_push_sender(push_tx)
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&conn_config)
            .await
            .map_err(|e| unavailable(op, e))?;
        let name = format!("{}:watch:{}", config.client_name, self.service);
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(name)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(op, e))?;
        conn.subscribe(&self.store.keys(&self.service).channel)
            .await
            .map_err(|e| unavailable(op, e))?;
        Ok((conn, pushes))
    }

    /// Brings the view up to date: the logged changes when they continue the view, a full
    /// re-list otherwise. Breaks when the consumer is gone.
    async fn refresh(&mut self) -> ControlFlow<()> {
        if !self.needs_resync {
            match self.store.changes(&self.service, self.view.version).await {
                Ok(changes) if changes.version == self.view.version => {
                    return ControlFlow::Continue(());
                }
                Ok(changes) if continues(&changes.events, self.view.version, changes.version) => {
                    for event in changes.events {
                        self.view.apply(&event);
                        self.send(event).await?;
                    }
                    return ControlFlow::Continue(());
                }
                Ok(changes) => {
                    tracing::info!(target: "platform::registry", service = %self.service, have = self.view.version, at = changes.version, "watch missed changes; resyncing");
                }
                Err(error) => {
                    tracing::warn!(target: "platform::registry", service = %self.service, %error, "watch cannot read changes; keeping the last known instances");
                    return ControlFlow::Continue(());
                }
            }
        }
        match self.store.list(&self.service).await {
            Ok(snapshot) => {
                self.needs_resync = false;
                self.view = snapshot.clone();
                self.send(WatchEvent::Resync(snapshot)).await
            }
            Err(error) => {
                self.needs_resync = true;
                tracing::warn!(target: "platform::registry", service = %self.service, %error, "watch cannot re-list; keeping the last known instances");
                ControlFlow::Continue(())
            }
        }
    }

    async fn send(&self, event: WatchEvent) -> ControlFlow<()> {
        match self.tx.send(event).await {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}

/// `true` when `events` are exactly the versions `have + 1 ..= now`.
fn continues(events: &[WatchEvent], have: u64, now: u64) -> bool {
    now > have
        && events.len() as u64 == now - have
        && events.iter().zip(have + 1..).all(|(event, v)| event.version() == v)
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("service", &self.service)
            .field("version", &self.view.version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ServiceInstance;

    fn removed(version: u64) -> WatchEvent {
        WatchEvent::Removed { version, id: "a".into() }
    }

    #[test]
    fn continuity_requires_every_version() {
        assert!(continues(&[removed(4), removed(5)], 3, 5));
        assert!(!continues(&[removed(5)], 3, 5), "4 is missing");
        assert!(!continues(&[], 3, 5), "log trimmed or written without an entry");
        assert!(!continues(&[removed(1)], 3, 1), "version went backwards");
        let added =
            WatchEvent::Added { version: 4, instance: ServiceInstance::new("s", "a", "h", 1) };
        assert!(continues(&[added], 3, 4));
    }
}
