//! The registry and config service as a standalone process.
//!
//! In-memory backends by default (one process holds the fleet's registry and config
//! documents; a restart forgets them and clients re-register within a third of their
//! TTL), or Redis backends with `--redis <url>` (state survives restarts and several
//! replicas can share it).

use std::sync::Arc;
use std::time::Duration;

use platform_core::control::{ConfigStore, ControlPlane, MemoryConfigStore, RedisDocumentStore};
use platform_core::registry::{MemoryRegistry, RedisRegistry, RedisRegistryConfig, Registry};

/// Where the service listens unless `PLATFORM_CONTROL_ADDR` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7070";

/// Command-line options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// `--redis <url>`: keep the registry and config documents in Redis.
    pub redis: Option<String>,
    /// `--prefix <prefix>`: key prefix in Redis (default `platform:`).
    pub prefix: Option<String>,
}

impl Args {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use platform_examples::control_plane::Args;
    ///
    /// let args = Args::parse(["--redis", "redis://127.0.0.1:6379"].map(String::from)).unwrap();
    /// assert_eq!(args.redis.as_deref(), Some("redis://127.0.0.1:6379"));
    /// assert!(Args::parse(["--verbose".to_owned()]).is_err());
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--redis" => parsed.redis = Some(value("--redis")?),
                "--prefix" => parsed.prefix = Some(value("--prefix")?),
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; usage: control-plane [--redis <url>] [--prefix <prefix>]"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// The service over the backends `args` select.
///
/// ```
/// use platform_examples::control_plane::{Args, service};
///
/// let plane = service(&Args::default()).unwrap(); // in memory
/// let _router: axum::Router = plane.router();
/// ```
pub fn service(args: &Args) -> Result<ControlPlane, Box<dyn std::error::Error>> {
    let backends = backends(args)?;
    Ok(ControlPlane::new(backends.registry, backends.config).keep_alive(Duration::from_secs(15)))
}

/// The registry and the config document store of a control plane.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Service instances.
    pub registry: Arc<dyn Registry>,
    /// Configuration documents.
    pub config: Arc<dyn ConfigStore>,
}

/// The backends `args` select (for callers that also use the registry themselves, like
/// the `platform` binary's gateway).
///
/// # Errors
/// When the Redis URL is invalid.
pub fn backends(args: &Args) -> Result<Backends, Box<dyn std::error::Error>> {
    let (registry, config): (Arc<dyn Registry>, Arc<dyn ConfigStore>) = match &args.redis {
        None => (Arc::new(MemoryRegistry::new()), Arc::new(MemoryConfigStore::new())),
        Some(url) => {
            let prefix = args.prefix.as_deref().unwrap_or("platform:");
            let registry = RedisRegistry::new(RedisRegistryConfig::new(url).with_prefix(prefix))?;
            let client = redis::Client::open(url.as_str())
                .map_err(|e| format!("--redis {url:?} is not a Redis URL: {e}"))?;
            (Arc::new(registry), Arc::new(RedisDocumentStore::new(client, prefix)))
        }
    };
    Ok(Backends { registry, config })
}
