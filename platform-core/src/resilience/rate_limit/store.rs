//! governor state stores that keep the theoretical arrival time (TAT) as an absolute
//! reading of the limiter's clock, so a limiter rebuilt with a new quota (live
//! reconfiguration) keeps every bucket's state.
//!
//! governor stores TATs relative to the instant its limiter was created (`start`); each
//! store handle knows the `start` of the limiter that owns it and translates.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use governor::nanos::Nanos;
use governor::state::{NotKeyed, StateStore};

use super::clock::RateLimitClock;

#[inline]
fn to_relative(abs: u64, start: u64) -> Option<Nanos> {
    // 0 means "never seen"; a TAT before `start` is a full bucket either way.
    (abs != 0).then(|| Nanos::from(abs.saturating_sub(start)))
}

/// The single bucket of a global limiter.
#[derive(Debug, Clone)]
pub(super) struct DirectCell {
    tat: Arc<AtomicU64>,
    start: u64,
}

impl DirectCell {
    /// A handle on `tat` for a limiter created at `start`.
    pub(super) fn new(tat: Arc<AtomicU64>, start: u64) -> Self {
        Self { tat, start }
    }
}

impl StateStore for DirectCell {
    type Key = NotKeyed;

    #[inline]
    fn measure_and_replace<T, F, E>(&self, _key: &NotKeyed, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut prev = self.tat.load(Ordering::Acquire);
        loop {
            let (out, next) = f(to_relative(prev, self.start))?;
            let next = next.as_u64().saturating_add(self.start);
            match self.tat.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(out),
                Err(actual) => prev = actual,
            }
        }
    }
}

/// Per-key buckets, bounded in number, evicted without a background task.
///
/// Keys live in shards (a mutex-protected map each). A key is dropped once its bucket has
/// refilled completely (its TAT is in the past) — forgetting such a key is exact, since a
/// new key starts with a full bucket too. Those sweeps run inside calls, amortised: a
/// shard is swept after as many operations as it has keys (at least 64), and whenever it
/// is full. Only when a shard is full of keys that are all still refilling are the keys
/// closest to full (smallest TAT) evicted, an eighth of the shard at a time; such a key,
/// if it returns, gets a full burst early. That is the memory-bound trade-off.
pub(super) struct KeyTable<K> {
    shards: Box<[Mutex<Shard<K>>]>,
    per_shard: usize,
    hasher: RandomState,
    clock: RateLimitClock,
}

struct Shard<K> {
    map: HashMap<K, u64>,
    ops: usize,
}

impl<K: Hash + Eq + Clone> KeyTable<K> {
    pub(super) fn new(max_keys: usize, clock: RateLimitClock) -> Self {
        let shards = if max_keys >= 4096 { 16 } else { 1 };
        let per_shard = (max_keys / shards).max(1);
        let shards =
            (0..shards).map(|_| Mutex::new(Shard { map: HashMap::new(), ops: 0 })).collect();
        Self { shards, per_shard, hasher: RandomState::new(), clock }
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many keys are tracked right now.
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len()).sum()
    }
}

impl<K> Shard<K> {
    /// Drops every key whose bucket is full again.
    fn sweep(&mut self, now: u64) {
        self.map.retain(|_, tat| *tat > now);
        self.ops = 0;
    }

    /// Makes room for one more key in a full shard.
    fn evict_closest_to_full(&mut self, cap: usize) {
        let n = (cap / 8).max(1);
        let mut tats: Vec<u64> = self.map.values().copied().collect();
        let (_, cut, _) = tats.select_nth_unstable(n - 1);
        let cut = *cut;
        let mut left = n;
        self.map.retain(|_, tat| {
            if left > 0 && *tat <= cut {
                left -= 1;
                false
            } else {
                true
            }
        });
        tracing::debug!(
            target: "platform::resilience::rate_limit",
            evicted = n,
            "key table full: evicted the keys closest to a full bucket"
        );
    }
}

impl<K> std::fmt::Debug for KeyTable<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable").field("shards", &self.shards.len()).finish_non_exhaustive()
    }
}

/// A handle on a [`KeyTable`] for a limiter created at `start`.
#[derive(Debug)]
pub(super) struct KeyStore<K> {
    table: Arc<KeyTable<K>>,
    start: u64,
}

impl<K> KeyStore<K> {
    pub(super) fn new(table: Arc<KeyTable<K>>, start: u64) -> Self {
        Self { table, start }
    }
}

impl<K: Hash + Eq + Clone> StateStore for KeyStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let table = &*self.table;
        let mut shard = table.shard(key);
        shard.ops += 1;
        if shard.ops >= shard.map.len().max(64) {
            shard.sweep(table.clock.now_nanos());
        }
        if let Some(tat) = shard.map.get_mut(key) {
            let (out, next) = f(to_relative(*tat, self.start))?;
            *tat = next.as_u64().saturating_add(self.start);
            return Ok(out);
        }
        let (out, next) = f(None)?;
        let cap = table.per_shard;
        if shard.map.len() >= cap {
            shard.sweep(table.clock.now_nanos());
            if shard.map.len() >= cap {
                shard.evict_closest_to_full(cap);
            }
        }
        shard.map.insert(key.clone(), next.as_u64().saturating_add(self.start));
        Ok(out)
    }
}
