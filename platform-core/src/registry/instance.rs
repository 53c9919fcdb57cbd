//! What a registry holds: one running copy of a service and its health.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::error::InvalidInstance;

/// Whether an instance should receive traffic.
///
/// Active probes ([`super::health`]) and outlier detection move instances between these states through
/// [`Registry::set_health`](super::Registry::set_health); balancers route only to
/// [`Health::Ready`] instances unless too many are out (their panic threshold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Serving and accepting new work.
    #[default]
    Ready,
    /// Still serving requests in flight but taking no new work (shutting down, deploying).
    Draining,
    /// Failing probes or ejected as an outlier; receives no traffic.
    Unhealthy,
}

impl Health {
    /// `true` for [`Health::Ready`]: the instance may receive new work.
    pub fn is_ready(self) -> bool {
        self == Self::Ready
    }

    /// The lower-case name used in JSON and logs (`ready`, `draining`, `unhealthy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Draining => "draining",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_scheme() -> String {
    "http".to_owned()
}

fn default_weight() -> u32 {
    ServiceInstance::DEFAULT_WEIGHT
}

/// One running copy of a service, as registered.
///
/// The pair (`service`, `id`) identifies an instance; registering the same pair again
/// replaces it. Build one with [`ServiceInstance::new`] and the `with_*` methods, then
/// [`validate`](Self::validate) it (registries validate on `register`).
///
/// ```
/// use platform_core::registry::{Health, ServiceInstance};
///
/// let inst = ServiceInstance::new("orders", "orders-1", "10.0.0.7", 8080)
///     .with_version("1.4.2")
///     .with_zone("eu-west-1a")
///     .with_weight(200)
///     .with_metadata("canary", "true");
/// inst.validate().unwrap();
/// assert_eq!(inst.authority(), "10.0.0.7:8080");
/// assert_eq!(inst.url(), "http://10.0.0.7:8080");
/// assert_eq!(inst.health, Health::Ready);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceInstance {
    /// Logical service name (`orders`); what clients discover by.
    pub service: String,
    /// Unique id of this instance within its service (`orders-7f9c`).
    pub id: String,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// URL scheme clients use (`http`, `https`, `grpc`); defaults to `http`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Deployed version, for version-filtered routing (empty when unknown).
    #[serde(default)]
    pub version: String,
    /// Availability zone, for zone-aware routing (empty when unknown).
    #[serde(default)]
    pub zone: String,
    /// Relative share of traffic; must be at least 1. Defaults to 100.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Free-form labels (filters match on them).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Current health.
    #[serde(default)]
    pub health: Health,
}

impl ServiceInstance {
    /// Weight given by [`ServiceInstance::new`].
    pub const DEFAULT_WEIGHT: u32 = 100;

    /// A ready instance of `service` with id `id` at `host:port`, scheme `http`, weight 100.
    pub fn new(
        service: impl Into<String>,
        id: impl Into<String>,
        host: impl Into<String>,
        port: u16,
    ) -> Self {
        Self {
            service: service.into(),
            id: id.into(),
            host: host.into(),
            port,
            scheme: default_scheme(),
            version: String::new(),
            zone: String::new(),
            weight: Self::DEFAULT_WEIGHT,
            metadata: BTreeMap::new(),
            health: Health::Ready,
        }
    }

    /// An instance at a socket address.
    pub fn from_addr(service: impl Into<String>, id: impl Into<String>, addr: SocketAddr) -> Self {
        Self::new(service, id, addr.ip().to_string(), addr.port())
    }

    /// Sets the URL scheme.
    pub fn with_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Sets the deployed version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the availability zone.
    pub fn with_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = zone.into();
        self
    }

    /// Sets the weight (at least 1).
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds one metadata label.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the initial health.
    pub fn with_health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// `host:port`, with brackets around an IPv6 host.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `scheme://host:port`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority())
    }

    /// The socket address when the host is an IP literal (no DNS lookup).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip = self.host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }

    /// Checks the fields a registry relies on.
    ///
    /// # Errors
    /// [`InvalidInstance`] naming the field: empty or oversized service/id, characters
    /// outside `[A-Za-z0-9._-]` in the service name or id, an empty host or one with
    /// spaces, `/` or brackets, port 0, an empty scheme or one that is not
    /// `[a-z][a-z0-9+.-]*`, or weight 0.
    pub fn validate(&self) -> Result<(), InvalidInstance> {
        let bad = |field: &'static str, reason: String| {
            Err(InvalidInstance::new(&self.service, &self.id, field, reason))
        };
        if let Err(reason) = crate::names::check(&self.service) {
            return bad("service", reason);
        }
        if let Err(reason) = crate::names::check(&self.id) {
            return bad("id", reason);
        }
        if self.host.is_empty() {
            return bad("host", "must not be empty".into());
        }
        if self.host.chars().any(|c| c.is_whitespace() || matches!(c, '/' | '[' | ']' | '@')) {
            return bad(
                "host",
                format!(
                    "{:?} is not a host name or IP address (no scheme, path, brackets or spaces)",
                    self.host
                ),
            );
        }
        if self.port == 0 {
            return bad("port", "must be between 1 and 65535".into());
        }
        let mut scheme = self.scheme.chars();
        let scheme_ok = scheme.next().is_some_and(|c| c.is_ascii_lowercase())
            && scheme.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
        if !scheme_ok {
            return bad(
                "scheme",
                format!("{:?} is not a URL scheme such as \"http\"", self.scheme),
            );
        }
        if self.weight == 0 {
            return bad("weight", "must be at least 1 (use health to take it out)".into());
        }
        Ok(())
    }
}

/// Validates a service name passed to a registry call.
pub(crate) fn check_service(service: &str) -> Result<(), InvalidInstance> {
    crate::names::check(service)
        .map_err(|reason| InvalidInstance::new(service, "", "service", reason))
}
