//! Two-level invalidation over Redis pub/sub: every node drops its local copy of a key
//! another node wrote or deleted.
//!
//! Messages on `{prefix}invalidate` are `<node id, 16 hex digits><kind><key>`, kind `k`
//! (one key) or `*` (everything). A node ignores its own messages. While the subscription
//! is down the local level is bypassed and, on every (re)subscribe, flushed: changes
//! published while it was down are never seen, so nothing read before may be trusted.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::entry::Entry;
use super::error::StoreError;
use super::event::{CacheEvent, Counters, report};
use super::front::CacheValue;
use super::gate::LocalGate;
use super::redis::RedisStore;
use crate::resilience::Listeners;

/// The publishing side, held by the cache; the subscriber runs as a task.
#[derive(Debug)]
pub(crate) struct Bus {
    store: RedisStore,
    channel: String,
    node: u64,
    task: JoinHandle<()>,
}

impl Bus {
    /// Tells other nodes that `key` (or, with `None`, everything) changed.
    pub(crate) async fn publish(&self, key: Option<&str>) -> Result<(), StoreError> {
        let message = match key {
            Some(k) => format!("{:016x}k{k}", self.node),
            None => format!("{:016x}*", self.node),
        };
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&self.channel).arg(message);
        self.store.query::<i64>("publish", &cmd).await.map(drop)
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

/// What the subscriber task needs of the cache (it must not keep the cache alive).
pub(crate) struct Subscriber<K, V> {
    pub(crate) name: Arc<str>,
    pub(crate) local: moka::sync::Cache<K, Entry<V>>,
    pub(crate) gate: Arc<LocalGate>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) listeners: Listeners<CacheEvent>,
    pub(crate) reconnect_delay: Duration,
}

impl<K, V> Subscriber<K, V>
where
    K: FromStr + std::hash::Hash + Eq + Send + Sync + 'static,
    V: CacheValue,
{
    /// Starts the subscriber; the local level stays bypassed until it is subscribed.
    pub(crate) fn spawn(self, store: &RedisStore) -> Bus {
        let node = fastrand::u64(..);
        let channel = store.channel();
        self.gate.set_live(false);
        let task = tokio::spawn(self.run(store.clone(), channel.clone(), node));
        Bus { store: store.clone(), channel, node, task }
    }

    fn report(&self, event: CacheEvent) {
        report(&self.name, &self.counters, &self.listeners, event);
    }

    fn go_dark(&self, reason: &'static str) {
        self.gate.set_live(false);
        self.gate.bump_all();
        self.local.invalidate_all();
        self.report(CacheEvent::LocalFlushed { reason });
    }

    async fn run(self, store: RedisStore, channel: String, node: u64) {
        let own = format!("{node:016x}");
        loop {
            let subscribe = async {
                let mut pubsub = store.client().get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            match tokio::time::timeout(store.io_timeout() * 4, subscribe).await {
                Ok(Ok(pubsub)) => {
                    // Whatever was cached before this point may have missed invalidations.
                    self.gate.bump_all();
                    self.local.invalidate_all();
                    self.gate.set_live(true);
                    self.report(CacheEvent::LocalFlushed { reason: "pub/sub subscribed" });
                    let mut messages = pubsub.into_on_message();
                    while let Some(msg) = messages.next().await {
                        self.apply(msg.get_payload_bytes(), &own);
                    }
                    self.go_dark("pub/sub connection lost");
                }
                Ok(Err(e)) => {
                    self.report(CacheEvent::RemoteError { op: "subscribe", error: e.to_string() });
                }
                Err(_) => {
                    let error = "timed out".to_owned();
                    self.report(CacheEvent::RemoteError { op: "subscribe", error });
                }
            }
            tokio::time::sleep(self.reconnect_delay).await;
        }
    }

    fn apply(&self, payload: &[u8], own: &str) {
        let Ok(text) = std::str::from_utf8(payload) else { return };
        let (Some(origin), Some(rest)) = (text.get(..16), text.get(16..)) else { return };
        if origin == own {
            return;
        }
        if rest == "*" {
            self.gate.bump_all();
            self.local.invalidate_all();
            self.report(CacheEvent::LocalFlushed { reason: "another node flushed" });
        } else if let Some(key) = rest.strip_prefix('k').and_then(|k| k.parse::<K>().ok()) {
            self.gate.bump(&key);
            self.local.invalidate(&key);
            self.report(CacheEvent::Invalidated);
        }
    }
}
