//! The default balancers over a [`RegistryDiscover`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower::balance::p2c::Balance;
use tower::load::{CompleteOnResponse, PeakEwmaDiscover, PendingRequestsDiscover};

use super::RegistryDiscover;
use crate::resilience::ConfigError;

/// Power-of-two-choices over PeakEwma-weighted endpoints: the default balancer.
pub type PeakEwmaBalance<S, Req> =
    Balance<PeakEwmaDiscover<RegistryDiscover<S>, CompleteOnResponse>, Req>;

/// Power-of-two-choices over endpoints weighted by requests in flight.
pub type PendingRequestsBalance<S, Req> =
    Balance<PendingRequestsDiscover<RegistryDiscover<S>, CompleteOnResponse>, Req>;

/// Settings of the PeakEwma load estimate.
///
/// PeakEwma keeps, per endpoint, an exponentially weighted moving average of response
/// times that jumps up at once on a slow response and decays back over `decay`; the load
/// it reports is that estimate times the requests in flight (plus one). Power of two
/// choices then picks the less loaded of two random endpoints, so a slow endpoint
/// receives clearly less traffic without being ejected.
///
/// ```
/// use std::time::Duration;
/// use platform_core::registry::discover::BalanceConfig;
///
/// let config: BalanceConfig = serde_json::from_str(r#"{ "default_rtt": "50ms" }"#).unwrap();
/// config.validate().unwrap();
/// assert_eq!(config.decay, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BalanceConfig {
    /// Latency assumed for an endpoint before its first response (default 30 ms): lower
    /// sends new endpoints more traffic at first.
    #[serde(with = "humantime_serde")]
    pub default_rtt: Duration,
    /// How fast the estimate forgets a latency peak (default 10 s): shorter reacts
    /// faster to recoveries, longer is steadier.
    #[serde(with = "humantime_serde")]
    pub decay: Duration,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        Self { default_rtt: Duration::from_millis(30), decay: Duration::from_secs(10) }
    }
}

impl BalanceConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// A [`ConfigError`] when `decay` is zero (PeakEwma needs a positive decay).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.decay.is_zero() {
            return Err(ConfigError::new("balance", "decay", "must be greater than zero"));
        }
        Ok(())
    }
}

impl<S> RegistryDiscover<S> {
    /// The default balancer: p2c over PeakEwma with `config`'s RTT and decay; a response
    /// completes a request's measurement (the body is not awaited).
    ///
    /// # Errors
    /// A [`ConfigError`] for an invalid `config`.
    pub fn peak_ewma<Req>(
        self,
        config: &BalanceConfig,
    ) -> Result<PeakEwmaBalance<S, Req>, ConfigError>
    where
        S: tower::Service<Req>,
        S::Error: Into<crate::BoxError>,
    {
        config.validate()?;
        let load = PeakEwmaDiscover::new(
            self,
            config.default_rtt,
            config.decay,
            CompleteOnResponse::default(),
        );
        Ok(Balance::new(load))
    }

    /// p2c over the number of requests in flight per endpoint: no latency estimate, for
    /// endpoints whose response times are similar or too few to average.
    pub fn pending_requests<Req>(self) -> PendingRequestsBalance<S, Req>
    where
        S: tower::Service<Req>,
        S::Error: Into<crate::BoxError>,
    {
        Balance::new(PendingRequestsDiscover::new(self, CompleteOnResponse::default()))
    }
}
