//! Following the service's watch endpoint, with reconnects that resynchronise.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{HttpRegistry, to_registry_error};
use crate::control::client::{EventReader, HttpClient};
use crate::registry::{RegistryError, Watch, WatchEvent};
use crate::task_stream::task_stream;

/// First wait before reconnecting a watch.
const RECONNECT_MIN: Duration = Duration::from_millis(100);

/// Opens the first stream (so an unreachable service is an error now), then follows it.
pub(super) async fn open(registry: &HttpRegistry, service: &str) -> Result<Watch, RegistryError> {
    let path = format!("/v1/registry/{service}/watch");
    let first = registry
        .client
        .events(&path, registry.idle_timeout)
        .await
        .map_err(|e| to_registry_error(e, service, "", "watch"))?;
    let follower = Follower {
        client: registry.client.clone(),
        path,
        service: service.to_owned(),
        idle: registry.idle_timeout,
        reconnect_max: registry.reconnect_max,
    };
    Ok(Watch::new(task_stream(move |tx| follower.run(first, tx))))
}

struct Follower {
    client: HttpClient,
    path: String,
    service: String,
    idle: Duration,
    reconnect_max: Duration,
}

impl Follower {
    async fn run(self, first: EventReader, tx: mpsc::Sender<WatchEvent>) {
        let mut reader = Some(first);
        let mut last: Option<u64> = None;
        let mut delay = RECONNECT_MIN;
        loop {
            let stream = match reader.take() {
                Some(r) => Ok(r),
                None => self.client.events(&self.path, self.idle).await.map_err(|e| e.to_string()),
            };
            let why = match stream {
                Ok(mut stream) => match self.relay(&mut stream, &mut last, &mut delay, &tx).await {
                    Some(why) => why,
                    None => return,
                },
                Err(why) => why,
            };
            tracing::debug!(target: "platform::registry", service = %self.service, reason = %why, ?delay, "registry watch reconnecting");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.reconnect_max.max(RECONNECT_MIN));
        }
    }

    /// Forwards one stream's events; returns why it ended, or `None` when the watcher is
    /// gone.
    async fn relay(
        &self,
        stream: &mut EventReader,
        last: &mut Option<u64>,
        delay: &mut Duration,
        tx: &mpsc::Sender<WatchEvent>,
    ) -> Option<String> {
        loop {
            let raw = match stream.next().await {
                Ok(Some(raw)) => raw,
                Ok(None) => return Some("the service ended the stream".to_owned()),
                Err(e) => return Some(e.to_string()),
            };
            let event: WatchEvent = match serde_json::from_str(&raw.data) {
                Ok(e) => e,
                Err(e) => return Some(format!("unreadable `{}` event: {e}", raw.event)),
            };
            let resync = matches!(event, WatchEvent::Resync(_));
            if !resync {
                match *last {
                    Some(v) if event.version() <= v => continue,
                    Some(v) if event.version() > v + 1 => {
                        return Some(format!("version gap: {v} then {}", event.version()));
                    }
                    None => return Some("a change arrived before the snapshot".to_owned()),
                    _ => {}
                }
            }
            *last = Some(event.version());
            *delay = RECONNECT_MIN;
            if tx.send(event).await.is_err() {
                return None;
            }
        }
    }
}
