//! Configuration documents with history in Redis, in the layout `RedisSource` follows.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{ConfigStore, ConfigStoreError, DEFAULT_HISTORY_LEN, Named, check_put};
use crate::config::{
    ConfigSource, DEFAULT_RECONCILE_INTERVAL, Format, RedisConfigStore, RedisSource, SourceEvent,
};
use crate::control::wire::ConfigDocument;

const BACKEND: &str = "redis";
/// Bound on each command (and on connecting).
const TIMEOUT: Duration = Duration::from_secs(2);

/// Compare-and-set write: checks the expected version, writes the document, pushes it on
/// the capped history list and publishes the new version, atomically.
/// KEYS: hash, channel, history. ARGV: text, format, expected ('' = any), history length.
/// Returns {1, version, ms} or {0, current version}.
const PUT: &str = r"
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= cur then return {0, cur} end
local v = cur + 1
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'version', v, 'doc', ARGV[1], 'format', ARGV[2], 'updated_at_ms', ms)
redis.call('LPUSH', KEYS[3], cjson.encode({version = v, format = ARGV[2], text = ARGV[1], updated_at_ms = ms}))
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
redis.call('PUBLISH', KEYS[2], v)
return {1, v, ms}
";

/// A [`ConfigStore`] in Redis, shared by every replica of the config service.
///
/// Each document is the hash `{prefix}config:{namespace}:{environment}` (fields `doc`,
/// `format`, `version`, `updated_at_ms`), exactly where
/// [`RedisConfigStore`](crate::config::RedisConfigStore) and
/// [`RedisSource`](crate::config::RedisSource) look, so processes reading Redis directly
/// follow the service's writes. The history is the list `…:history` (JSON entries, newest
/// first, capped). Writes made with `RedisConfigStore::put` (without history) are served
/// too but do not appear in the history.
///
/// [`watch`](ConfigStore::watch) runs a `RedisSource` per watcher: pub/sub push, plus
/// version reconciliation every interval (default 10 s) for lost pushes.
///
/// ```
/// use platform_core::control::RedisDocumentStore;
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap(); // no I/O yet
/// let store = RedisDocumentStore::new(client, "prod:").history_len(20);
/// # let _ = store;
/// ```
#[derive(Clone)]
pub struct RedisDocumentStore {
    client: redis::Client,
    prefix: String,
    conn: std::sync::Arc<tokio::sync::OnceCell<ConnectionManager>>,
    history_len: usize,
    reconcile_interval: Duration,
}

impl std::fmt::Debug for RedisDocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDocumentStore")
            .field("prefix", &self.prefix)
            .field("history_len", &self.history_len)
            .finish_non_exhaustive()
    }
}

fn unavailable(operation: &'static str, e: impl Into<crate::BoxError>) -> ConfigStoreError {
    ConfigStoreError::Unavailable { backend: BACKEND, operation, source: e.into() }
}

impl RedisDocumentStore {
    /// A store on `client` with every key under `prefix` (may be empty; end it with `:`).
    /// Connects on first use.
    pub fn new(client: redis::Client, prefix: &str) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
            conn: std::sync::Arc::default(),
            history_len: DEFAULT_HISTORY_LEN,
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
        }
    }

    /// The shared connection, set up on first use.
    async fn conn(&self, operation: &'static str) -> Result<ConnectionManager, ConfigStoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(self.client.clone(), cfg)
            })
            .await
            .map_err(|e| unavailable(operation, e))?;
        Ok(conn.clone())
    }

    /// Versions kept per document (default [`DEFAULT_HISTORY_LEN`], at least 1).
    pub fn history_len(mut self, len: usize) -> Self {
        self.history_len = len.max(1);
        self
    }

    /// How often watchers compare versions to catch a lost push (default 10 s).
    pub fn reconcile_interval(mut self, interval: Duration) -> Self {
        self.reconcile_interval = interval;
        self
    }

    fn location(&self, namespace: &str, environment: &str) -> RedisConfigStore {
        RedisConfigStore::new(self.client.clone(), &self.prefix, namespace, environment)
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ConfigStoreError> {
        match tokio::time::timeout(TIMEOUT, call).await {
            Ok(result) => result.map_err(|e| unavailable(operation, e)),
            Err(_) => Err(unavailable(operation, format!("no answer within {TIMEOUT:?}"))),
        }
    }
}

fn parse_format(location: &str, name: &str) -> Result<Format, ConfigStoreError> {
    match name {
        "toml" => Ok(Format::Toml),
        "yaml" | "yml" => Ok(Format::Yaml),
        "json" => Ok(Format::Json),
        other => Err(ConfigStoreError::Corrupt {
            backend: BACKEND,
            location: location.to_owned(),
            reason: format!("unknown format `{other}`"),
        }),
    }
}

/// One history entry as stored in the list.
#[derive(serde::Deserialize)]
struct Entry {
    version: u64,
    format: String,
    text: String,
    updated_at_ms: u64,
}

#[async_trait]
impl ConfigStore for RedisDocumentStore {
    async fn get(
        &self,
        namespace: &str,
        environment: &str,
    ) -> Result<Option<ConfigDocument>, ConfigStoreError> {
        let here = Named::checked(namespace, environment)?;
        let key = self.location(namespace, environment).key().to_owned();
        let mut conn = self.conn("read a document").await?;
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(&key).arg("doc").arg("format").arg("version").arg("updated_at_ms");
        let (text, format, version, at): (
            Option<String>,
            Option<String>,
            Option<u64>,
            Option<u64>,
        ) = self.query("read a document", cmd.query_async(&mut conn)).await?;
        let (Some(text), Some(version)) = (text, version) else { return Ok(None) };
        let format = parse_format(&key, format.as_deref().unwrap_or("toml"))?;
        Ok(Some(here.document(version, format, text, at.unwrap_or(0))))
    }

    async fn put(
        &self,
        namespace: &str,
        environment: &str,
        format: Format,
        text: &str,
        expected: Option<u64>,
    ) -> Result<ConfigDocument, ConfigStoreError> {
        check_put(namespace, environment, format, text)?;
        let location = self.location(namespace, environment);
        let mut conn = self.conn("write a document").await?;
        let script = redis::Script::new(PUT);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(location.key())
            .key(location.channel())
            .key(format!("{}:history", location.key()))
            .arg(text)
            .arg(format.as_str())
            .arg(expected.map(|e| e.to_string()).unwrap_or_default())
            .arg(self.history_len);
        let reply: Vec<u64> =
            self.query("write a document", invocation.invoke_async(&mut conn)).await?;
        match reply.as_slice() {
            [1, version, at] => Ok(Named { namespace, environment }.document(
                *version,
                format,
                text.to_owned(),
                *at,
            )),
            [0, current] => Err(ConfigStoreError::Conflict {
                expected: expected.unwrap_or(0),
                current: *current,
            }),
            other => Err(ConfigStoreError::Corrupt {
                backend: BACKEND,
                location: location.key().to_owned(),
                reason: format!("unexpected reply {other:?} from the write script"),
            }),
        }
    }

    async fn history(
        &self,
        namespace: &str,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<ConfigDocument>, ConfigStoreError> {
        let here = Named::checked(namespace, environment)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = format!("{}:history", self.location(namespace, environment).key());
        let mut conn = self.conn("read history").await?;
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(&key).arg(0).arg(limit.min(isize::MAX as usize) as isize - 1);
        let entries: Vec<String> = self.query("read history", cmd.query_async(&mut conn)).await?;
        entries
            .iter()
            .map(|raw| {
                let corrupt = |reason: String| ConfigStoreError::Corrupt {
                    backend: BACKEND,
                    location: key.clone(),
                    reason,
                };
                let e: Entry = serde_json::from_str(raw).map_err(|e| corrupt(e.to_string()))?;
                let format = parse_format(&key, &e.format)?;
                Ok(here.document(e.version, format, e.text, e.updated_at_ms))
            })
            .collect()
    }

    async fn watch(
        &self,
        namespace: &str,
        environment: &str,
    ) -> Result<BoxStream<'static, ConfigDocument>, ConfigStoreError> {
        Named::checked(namespace, environment)?;
        let source = RedisSource::new(self.location(namespace, environment))
            .reconcile_interval(self.reconcile_interval);
        let store = self.clone();
        let (ns, env) = (namespace.to_owned(), environment.to_owned());
        let stream = Box::new(source).into_stream().filter_map(move |event| {
            let (store, ns, env) = (store.clone(), ns.clone(), env.clone());
            async move {
                match event {
                    // Re-read for the write time, which the source does not carry.
                    SourceEvent::Document(doc) => match store.get(&ns, &env).await {
                        Ok(Some(current)) if current.version >= doc.version => Some(current),
                        _ => {
                            let here = Named { namespace: &ns, environment: &env };
                            Some(here.document(doc.version, doc.format, doc.text, 0))
                        }
                    },
                    SourceEvent::Unavailable { reason } => {
                        tracing::warn!(target: "platform::control", namespace = %ns, environment = %env, %reason, "config watch cannot reach Redis; retrying");
                        None
                    }
                    _ => None,
                }
            }
        });
        Ok(stream.boxed())
    }
}
