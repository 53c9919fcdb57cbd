//! Load balancing over an upstream's endpoints.
//!
//! Every policy picks from the endpoints currently in rotation (the discovery adapter of
//! platform-core removes ejected and unhealthy ones, under its panic threshold) and
//! skips endpoints a retry of the same request already tried while others remain.
//!
//! | policy | picks |
//! |---|---|
//! | [`peak_ewma`](BalancePolicy::PeakEwma) (default) | the less loaded of two random endpoints; load = peak-sensitive latency average × (requests in flight + 1); 5xx, 429 and errors count as `failure_penalty` of latency |
//! | [`round_robin`](BalancePolicy::RoundRobin) | each endpoint in turn |
//! | [`weighted`](BalancePolicy::Weighted) | in proportion to the instances' weights, spread evenly over each cycle |
//! | [`consistent_hash`](BalancePolicy::ConsistentHash) | the same endpoint for the same key (header, cookie or client address) while its load stays within `load_factor` × the average; requests without a key go by `peak_ewma` |

mod endpoint;
mod pick;
mod ring;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use endpoint::Endpoint;
pub(crate) use endpoint::{EndpointSet, InFlight};
pub(crate) use pick::Balancer;
pub(crate) use ring::hash_key;
#[cfg(feature = "canary")]
pub(crate) use ring::hash_salted;

/// Settings of the PeakEwma load estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeakEwmaConfig {
    /// Latency assumed for an endpoint before its first response (default 30 ms).
    #[serde(with = "humantime_serde")]
    pub default_rtt: Duration,
    /// How fast a latency peak is forgotten (default 10 s; must be > 0).
    #[serde(with = "humantime_serde")]
    pub decay: Duration,
    /// Latency recorded for a failed exchange — 5xx, 429, connection error or timeout —
    /// when it was faster than this (default 1 s), so failing fast does not attract
    /// traffic.
    #[serde(with = "humantime_serde")]
    pub failure_penalty: Duration,
}

impl Default for PeakEwmaConfig {
    fn default() -> Self {
        Self {
            default_rtt: Duration::from_millis(30),
            decay: Duration::from_secs(10),
            failure_penalty: Duration::from_secs(1),
        }
    }
}

/// What a consistent-hash balancer hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKey {
    /// The value of this request header.
    Header(String),
    /// The value of this cookie.
    Cookie(String),
    /// The client address (derived through trusted proxies).
    ClientAddress,
}

/// Settings of consistent hashing with bounded load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistentHashConfig {
    /// What is hashed.
    pub key: HashKey,
    /// An endpoint takes a key's request only while its requests in flight stay within
    /// `load_factor` × the average (default 1.25; at least 1.0). Past it the request
    /// goes to the next endpoint on the ring.
    #[serde(default = "default_load_factor")]
    pub load_factor: f64,
    /// Points per endpoint on the ring, scaled by weight / 100 (default 100).
    #[serde(default = "default_replicas")]
    pub replicas: u32,
}

fn default_load_factor() -> f64 {
    1.25
}

fn default_replicas() -> u32 {
    100
}

impl ConsistentHashConfig {
    /// Hashing on `key` with the default load factor and replicas.
    pub fn new(key: HashKey) -> Self {
        Self { key, load_factor: default_load_factor(), replicas: default_replicas() }
    }
}

/// How an upstream spreads requests over its endpoints; see the [module docs](self).
///
/// In a config file: `balance = { policy = "round_robin" }` or
/// `balance = { policy = "consistent_hash", key = { header = "x-user" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BalancePolicy {
    /// Power of two choices over PeakEwma load (the default).
    PeakEwma(PeakEwmaConfig),
    /// Each endpoint in turn.
    RoundRobin,
    /// In proportion to the instances' weights.
    Weighted,
    /// Sticky by key, with bounded load.
    ConsistentHash(ConsistentHashConfig),
}

impl Default for BalancePolicy {
    fn default() -> Self {
        Self::PeakEwma(PeakEwmaConfig::default())
    }
}

impl BalancePolicy {
    /// Checks the values; the message names the field.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            Self::PeakEwma(c) if c.decay.is_zero() => {
                Err(("balance.decay", "must be greater than zero".into()))
            }
            Self::ConsistentHash(c) if !(c.load_factor >= 1.0 && c.load_factor.is_finite()) => Err(
                ("balance.load_factor", format!("is {}; it must be at least 1.0", c.load_factor)),
            ),
            Self::ConsistentHash(c) if c.replicas == 0 || c.replicas > 10_000 => {
                Err(("balance.replicas", format!("is {}; it must be 1..=10000", c.replicas)))
            }
            _ => Ok(()),
        }
    }

    /// The PeakEwma settings used by this policy (hash fallback included).
    pub(crate) fn ewma(&self) -> PeakEwmaConfig {
        match self {
            Self::PeakEwma(c) => c.clone(),
            _ => PeakEwmaConfig::default(),
        }
    }
}
