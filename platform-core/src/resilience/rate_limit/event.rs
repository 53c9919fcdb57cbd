use std::time::Duration;

use super::config::{OnRedisFailure, QuotaConfig};
use super::limit_key::RateLimitKey;
use crate::resilience::Listeners;

const TARGET: &str = "platform::resilience::rate_limit";

/// Something the [`RateLimit`](super::RateLimit) layer reports to its listeners (and as a
/// `tracing` event, target `platform::resilience::rate_limit`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitEvent {
    /// A request was rejected.
    Rejected {
        /// The key's text form (keyed limiters), `None` for the global bucket.
        key: Option<String>,
        /// When the same key could be admitted again.
        retry_after: Duration,
    },
    /// Shadow mode: a request would have been rejected and was let through.
    ShadowRejected {
        /// The key's text form (keyed limiters), `None` for the global bucket.
        key: Option<String>,
        /// When it would have been admitted again.
        retry_after: Duration,
    },
    /// Redis failed or timed out: decisions follow the failure policy until it recovers.
    RedisDegraded {
        /// What went wrong.
        error: String,
        /// The policy now in force.
        policy: OnRedisFailure,
    },
    /// Redis answers again: decisions are distributed again.
    RedisRecovered,
    /// Redis failed while the layer was degraded, so the request was refused (fail-closed).
    RedisUnavailable,
    /// The configuration was changed at runtime.
    Reconfigured {
        /// The new default quota.
        quota: QuotaConfig,
    },
}

fn key_text<K: RateLimitKey>(key: Option<&K>) -> Option<String> {
    key.map(|k| {
        let mut s = String::new();
        k.write_key(&mut s);
        s
    })
}

/// Reports a (would-be) rejection. Allocates only when there are listeners.
pub(super) fn rejected<K: RateLimitKey>(
    listeners: &Listeners<RateLimitEvent>,
    key: Option<&K>,
    retry_after: Duration,
    shadow: bool,
) {
    let retry_after_ms = retry_after.as_millis() as u64;
    if shadow {
        tracing::debug!(target: TARGET, ?key, retry_after_ms, "shadow mode: request would be rate limited");
    } else {
        tracing::debug!(target: TARGET, ?key, retry_after_ms, "request rate limited");
    }
    if listeners.is_empty() {
        return;
    }
    let key = key_text(key);
    listeners.emit(&if shadow {
        RateLimitEvent::ShadowRejected { key, retry_after }
    } else {
        RateLimitEvent::Rejected { key, retry_after }
    });
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(super) fn degraded(
    listeners: &Listeners<RateLimitEvent>,
    error: String,
    policy: OnRedisFailure,
) {
    tracing::warn!(target: TARGET, %error, ?policy, "redis rate limiter degraded: applying the failure policy");
    listeners.emit(&RateLimitEvent::RedisDegraded { error, policy });
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(super) fn recovered(listeners: &Listeners<RateLimitEvent>) {
    tracing::info!(target: TARGET, "redis rate limiter recovered");
    listeners.emit(&RateLimitEvent::RedisRecovered);
}

pub(super) fn reconfigured(listeners: &Listeners<RateLimitEvent>, quota: QuotaConfig) {
    tracing::info!(target: TARGET, rate = quota.rate, period_ms = quota.period.as_millis() as u64, burst = quota.burst_size(), "rate limit reconfigured");
    listeners.emit(&RateLimitEvent::Reconfigured { quota });
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(super) fn unavailable(listeners: &Listeners<RateLimitEvent>) {
    tracing::debug!(target: TARGET, "redis unavailable: request refused (fail-closed)");
    listeners.emit(&RateLimitEvent::RedisUnavailable);
}
