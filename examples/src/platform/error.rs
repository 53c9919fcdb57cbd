//! [`PlatformError`]: why the platform could not start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the platform could not start. Messages say what failed, where, and what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The command line was wrong.
    #[error("{0}")]
    Usage(String),
    /// The configuration was invalid (the message names the file, line and key, or the
    /// environment variable).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The data directory could not be created or used.
    #[error("data directory {}: {source}; set `data_dir` (or PLATFORM__DATA_DIR) to a writable directory", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(String),
    /// The signing key file could not be read, parsed or created.
    #[error("signing key {}: {problem}", path.display())]
    SigningKey {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr} for the {what}: {source}; set `{key}` to a free address")]
    Listen {
        /// What would have listened.
        what: &'static str,
        /// The configuration key of its address.
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gateway's routes could not be built (the message names the file, route and
    /// field).
    #[error("gateway: {0}")]
    Gateway(String),
    /// The token server, its stores or the bootstrap administrator failed.
    #[error("auth: {0}")]
    Auth(String),
    /// The registry and config service could not be set up.
    #[error("control plane: {0}")]
    Control(String),
    /// Telemetry or the audit log could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(String),
}
