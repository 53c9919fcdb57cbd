//! The serde settings of an upstream.

use std::path::PathBuf;
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
    /// The default: HTTP/1.1 to plain endpoints; to `https` endpoints, whatever ALPN
    /// settles (`h2` or `http/1.1`, the endpoint chooses). Upgrades (WebSockets) always
    /// go over HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 with pooled keep-alive connections (ALPN `http/1.1` over TLS).
    Http1,
    /// HTTP/2 over plain TCP (prior knowledge), one multiplexed connection per endpoint.
    H2c,
    /// HTTP/2 over TLS (ALPN `h2` only): `https` endpoints, gRPC over TLS.
    H2,
}

impl UpstreamProtocol {
    /// Whether requests go over HTTP/2 whatever the endpoint prefers.
    pub(crate) fn http2_only(self) -> bool {
        matches!(self, Self::H2c | Self::H2)
    }

    /// The ALPN protocols offered to a TLS endpoint, most preferred first.
    pub(crate) fn alpn(self) -> &'static [&'static [u8]] {
        match self {
            Self::Auto => &[b"h2", b"http/1.1"],
            Self::Http1 => &[b"http/1.1"],
            Self::H2c | Self::H2 => &[b"h2"],
        }
    }
}

/// `[upstreams.NAME.tls]`: TLS to the endpoints of an upstream.
///
/// Endpoints written `https://host:port` use it (with these defaults when the table is
/// absent); with the table present, plain `host:port` endpoints and registry instances
/// are reached over TLS too.
///
/// ```toml
/// [upstreams.billing]
/// endpoints = ["https://billing.internal:8443"]
/// protocol = "h2"
/// tls = { ca_file = "/etc/gateway/internal-ca.pem", client_cert = "gw.pem", client_key = "gw.key" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// The name sent as SNI and that the endpoint's certificate must hold (default: the
    /// endpoint's host). Set it when endpoints are IP addresses, such as registry
    /// instances, whose certificates name a host.
    pub server_name: Option<String>,
    /// A PEM file of CA certificates trusted beside the built-in roots (your internal
    /// CA, or the system bundle such as `/etc/ssl/certs/ca-certificates.crt`).
    pub ca_file: Option<PathBuf>,
    /// Trust the Mozilla root certificates built into the gateway (`webpki-roots`;
    /// default `true`). `false` trusts only `ca_file`.
    pub webpki_roots: bool,
    /// A PEM certificate chain presented to endpoints that ask for one (mutual TLS);
    /// needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert` (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub client_key: Option<PathBuf>,
}

impl Default for UpstreamTlsConfig {
    fn default() -> Self {
        Self {
            server_name: None,
            ca_file: None,
            webpki_roots: true,
            client_cert: None,
            client_key: None,
        }
    }
}

impl UpstreamTlsConfig {
    fn validate(&self, upstream: &str) -> Result<(), GatewayError> {
        let bad = |field, reason: &str| Err(GatewayError::upstream(upstream, field, reason));
        if self.client_cert.is_some() != self.client_key.is_some() {
            return bad(
                "tls.client_cert",
                "and `tls.client_key` go together: give both for mutual TLS, or neither",
            );
        }
        if !self.webpki_roots && self.ca_file.is_none() {
            return bad(
                "tls.webpki_roots",
                "is false and no `tls.ca_file` is given: no certificate could be trusted",
            );
        }
        if self.server_name.as_deref().is_some_and(|n| n.is_empty() || n.contains(['/', ' '])) {
            return bad("tls.server_name", "must be a DNS name or an IP address");
        }
        Ok(())
    }
}

/// How the gateway talks to an upstream and spreads load over its endpoints.
///
/// Every field has a default, so `[upstreams.users]` with only `endpoints` is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `auto` (default), `http1`, `h2c` or `h2`.
    pub protocol: UpstreamProtocol,
    /// TLS to the endpoints (see [`UpstreamTlsConfig`]); endpoints written
    /// `https://` use TLS with the defaults when this is absent.
    pub tls: Option<UpstreamTlsConfig>,
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
    /// Idle connections kept per endpoint (default 256), by each worker of
    /// [`Server::serve_workers`](crate::Server::serve_workers) for itself.
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
            protocol: UpstreamProtocol::Auto,
            tls: None,
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
        if let Some(tls) = &self.tls {
            tls.validate(upstream)?;
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
