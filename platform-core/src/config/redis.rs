//! Configuration documents in Redis: [`RedisConfigStore`] writes them, [`RedisSource`]
//! follows them (pub/sub push plus periodic version reconciliation).

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::BoxStream;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::format::Format;
use super::source::{ConfigSource, RemoteDocument, SourceEvent};
use crate::task_stream::task_stream;

/// Default interval of version reconciliation: a lost push is caught within this time.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(10);
/// Default wait before reconnecting after Redis became unreachable.
pub const DEFAULT_RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Bound on connecting and on each fetch, so an unresponsive server counts as unreachable.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Where one configuration document lives in Redis: the hash
/// `{prefix}config:{namespace}:{environment}` with fields `doc`, `format` and `version`,
/// and the channel `{key}:changed` on which writers publish the new version.
#[derive(Debug, Clone)]
pub struct RedisConfigStore {
    client: redis::Client,
    key: String,
}

/// Writes the document, bumps the version and publishes it, atomically.
const PUT_SCRIPT: &str = r"
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'format', ARGV[2])
redis.call('PUBLISH', KEYS[2], v)
return v
";

impl RedisConfigStore {
    /// The document of `namespace` (an application or team) in `environment` (`prod`,
    /// `staging`), under `prefix` (may be empty; end it with `:`).
    pub fn new(client: redis::Client, prefix: &str, namespace: &str, environment: &str) -> Self {
        Self { client, key: format!("{prefix}config:{namespace}:{environment}") }
    }

    /// The hash holding the document.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The channel writers publish new versions on.
    pub fn channel(&self) -> String {
        format!("{}:changed", self.key)
    }

    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        match tokio::time::timeout(IO_TIMEOUT, self.client.get_multiplexed_async_connection()).await
        {
            Ok(conn) => conn,
            Err(_) => Err(timeout_error("connect")),
        }
    }

    /// Stores a new version of the document and publishes it; returns the new version.
    pub async fn put(&self, format: Format, text: &str) -> redis::RedisResult<u64> {
        let mut conn = self.connection().await?;
        redis::Script::new(PUT_SCRIPT)
            .key(&self.key)
            .key(self.channel())
            .arg(text)
            .arg(format.as_str())
            .invoke_async(&mut conn)
            .await
    }

    /// The current document, or `None` when none was written yet.
    pub async fn get(&self) -> redis::RedisResult<Option<RemoteDocument>> {
        let mut conn = self.connection().await?;
        self.fetch(&mut conn, None).await
    }

    /// The document if its version is newer than `seen`.
    async fn fetch(
        &self,
        conn: &mut MultiplexedConnection,
        seen: Option<u64>,
    ) -> redis::RedisResult<Option<RemoteDocument>> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&self.key).arg("version");
        let version: Option<u64> = with_timeout(cmd.query_async(conn)).await?;
        let Some(version) = version else { return Ok(None) };
        if seen.is_some_and(|s| s >= version) {
            return Ok(None);
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(&self.key).arg("doc").arg("format").arg("version");
        let (text, format, version): (Option<String>, Option<String>, Option<u64>) =
            with_timeout(cmd.query_async(conn)).await?;
        let (Some(text), Some(version)) = (text, version) else { return Ok(None) };
        let format = match format.as_deref().unwrap_or("toml") {
            "toml" => Format::Toml,
            "yaml" | "yml" => Format::Yaml,
            "json" => Format::Json,
            other => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Parse,
                    "unknown document format",
                    format!("`{other}` in {}; use toml, yaml or json", self.key),
                )));
            }
        };
        Ok(Some(RemoteDocument { origin: format!("redis {}", self.key), format, text, version }))
    }
}

fn timeout_error(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, "timed out", what.to_owned()))
}

async fn with_timeout<V>(
    fut: impl Future<Output = redis::RedisResult<V>>,
) -> redis::RedisResult<V> {
    tokio::time::timeout(IO_TIMEOUT, fut).await.unwrap_or_else(|_| Err(timeout_error("query")))
}

/// Follows a [`RedisConfigStore`] document: on start it fetches the current document,
/// then re-fetches on every pub/sub notification and, to catch a lost notification,
/// compares versions every reconciliation interval. A lost push is therefore applied
/// within the reconciliation interval (plus one round trip).
///
/// When Redis is unreachable it reports [`SourceEvent::Unavailable`] once per outage,
/// the handle keeps its last good value, and the source reconnects every reconnect
/// delay; on reconnect it fetches the current version, so changes made during the outage
/// are applied.
///
/// ```
/// use std::time::Duration;
/// use platform_core::config::{RedisConfigStore, RedisSource};
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap(); // no I/O yet
/// let store = RedisConfigStore::new(client, "", "billing", "prod");
/// assert_eq!(store.key(), "config:billing:prod");
/// let source = RedisSource::new(store).reconcile_interval(Duration::from_secs(5));
/// # let _ = source;
/// ```
#[derive(Debug, Clone)]
pub struct RedisSource {
    store: RedisConfigStore,
    reconcile_interval: Duration,
    reconnect_delay: Duration,
}

impl RedisSource {
    /// Follows `store`'s document.
    pub fn new(store: RedisConfigStore) -> Self {
        Self {
            store,
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
            reconnect_delay: DEFAULT_RECONNECT_DELAY,
        }
    }

    /// How often versions are compared (default 10 s): the bound on applying a lost push.
    pub fn reconcile_interval(mut self, interval: Duration) -> Self {
        self.reconcile_interval = interval;
        self
    }

    /// How long to wait before reconnecting (default 1 s).
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }
}

impl ConfigSource for RedisSource {
    fn describe(&self) -> String {
        format!("redis {}", self.store.key)
    }

    fn into_stream(self: Box<Self>) -> BoxStream<'static, SourceEvent> {
        task_stream(move |tx| super::sessions::run_sessions(*self, tx))
    }
}

impl super::sessions::Sessions for RedisSource {
    /// One connected session; returns why it ended.
    async fn follow(
        &self,
        tx: &mpsc::Sender<SourceEvent>,
        seen: &mut Option<u64>,
        down: &mut bool,
    ) -> String {
        let channel = self.store.channel();
        let subscribe = async {
            let mut pubsub = self.store.client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match with_timeout(subscribe).await {
            Ok(p) => p,
            Err(e) => return format!("cannot subscribe to {channel}: {e}"),
        };
        let mut conn = match self.store.connection().await {
            Ok(c) => c,
            Err(e) => return format!("cannot connect: {e}"),
        };
        let mut messages = pubsub.into_on_message();
        let mut tick = tokio::time::interval(self.reconcile_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick completes at once: fetch right after (re)connecting.
            let tick = std::pin::pin!(tick.tick());
            let closed = matches!(select(messages.next(), tick).await, Either::Left((None, _)));
            if closed {
                return "pub/sub connection closed".to_owned();
            }
            match self.store.fetch(&mut conn, *seen).await {
                Ok(Some(doc)) => {
                    *seen = Some(doc.version);
                    *down = false;
                    if tx.send(SourceEvent::Document(doc)).await.is_err() {
                        return "stopped".to_owned();
                    }
                }
                Ok(None) => *down = false,
                Err(e) => return format!("cannot read {}: {e}", self.store.key),
            }
        }
    }

    fn retry_delay(&self) -> Duration {
        self.reconnect_delay
    }
}
