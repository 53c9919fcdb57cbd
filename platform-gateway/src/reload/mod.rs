//! Hot reload: the configuration in force, replaced while the gateway serves.
//!
//! [`LiveConfig`] builds the [`Gateway`] from a [`GatewayConfig`] and replaces its
//! routes and upstreams when a new configuration arrives — from the file it was loaded
//! from ([`LiveConfig::watch_file`]), from any platform-core
//! [`ConfigSource`](platform_core::config::ConfigSource) such as the config service's
//! `HttpConfigSource` ([`LiveConfig::watch`]), or from your own code
//! ([`LiveConfig::apply`]).
//!
//! A new configuration is checked completely before anything changes: parsed, its
//! new and changed upstreams started, every route compiled. Only then are routes and
//! upstreams swapped, in one atomic step. Upstreams whose definition did not change
//! are kept as they are — connection pools, balancer state, ejections — and so are the
//! stacks (rate limits, circuit breakers) of routes that did not change. Requests in
//! flight finish where they started; upgraded connections (WebSockets) are tunnels of
//! their own and stay open. The [`ConfigDiff`] is logged (target
//! `platform::gateway::reload`).
//!
//! A configuration that fails any check is refused: the last good one stays in force,
//! the error is logged with its file, line, route and field, kept in the
//! [`ReloadStatus`] (shown by the admin API's `/admin/config`) and counted in the
//! `gateway_config_reloads_total{result="refused"}` metric.
//!
//! `[listen]`, `[proxy]` and `[server]` settings are read at start: a change to them is reported in
//! [`ConfigDiff::restart_required`] and applies after a restart.
//!
//! ```
//! use platform_gateway::config::Resources;
//! use platform_gateway::reload::LiveConfig;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("gateway.toml");
//! std::fs::write(&file, "upstreams.a.endpoints = [\"127.0.0.1:9001\"]\n[[routes]]\nid = \"a\"\nupstream = \"a\"\n")?;
//! let live = LiveConfig::load(&file, Resources::default()).await?;
//! let _watching = live.watch_file();
//! // serve `live.gateway()` with a `Server` ...
//!
//! std::fs::write(&file, "upstreams.a.endpoints = [\"127.0.0.1:9001\"]\n[[routes]]\nid = \"b\"\nupstream = \"a\"\n")?;
//! let diff = live.reload_file().await?; // what the watcher does on a change
//! assert_eq!(diff.routes_added, ["b"]);
//! assert_eq!(live.status().version, 2);
//!
//! std::fs::write(&file, "[[routes]]\nid = \"c\"\nupstream = \"missing\"\n")?;
//! assert!(live.reload_file().await.is_err());
//! assert_eq!(live.gateway().routes().ids().collect::<Vec<_>>(), ["b"]);
//! assert!(live.status().last_error.unwrap().contains("missing"));
//! # Ok(()) }
//! ```

mod diff;
mod status;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

pub use diff::ConfigDiff;
pub use status::ReloadStatus;
pub use watch::ReloadTask;

use crate::Gateway;
use crate::config::{ConfigError, GatewayConfig, Resources};
use status::ReloadMetrics;

/// The gateway's configuration in force and how it is replaced; see the
/// [module docs](self). Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct LiveConfig {
    inner: Arc<Inner>,
}

struct Inner {
    gateway: Gateway,
    resources: Resources,
    file: Option<PathBuf>,
    /// The configuration in force; the async lock also makes reloads take turns.
    current: tokio::sync::Mutex<GatewayConfig>,
    status: RwLock<ReloadStatus>,
    metrics: Option<ReloadMetrics>,
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("file", &self.inner.file)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl LiveConfig {
    /// Reads the TOML file at `path` and builds the gateway from it; the file is what
    /// [`reload_file`](Self::reload_file) and [`watch_file`](Self::watch_file) re-read.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line, route or upstream and field.
    pub async fn load(path: impl AsRef<Path>, resources: Resources) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = read(path)?;
        let config = GatewayConfig::from_toml(&text, Some(path))?;
        let source = format!("file {}", path.display());
        Self::start(config, &text, source, Some(path.to_path_buf()), resources).await
    }

    /// Builds the gateway from `config` (no file to re-read; reloads come from
    /// [`apply`](Self::apply) or [`watch`](Self::watch)).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the upstream or route that could not be built.
    pub async fn new(config: GatewayConfig, resources: Resources) -> Result<Self, ConfigError> {
        let text = format!("{config:?}");
        Self::start(config, &text, "code".to_owned(), None, resources).await
    }

    async fn start(
        config: GatewayConfig,
        text: &str,
        source: String,
        file: Option<PathBuf>,
        resources: Resources,
    ) -> Result<Self, ConfigError> {
        let metrics = match &resources.metrics {
            Some(registry) => Some(ReloadMetrics::new(registry)?),
            None => None,
        };
        // One rollout store for the start and every reload: a reload rebuilding a
        // canary carries on with its rollout.
        let resources = resources.with_own_rollouts();
        let gateway = config.build(&resources).await?;
        let status = ReloadStatus::first(text, source);
        if let Some(m) = &metrics {
            m.applied(status.version);
        }
        let inner = Inner {
            gateway,
            resources,
            file,
            current: tokio::sync::Mutex::new(config),
            status: RwLock::new(status),
            metrics,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The gateway to serve; its routes and upstreams follow the reloads.
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    /// The file the configuration is read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.inner.file.as_deref()
    }

    /// The configuration in force.
    pub async fn config(&self) -> GatewayConfig {
        self.inner.current.lock().await.clone()
    }

    /// Version, hash and source of the configuration in force, and how the last reload
    /// went.
    pub fn status(&self) -> ReloadStatus {
        self.inner.status.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Re-reads the file and applies it.
    ///
    /// # Errors
    /// A [`ConfigError`] when there is no file, it cannot be read, or the configuration
    /// is refused; the one in force stays.
    pub async fn reload_file(&self) -> Result<ConfigDiff, ConfigError> {
        let Some(path) = self.inner.file.clone() else {
            return Err(ConfigError::new(
                "this configuration was not loaded from a file; use `apply` instead",
            ));
        };
        let source = format!("file {}", path.display());
        let parsed = read(&path)
            .and_then(|text| GatewayConfig::from_toml(&text, Some(&path)).map(|c| (c, text)));
        match parsed {
            Ok((config, text)) => self.apply_with(config, &text, source).await,
            Err(e) => Err(self.refused(&source, e)),
        }
    }

    /// Parses TOML `text` (from `source`, a description for errors and the status, such
    /// as `remote config-service v12`) and applies it.
    ///
    /// # Errors
    /// A [`ConfigError`] when the configuration is refused; the one in force stays.
    pub async fn apply_toml(&self, text: &str, source: &str) -> Result<ConfigDiff, ConfigError> {
        match GatewayConfig::from_toml(text, None) {
            Ok(config) => self.apply_with(config, text, source.to_owned()).await,
            Err(e) => Err(self.refused(source, e)),
        }
    }

    /// Applies `config`: checks it completely, then swaps routes and upstreams at once.
    ///
    /// # Errors
    /// A [`ConfigError`] when the configuration is refused; the one in force stays.
    pub async fn apply(&self, config: GatewayConfig) -> Result<ConfigDiff, ConfigError> {
        let text = format!("{config:?}");
        self.apply_with(config, &text, "code".to_owned()).await
    }

    async fn apply_with(
        &self,
        config: GatewayConfig,
        text: &str,
        source: String,
    ) -> Result<ConfigDiff, ConfigError> {
        let mut current = self.inner.current.lock().await;
        let diff = ConfigDiff::between(&current, &config);
        if let Err(e) = self.swap(&current, &config, &diff).await {
            return Err(self.refused(&source, e));
        }
        *current = config;
        let version = {
            let mut status = self.inner.status.write().unwrap_or_else(PoisonError::into_inner);
            status.applied(text, source.clone(), &diff);
            status.version
        };
        if let Some(m) = &self.inner.metrics {
            m.applied(version);
        }
        tracing::info!(
            target: "platform::gateway::reload",
            version,
            %source,
            routes_added = ?diff.routes_added,
            routes_removed = ?diff.routes_removed,
            routes_changed = ?diff.routes_changed,
            upstreams_added = ?diff.upstreams_added,
            upstreams_removed = ?diff.upstreams_removed,
            upstreams_changed = ?diff.upstreams_changed,
            restart_required = ?diff.restart_required,
            "configuration applied: {diff}"
        );
        if !diff.restart_required.is_empty() {
            tracing::warn!(target: "platform::gateway::reload", sections = ?diff.restart_required, "these sections changed but apply only after a restart");
        }
        Ok(diff)
    }

    /// Starts new and changed upstreams, compiles every route, then swaps.
    async fn swap(
        &self,
        old: &GatewayConfig,
        new: &GatewayConfig,
        diff: &ConfigDiff,
    ) -> Result<(), ConfigError> {
        let gateway = &self.inner.gateway;
        let mut upstreams = HashMap::with_capacity(new.upstreams.len());
        for (name, spec) in &new.upstreams {
            let kept = old.upstreams.get(name).filter(|o| *o == spec);
            let upstream = match kept.and_then(|_| gateway.upstream(name)) {
                Some(u) => u,
                None => spec.build(name, &self.inner.resources).await?,
            };
            upstreams.insert(name.clone(), upstream);
        }
        // Unchanged routes keep their compiled stacks, and with them a canary target
        // (its rollout goes on untouched); only the others get new targets built.
        let unchanged = diff.unchanged_routes(new);
        let mut routes = Vec::with_capacity(new.routes.len());
        for r in &new.routes {
            routes.push(if unchanged.contains(&r.id.as_str()) {
                r.compile()?
            } else {
                r.build(&upstreams, &self.inner.resources).await?
            });
        }
        gateway.replace_keeping(upstreams.into_values().collect(), &routes, &unchanged)?;
        Ok(())
    }

    /// Records and reports a refused configuration; returns the error.
    fn refused(&self, source: &str, error: ConfigError) -> ConfigError {
        let message = error.to_string();
        let version = {
            let mut status = self.inner.status.write().unwrap_or_else(PoisonError::into_inner);
            status.refused(source.to_owned(), message.clone());
            status.version
        };
        if let Some(m) = &self.inner.metrics {
            m.refused();
        }
        tracing::warn!(
            target: "platform::gateway::reload",
            %source,
            error = %message,
            version_in_force = version,
            "configuration refused; the last good one stays in force"
        );
        error
    }

    /// Records that a live source cannot be reached (the configuration in force stays).
    pub(crate) fn source_unavailable(&self, source: &str, reason: &str) {
        tracing::warn!(target: "platform::gateway::reload", %source, %reason, "configuration source unavailable; the configuration in force stays");
        let mut status = self.inner.status.write().unwrap_or_else(PoisonError::into_inner);
        status.refused(source.to_owned(), format!("source unavailable: {reason}"));
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("cannot read the file: {e}")).in_file(Some(path)))
}
