//! The Redis backend: a [`CacheStore`] over a `ConnectionManager`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;

use super::error::StoreError;
use super::store::CacheStore;

/// Default bound on each Redis command (and on connecting).
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// A Redis-backed [`CacheStore`].
///
/// Values live at `{prefix}v:{key}` as binary strings written with `SET … PX` (freshness
/// plus the stale grace window); stampede locks at `{prefix}l:{key}`; two-level
/// invalidations go over the channel `{prefix}invalidate`. Give each cache its own prefix
/// (e.g. `app:users:`). The connection is made on first use and re-established by
/// redis-rs' `ConnectionManager`; every command is bounded by a timeout, and failures are
/// [`StoreError`]s that the cache turns into [`CacheError::Remote`](super::CacheError::Remote)
/// or, for reads with [`OnRemoteError::Miss`](super::OnRemoteError::Miss), a miss.
///
/// ```
/// use platform_core::cache::RedisStore;
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap(); // no I/O yet
/// let store = RedisStore::new(client, "app:users:");
/// assert_eq!(store.prefix(), "app:users:");
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<StoreInner>,
}

#[derive(Clone)]
struct StoreInner {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    conn: tokio::sync::OnceCell<ConnectionManager>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `client` under `prefix` (may be empty; end it with `:`). No I/O happens
    /// until the first command.
    pub fn new(client: redis::Client, prefix: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(StoreInner {
                client,
                prefix: prefix.into(),
                timeout: DEFAULT_REDIS_TIMEOUT,
                conn: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// Bounds each command and connection attempt (default 500 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).timeout = timeout;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The Redis client.
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    pub(crate) fn value_key(&self, key: &str) -> String {
        format!("{}v:{key}", self.inner.prefix)
    }

    pub(crate) fn lock_key(&self, key: &str) -> String {
        format!("{}l:{key}", self.inner.prefix)
    }

    pub(crate) fn channel(&self) -> String {
        format!("{}invalidate", self.inner.prefix)
    }

    pub(crate) fn io_timeout(&self) -> Duration {
        self.inner.timeout
    }

    async fn conn(&self, op: &'static str) -> Result<ConnectionManager, StoreError> {
        let timeout = self.inner.timeout;
        let conn = self
            .inner
            .conn
            .get_or_try_init(|| async {
                crate::redis_conn::lazy_manager(&self.inner.client, timeout)
            })
            .await
            .map_err(|e| StoreError::new(op, e))?;
        Ok(conn.clone())
    }

    /// Runs `cmd`, bounded by the timeout.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn(op).await?;
        match tokio::time::timeout(self.inner.timeout, cmd.query_async(&mut conn)).await {
            Ok(r) => r.map_err(|e| StoreError::new(op, e)),
            Err(_) => Err(timed_out(op, self.inner.timeout)),
        }
    }

    /// Runs a Lua script, bounded by the timeout.
    pub(crate) async fn invoke<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn(op).await?;
        match tokio::time::timeout(self.inner.timeout, invocation.invoke_async(&mut conn)).await {
            Ok(r) => r.map_err(|e| StoreError::new(op, e)),
            Err(_) => Err(timed_out(op, self.inner.timeout)),
        }
    }
}

fn timed_out(op: &'static str, timeout: Duration) -> StoreError {
    StoreError::new(op, format!("no answer from Redis within {}ms", timeout.as_millis()))
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl CacheStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, StoreError>> {
        async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(self.value_key(key));
            let v: Option<Vec<u8>> = self.query("get", &cmd).await?;
            Ok(v.map(Bytes::from))
        }
        .boxed()
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.value_key(key)).arg(value.as_ref()).arg("PX").arg(millis(ttl));
            self.query::<()>("set", &cmd).await
        }
        .boxed()
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(self.value_key(key));
            self.query::<()>("delete", &cmd).await
        }
        .boxed()
    }
}
