//! The serde settings of an upstream.

use std::time::Duration;

use platform_core::registry::discover::DiscoverConfig;
use platform_core::registry::health::OutlierConfig;
use serde::{Deserialize, Serialize};

use crate::balance::BalancePolicy;
use crate::error::GatewayError;

/// The protocol the gateway speaks to an upstream's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with pooled keep-alive connections (the default).
    #[default]
    Http1,
    /// HTTP/2 over plain TCP (prior knowledge), one multiplexed connection per endpoint.
    H2c,
}

/// How the gateway talks to an upstream and spreads load over its endpoints.
///
/// Every field has a default, so `[upstreams.users]` with only `endpoints` is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// HTTP/1.1 or h2c (default `http1`).
    pub protocol: UpstreamProtocol,
    /// Longest wait for a TCP connection (default 5 s); past it: 504
    /// `upstream_connect_timeout`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for the response head of one attempt, from sending the request
    /// (default 30 s); past it: 504 `upstream_timeout`.
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// Longest pause inside a response body (default 60 s); past it the response is cut
    /// off.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How long an unused pooled connection is kept (default 90 s).
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per endpoint (default 256).
    pub pool_max_idle_per_host: usize,
    /// The balancing policy (default PeakEwma).
    pub balance: BalancePolicy,
    /// Passive outlier detection per endpoint (default on).
    pub eject_outliers: bool,
    /// Its settings: consecutive failures, ejection backoff, most endpoints ejected.
    pub outlier: OutlierConfig,
    /// Endpoint selection: version and label filters, zone, panic threshold.
    pub discovery: DiscoverConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            protocol: UpstreamProtocol::Http1,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            balance: BalancePolicy::default(),
            eject_outliers: true,
            outlier: OutlierConfig::default(),
            discovery: DiscoverConfig::default(),
        }
    }
}

impl UpstreamConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`GatewayError::Upstream`] naming the field.
    pub fn validate(&self, upstream: &str) -> Result<(), GatewayError> {
        for (field, d) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(GatewayError::upstream(upstream, field, "must be greater than zero"));
            }
        }
        self.balance.validate().map_err(|(f, r)| GatewayError::upstream(upstream, f, r))?;
        self.outlier.validate().map_err(|e| {
            GatewayError::upstream(upstream, "outlier", format!("{}: {}", e.field(), e.problem()))
        })?;
        self.discovery.validate().map_err(|e| {
            GatewayError::upstream(upstream, "discovery", format!("{}: {}", e.field(), e.problem()))
        })
    }
}
