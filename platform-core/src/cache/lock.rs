//! The distributed stampede lock: one node across the cluster loads a key.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::time::Instant;

use super::codec::Codec;
use super::entry::Lookup;
use super::error::StoreError;
use super::event::CacheEvent;
use super::front::{CacheKey, CacheValue, Inner, Outcome};
use super::jitter::jitter;
use super::load::Loader;
use super::redis::{RedisStore, millis};

/// Deletes the lock only if it still holds our token (it may have expired and been taken
/// by another node meanwhile).
const RELEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RELEASE_LUA));

/// A per-key Redis lock taken around loads so that, across nodes, one process runs the
/// loader for a key while the others wait for its value.
///
/// The lock is `SET {prefix}l:{key} <random token> NX PX <ttl>`; release runs a Lua
/// compare-and-delete, so a node whose lock expired never deletes another node's lock.
/// Nodes that find the lock taken poll the cache with jittered exponential backoff
/// (`poll_interval` doubling up to 8×) and return the value as soon as it appears; after
/// `max_wait` they load themselves. Keep `ttl` above the slowest load: a load that
/// outlives it lets a second node start loading (a duplicate load, never a wrong value).
///
/// ```
/// use std::time::Duration;
/// use platform_core::cache::{RedisStore, StampedeLock};
///
/// let store = RedisStore::new(redis::Client::open("redis://127.0.0.1").unwrap(), "app:users:");
/// let lock = StampedeLock::new(&store).ttl(Duration::from_secs(30)).max_wait(Duration::from_secs(5));
/// # let _ = lock;
/// ```
#[derive(Debug, Clone)]
pub struct StampedeLock {
    store: RedisStore,
    ttl: Duration,
    max_wait: Duration,
    poll: Duration,
}

/// A held lock; give it back with [`StampedeLock::release`].
#[derive(Debug)]
pub struct LockToken {
    key: String,
    token: String,
}

impl StampedeLock {
    /// A lock on `store`'s Redis with a 10 s lease, 10 s wait and 20 ms first poll.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
            ttl: Duration::from_secs(10),
            max_wait: Duration::from_secs(10),
            poll: Duration::from_millis(20),
        }
    }

    /// How long a lock lives if its holder never releases it (crash, partition).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a node waits for another node's load before loading itself.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The first wait between polls of the cache (doubles up to 8×, jittered).
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Takes the lock of `key`, or `None` when another holder has it.
    pub async fn try_acquire(&self, key: &str) -> Result<Option<LockToken>, StoreError> {
        let key = self.store.lock_key(key);
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(&token).arg("NX").arg("PX").arg(millis(self.ttl));
        let set: Option<String> = self.store.query("lock", &cmd).await?;
        Ok(set.map(|_| LockToken { key, token }))
    }

    /// Releases a lock; `false` when it had expired (and maybe been taken by another node).
    pub async fn release(&self, lock: LockToken) -> Result<bool, StoreError> {
        let mut invocation = RELEASE.key(&lock.key);
        invocation.arg(&lock.token);
        let deleted: i64 = self.store.invoke("unlock", &invocation).await?;
        Ok(deleted == 1)
    }

    /// Loads `key` under the lock, or waits for the node holding it.
    pub(crate) async fn load<K: CacheKey, V: CacheValue, C: Codec<V>, L: Loader<V>>(
        &self,
        inner: &Inner<K, V, C>,
        key: &K,
        loader: L,
        background: bool,
    ) -> Outcome<V> {
        let skey = key.to_string();
        let deadline = Instant::now() + self.max_wait;
        let mut delay = self.poll;
        loop {
            match self.try_acquire(&skey).await {
                Ok(Some(token)) => {
                    // The previous holder may have stored the value just before we got in.
                    let outcome = match inner.remote_lookup(key).await {
                        Ok(Lookup::Fresh(v)) => Ok(v),
                        _ => inner.load_and_store(key, loader, background).await,
                    };
                    if let Err(e) = self.release(token).await {
                        inner.remote_error(e);
                    }
                    return outcome;
                }
                Ok(None) => {}
                Err(e) => {
                    // Without the lock service, load anyway: availability over dedup.
                    inner.remote_error(e);
                    break;
                }
            }
            if Instant::now() >= deadline {
                inner.report(CacheEvent::LockWaited { served: false });
                break;
            }
            tokio::time::sleep(jitter(delay, 0.5)).await;
            delay = (delay * 2).min(self.poll * 8);
            if let Ok(Lookup::Fresh(v)) = inner.remote_lookup(key).await {
                inner.report(CacheEvent::LockWaited { served: true });
                return Ok(v);
            }
        }
        inner.load_and_store(key, loader, background).await
    }
}
