//! Distributed decisions: one GCRA bucket per key in Redis, updated by an atomic script.
//!
//! The script reads Redis' own clock (`TIME`), so instances never disagree about time: the
//! skew between application hosts does not matter, only Redis' clock does (and a primary
//! failover to a replica with a different clock shifts every bucket by the difference,
//! once). Each bucket is one string key holding its theoretical arrival time in
//! microseconds, with a TTL that expires it exactly when the bucket is full again, so
//! expiry never grants extra burst.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::clock::RateLimitClock;
use super::config::{OnRedisFailure, RedisConfig};
use super::event::{self, RateLimitEvent};
use super::limit_key::RateLimitKey;
use super::limiter::{Decision, Snapshot};
use crate::resilience::{ConfigError, Listeners};

/// KEYS[1] bucket; ARGV[1] emission interval (µs); ARGV[2] tolerance = interval × (burst − 1) (µs).
/// Returns {1, 0} when admitted, {0, wait µs} when rejected.
const GCRA_LUA: &str = r"
local t = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allow_at = tat - tau
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + t
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
";

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA_LUA));

/// A Redis connection and its health; survives reconfiguration while the URL is unchanged.
pub(super) struct Remote {
    url: String,
    client: redis::Client,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    degraded: AtomicBool,
    next_probe: AtomicU64,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("degraded", &self.degraded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Parses the URL; the connection is made on first use.
    pub(super) fn open(url: &str) -> Result<Arc<Self>, ConfigError> {
        let client = redis::Client::open(url)
            .map_err(|e| ConfigError::new("rate_limit", "redis.url", e.to_string()))?;
        Ok(Arc::new(Self {
            url: url.to_owned(),
            client,
            conn: tokio::sync::OnceCell::new(),
            degraded: AtomicBool::new(false),
            next_probe: AtomicU64::new(0),
        }))
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// `true` while the failure policy is in force.
    pub(super) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    async fn run(
        &self,
        key: &str,
        t_us: u64,
        tau_us: u64,
        timeout: Duration,
    ) -> Result<(i64, i64), String> {
        let conn = self
            .conn
            .get_or_try_init(|| async { crate::redis_conn::lazy_manager(&self.client, timeout) })
            .await
            .map_err(|e| e.to_string())?;
        let mut conn = conn.clone();
        let mut invocation = SCRIPT.key(key);
        invocation.arg(t_us).arg(tau_us);
        let call = invocation.invoke_async::<(i64, i64)>(&mut conn);
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {}ms", timeout.as_millis())),
        }
    }
}

/// Redis settings of one config snapshot.
#[derive(Debug)]
pub(super) struct RemotePlan {
    pub(super) remote: Arc<Remote>,
    pub(super) cfg: RedisConfig,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Decides one request through Redis, applying the failure policy when it cannot.
pub(super) async fn decide<K: RateLimitKey>(
    snapshot: Arc<Snapshot<K>>,
    key: Option<K>,
    keyed: bool,
    clock: RateLimitClock,
    listeners: Listeners<RateLimitEvent>,
) -> Decision {
    let Some(plan) = snapshot.remote.as_ref() else { return Decision::Admit };
    let remote = &plan.remote;
    let now = clock.now_nanos();
    if remote.is_degraded() {
        // Only one request per probe interval pays the Redis timeout while degraded.
        let due = remote.next_probe.load(Ordering::Acquire);
        let probe = now >= due
            && remote
                .next_probe
                .compare_exchange(
                    due,
                    now + plan.cfg.probe_interval.as_nanos() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
        if !probe {
            return fallback(&snapshot, plan.cfg.on_failure, &key, keyed, &listeners);
        }
    }
    let mut redis_key = String::with_capacity(plan.cfg.prefix.len() + 32);
    redis_key.push_str(&plan.cfg.prefix);
    match (&key, keyed) {
        (_, false) => redis_key.push('g'),
        (None, true) => redis_key.push('u'),
        (Some(k), true) => {
            redis_key.push_str("k:");
            k.write_key(&mut redis_key);
        }
    }
    let quota = snapshot.quota_of(key.as_ref());
    let t_us = micros(quota.emission_interval()).max(1);
    let tau_us = t_us.saturating_mul(u64::from(quota.burst_size() - 1));
    match remote.run(&redis_key, t_us, tau_us, plan.cfg.timeout).await {
        Ok((allowed, wait_us)) => {
            if remote.degraded.swap(false, Ordering::AcqRel) {
                event::recovered(&listeners);
            }
            if allowed == 1 {
                Decision::Admit
            } else {
                Decision::Reject(Duration::from_micros(wait_us.max(0) as u64))
            }
        }
        Err(error) => {
            let next = clock.now_nanos() + plan.cfg.probe_interval.as_nanos() as u64;
            remote.next_probe.store(next, Ordering::Release);
            if !remote.degraded.swap(true, Ordering::AcqRel) {
                event::degraded(&listeners, error, plan.cfg.on_failure);
            }
            fallback(&snapshot, plan.cfg.on_failure, &key, keyed, &listeners)
        }
    }
}

fn fallback<K: RateLimitKey>(
    snapshot: &Snapshot<K>,
    policy: OnRedisFailure,
    key: &Option<K>,
    keyed: bool,
    listeners: &Listeners<RateLimitEvent>,
) -> Decision {
    match policy {
        OnRedisFailure::FailOpen => Decision::Admit,
        OnRedisFailure::FailClosed => {
            event::unavailable(listeners);
            Decision::Unavailable
        }
        OnRedisFailure::LocalFallback { .. } => {
            if keyed {
                snapshot.check_key(key)
            } else {
                snapshot.check_global()
            }
        }
    }
}
