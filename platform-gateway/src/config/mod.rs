//! The declarative configuration: a TOML file that compiles to the same upstreams,
//! routes and settings as the builder API.
//!
//! ```
//! use platform_gateway::config::GatewayConfig;
//!
//! let config = GatewayConfig::from_toml(r#"
//!     [proxy.forwarded]
//!     trusted_proxies = ["10.0.0.0/8"]
//!
//!     [upstreams.users]
//!     endpoints = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 200 }]
//!     response_timeout = "5s"
//!     balance = { policy = "round_robin" }
//!
//!     [[routes]]
//!     id = "users"
//!     path_prefix = "/api/users"
//!     strip_prefix = "/api"
//!     upstream = "users"
//!     timeout = "10s"
//!     retry = { max_attempts = 2 }
//! "#, None).unwrap();
//! assert_eq!(config.routes[0].id, "users");
//!
//! let bad = GatewayConfig::from_toml("[[routes]]\nid = \"x\"\ntimeout = \"soon\"\n", None);
//! let message = bad.unwrap_err().to_string();
//! assert!(message.starts_with("line 3: route `x`: `timeout`"), "{message}");
//! ```
//!
//! [`GatewayConfig::build`] starts the upstreams and builds the [`Gateway`]; errors
//! name the file, line, route or upstream and field ([`ConfigError`]). The reference
//! of every key is in `docs/gateway.md`.

#[cfg(feature = "cors")]
mod cors;
mod error;
mod route;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use platform_core::registry::Registry;
use platform_observe::metrics::MetricsRegistry;
use serde::{Deserialize, Serialize};

#[cfg(feature = "cors")]
pub use cors::CorsSpec;
pub use error::ConfigError;
pub use route::{HeaderRulesSpec, HostSpec, RouteSpec, ValueSpec};

use crate::proxy::ProxyConfig;
use crate::route::Route;
use crate::server::ServerConfig;
use crate::upstream::{Upstream, UpstreamConfig};
use crate::{Gateway, GatewayError};

/// A static endpoint: `"host:port"` or `{ address = "host:port", weight = 200 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EndpointSpec {
    /// Weight 100.
    Address(String),
    /// With a weight.
    Weighted {
        /// `host:port`.
        address: String,
        /// Relative share.
        weight: u32,
    },
}

/// One `[upstreams.NAME]` table: `endpoints` or `registry_service`, and any
/// [`UpstreamConfig`] key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamSpec {
    /// Static endpoints.
    pub endpoints: Vec<EndpointSpec>,
    /// Or the registry service whose instances are the endpoints.
    pub registry_service: Option<String>,
    /// The settings.
    pub config: UpstreamConfig,
}

/// `[listen]`: where a process running the gateway (such as the `gateway` reference
/// binary) listens. Read at start; a change applies after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// The gateway's address (default `127.0.0.1:8080`).
    pub address: SocketAddr,
    /// The admin listener's address (default `127.0.0.1:9901`); keep it on loopback or
    /// an internal network.
    pub admin: SocketAddr,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin: SocketAddr::from(([127, 0, 0, 1], 9901)),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// `[listen]`: the addresses to listen on.
    pub listen: ListenConfig,
    /// `[proxy]`: correctness settings.
    pub proxy: ProxyConfig,
    /// `[server]`: connection settings.
    pub server: ServerConfig,
    /// `[upstreams.NAME]`.
    pub upstreams: BTreeMap<String, UpstreamSpec>,
    /// `[[routes]]`, in match order for equal priorities.
    pub routes: Vec<RouteSpec>,
    /// `[tls]`: serve HTTPS with this certificate and key (feature `tls`).
    #[cfg(feature = "tls")]
    pub tls: Option<crate::server::TlsConfig>,
}

/// The file's shape before upstream tables are split.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    listen: ListenConfig,
    #[serde(default)]
    proxy: ProxyConfig,
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    upstreams: BTreeMap<String, toml::Table>,
    #[serde(default)]
    routes: Vec<RouteSpec>,
    #[cfg(feature = "tls")]
    #[serde(default)]
    tls: Option<crate::server::TlsConfig>,
}

/// What a configuration may refer to beyond itself.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// The registry `registry_service` upstreams follow.
    pub registry: Option<Arc<dyn Registry>>,
    /// Where RED metrics are recorded.
    pub metrics: Option<MetricsRegistry>,
    /// Where canary routes keep their rollout state, and the list the canary admin API
    /// shows (feature `canary`). Default: an in-memory store of the gateway's own (one
    /// per [`GatewayConfig::build`]; a [`LiveConfig`](crate::reload::LiveConfig) keeps
    /// one for all its reloads), which no admin API sees.
    #[cfg(feature = "canary")]
    pub rollouts: Option<crate::canary::Rollouts>,
}

impl Resources {
    /// These resources, with an in-memory rollout store of their own when none was
    /// given (feature `canary`), so every canary built from them shares it.
    pub(crate) fn with_own_rollouts(&self) -> Self {
        #[cfg_attr(not(feature = "canary"), allow(unused_mut))]
        let mut resources = self.clone();
        #[cfg(feature = "canary")]
        resources.rollouts.get_or_insert_with(crate::canary::Rollouts::in_memory);
        resources
    }
}

impl GatewayConfig {
    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file when it cannot be read or is invalid.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(format!("cannot read the file: {e}")).in_file(Some(path))
        })?;
        Self::from_toml(&text, Some(path))
    }

    /// Parses TOML `text` (`origin` names the file in errors).
    ///
    /// # Errors
    /// A [`ConfigError`] with line, route or upstream and field.
    pub fn from_toml(text: &str, origin: Option<&Path>) -> Result<Self, ConfigError> {
        let raw: RawConfig = parse(text).map_err(|e| e.in_file(origin))?;
        let mut upstreams = BTreeMap::new();
        for (name, mut table) in raw.upstreams {
            let spec =
                upstream_spec(&name, &mut table).map_err(|e| e.upstream(&name).in_file(origin))?;
            upstreams.insert(name, spec);
        }
        let config = Self {
            listen: raw.listen,
            proxy: raw.proxy,
            server: raw.server,
            upstreams,
            routes: raw.routes,
            #[cfg(feature = "tls")]
            tls: raw.tls,
        };
        config.check().map_err(|e| e.in_file(origin))?;
        Ok(config)
    }

    /// Checks what can be checked without starting anything: settings, routes, and that
    /// every route names a defined upstream.
    fn check(&self) -> Result<(), ConfigError> {
        self.proxy.validate()?;
        for (name, u) in &self.upstreams {
            u.config.validate(name)?;
        }
        #[cfg(feature = "canary")]
        crate::canary::config::check_routes(&self.routes, &self.upstreams)?;
        for r in &self.routes {
            r.compile()?;
            for u in r.named_upstreams() {
                if !self.upstreams.contains_key(u) {
                    return Err(GatewayError::UnknownUpstream {
                        route: r.id.clone(),
                        upstream: u.clone(),
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Starts the upstreams and builds the gateway.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the upstream or route that could not be built (for
    /// instance a `registry_service` without a registry in `resources`).
    pub async fn build(&self, resources: &Resources) -> Result<Gateway, ConfigError> {
        let resources = &resources.with_own_rollouts();
        let mut builder = Gateway::builder().proxy(self.proxy.clone());
        let mut built = HashMap::new();
        for (name, spec) in &self.upstreams {
            let upstream = spec.build(name, resources).await?;
            built.insert(name.clone(), upstream.clone());
            builder = builder.upstream(upstream);
        }
        for r in &self.routes {
            builder = builder.route(r.build(&built, resources).await?);
        }
        if let Some(m) = &resources.metrics {
            builder = builder.metrics(m);
        }
        Ok(builder.build()?)
    }
}

impl UpstreamSpec {
    /// Starts the upstream `name` this spec describes.
    pub(crate) async fn build(
        &self,
        name: &str,
        resources: &Resources,
    ) -> Result<Upstream, ConfigError> {
        let mut b = Upstream::builder(name).config(self.config.clone());
        for e in &self.endpoints {
            b = match e {
                EndpointSpec::Address(a) => b.endpoint(a),
                EndpointSpec::Weighted { address, weight } => b.weighted_endpoint(address, *weight),
            };
        }
        if let Some(service) = &self.registry_service {
            let registry = resources.registry.clone().ok_or_else(|| {
                ConfigError::new(
                    "follows a registry service, but no registry was given to build the gateway with",
                )
                .upstream(name)
                .field("registry_service")
            })?;
            b = b.registry(registry, service);
        }
        Ok(b.build().await?)
    }
}

impl RouteSpec {
    /// Compiles the entry with its target: for a `canary` route, the canary over the
    /// `upstreams` built from the file, its rollout in `resources.rollouts`.
    pub(crate) async fn build(
        &self,
        upstreams: &HashMap<String, Upstream>,
        resources: &Resources,
    ) -> Result<Route, ConfigError> {
        let route = self.compile()?;
        #[cfg(feature = "canary")]
        if self.canary.is_some() {
            let rollouts = resources.rollouts.clone().unwrap_or_default();
            return crate::canary::config::with_canary(self, route, upstreams, &rollouts).await;
        }
        let _ = (upstreams, resources);
        Ok(route)
    }
}

/// Deserializes with the failing key path and line.
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let de = toml::de::Deserializer::parse(text).map_err(|e| toml_error(text, &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let err = toml_error(text, e.inner());
        locate_route(text, &path, err)
    })
}

fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| {
        let before = &text[..s.start.min(text.len())];
        before.lines().count().max(1) + usize::from(before.ends_with('\n'))
    });
    ConfigError::new(e.message().trim().to_owned()).at_line(line)
}

/// Turns a path like `routes[2].retry.max_attempts` into route id and field.
fn locate_route(text: &str, path: &str, err: ConfigError) -> ConfigError {
    let Some(rest) = path.strip_prefix("routes[") else {
        return err.field(path);
    };
    let Some((index, field)) = rest.split_once(']') else {
        return err.field(path);
    };
    let field = field.trim_start_matches('.');
    let id = index.parse::<usize>().ok().and_then(|i| {
        let table: toml::Table = toml::from_str(text).ok()?;
        table.get("routes")?.as_array()?.get(i)?.get("id")?.as_str().map(str::to_owned)
    });
    let err = err.field(field);
    match id {
        Some(id) => err.route(id),
        None => err.route(format!("#{}", index.parse::<usize>().map_or(0, |i| i + 1))),
    }
}

fn upstream_spec(name: &str, table: &mut toml::Table) -> Result<UpstreamSpec, ConfigError> {
    let endpoints = match table.remove("endpoints") {
        Some(v) => v
            .try_into::<Vec<EndpointSpec>>()
            .map_err(|e| ConfigError::new(e.message().trim().to_owned()).field("endpoints"))?,
        None => Vec::new(),
    };
    let registry_service = match table.remove("registry_service") {
        Some(toml::Value::String(s)) => Some(s),
        Some(_) => return Err(ConfigError::new("must be a service name").field("registry_service")),
        None => None,
    };
    let config: UpstreamConfig = serde_path_to_error::deserialize(toml::Value::Table(
        std::mem::take(table),
    ))
    .map_err(|e| {
        let path = e.path().to_string();
        ConfigError::new(e.inner().message().trim().to_owned()).field(path)
    })?;
    if endpoints.is_empty() == registry_service.is_none() {
        return Err(ConfigError::new(format!(
            "give `endpoints` or `registry_service` for upstream {name:?}, exactly one of them"
        ))
        .field("endpoints"));
    }
    Ok(UpstreamSpec { endpoints, registry_service, config })
}

#[cfg(test)]
mod tests;
