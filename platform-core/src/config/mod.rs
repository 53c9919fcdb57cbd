//! Layered, typed configuration with live updates.
//!
//! * [`ConfigLoader`] builds a typed value from layers, each overriding the ones before:
//!   built-in defaults → file (TOML, YAML or JSON) → profile overlay
//!   (`platform.prod.toml`) → environment variables (`PLATFORM__SECTION__KEY`) → a remote
//!   document. Errors ([`LoadError`]) name the source, the key path and, for files, the
//!   line and column.
//! * [`ConfigHandle`] holds the current value: a lock-free read ([`ConfigHandle::load`],
//!   an `arc-swap` load), validation, atomic swap, the last good value kept when an update
//!   is invalid, subscriptions with old and new values, restart-required keys, an applied
//!   version counter and per-section `watch` channels for the resilience layers'
//!   `watch_config`.
//! * [`ConfigSource`]s report live changes: [`FileWatcher`] (debounced, ignores editor
//!   temp files) and, with the `redis` feature, [`RedisSource`] (pub/sub push plus
//!   version reconciliation) and, with `http-client`, `HttpConfigSource` (the config
//!   service's client: server-sent events plus version reconciliation).
//!   [`ConfigLoader::spawn_reloader`] applies them to a handle.
//!
//! The guide, with the guarantees and failure behaviour, is `docs/config.md`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use platform_core::config::{ConfigHandle, ConfigLoader, FileWatcher};
//!
//! #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct App { port: u16, greeting: String }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("platform.toml");
//! std::fs::write(&file, "port = 8080\ngreeting = \"hello\"\n")?;
//!
//! let loader = ConfigLoader::<App>::new().file(&file).with_env([("PLATFORM__PORT", "9090")]);
//! let handle = ConfigHandle::builder()
//!     .validate(|c: &App| if c.greeting.is_empty() { Err("greeting must not be empty".into()) } else { Ok(()) })
//!     .restart_required(["port"])
//!     .build(loader.load()?)?;
//! assert_eq!(handle.load().port, 9090);
//!
//! // Follow the file: edits are applied live, invalid ones are reported and skipped.
//! let watcher = FileWatcher::new(loader.files()).debounce(Duration::from_millis(50));
//! let _reloader = loader.spawn_reloader(handle.clone(), vec![Box::new(watcher)]);
//! # Ok(()) }
//! ```

mod error;
mod event;
mod file_watch;
mod format;
mod handle;
#[cfg(feature = "http-client")]
mod http;
mod loader;
#[cfg(feature = "redis")]
mod redis;
mod reloader;
mod restart;
#[cfg(any(feature = "redis", feature = "http-client"))]
mod sessions;
mod source;
mod update;

pub use error::{LoadError, Location, Origin, UpdateError};
pub use event::{ConfigChange, ConfigEvent};
pub use file_watch::{DEFAULT_DEBOUNCE, FileWatcher, is_editor_temp};
pub use format::Format;
pub use handle::{ConfigHandle, ConfigHandleBuilder};
#[cfg(feature = "http-client")]
pub use http::HttpConfigSource;
pub use loader::{ConfigLoader, DEFAULT_ENV_PREFIX};
#[cfg(feature = "redis")]
pub use redis::{
    DEFAULT_RECONCILE_INTERVAL, DEFAULT_RECONNECT_DELAY, RedisConfigStore, RedisSource,
};
pub use reloader::{DEFAULT_RETRY_DELAY, Reloader};
pub use source::{ConfigSource, RemoteDocument, SourceEvent};
pub use update::UpdateOutcome;

/// The guide's Rust examples (`docs/config.md`), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/config.md")]
pub struct GuideDoctests;
