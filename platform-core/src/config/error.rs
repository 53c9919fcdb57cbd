//! Errors of loading and updating configuration.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The built-in defaults (`T::default()`).
    Defaults,
    /// A configuration file (base file or profile overlay).
    File(PathBuf),
    /// An environment variable, by its full name (`PLATFORM__SERVER__PORT`).
    Env(String),
    /// A remote document, described by its source (`redis config:billing:prod v7`).
    Remote(String),
    /// The value handed to [`ConfigHandle::update`](super::ConfigHandle::update) directly.
    Update,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Defaults => f.write_str("built-in defaults"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Env(var) => write!(f, "environment variable `{var}`"),
            Self::Remote(name) => write!(f, "remote source {name}"),
            Self::Update => f.write_str("direct update"),
        }
    }
}

/// A 1-based line and column in a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub(crate) fn of_offset(text: &str, offset: usize) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self { line, column: before[line_start..].chars().count() + 1 }
    }
}

/// `"file:line:col"` or just `"origin"` when no location is known.
fn at(origin: &Origin, location: &Option<Location>) -> String {
    match (origin, location) {
        (Origin::File(_) | Origin::Remote(_), Some(l)) => {
            format!("{origin}:{}:{}", l.line, l.column)
        }
        _ => origin.to_string(),
    }
}

/// Loading configuration failed. The message names the source, the key path and, for
/// files, the line and column.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file's extension names no supported format.
    #[error(
        "config file {} has no supported extension; use .toml, .yaml, .yml or .json",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A document is not valid TOML / YAML / JSON.
    #[error("{}: syntax error: {message}", at(origin, location))]
    Syntax {
        /// The file or remote source.
        origin: Origin,
        /// Where in the file, when the format reports it.
        location: Option<Location>,
        /// The parser's message.
        message: String,
    },
    /// A value does not fit the configuration type (wrong type, unknown key, missing key).
    #[error("{}: key `{key}`: {message}", at(origin, location))]
    Value {
        /// Where the offending value came from.
        origin: Origin,
        /// The dotted key path, e.g. `server.port`.
        key: String,
        /// Where in the file, when the value came from a file.
        location: Option<Location>,
        /// What was wrong.
        message: String,
    },
}

impl LoadError {
    /// The source of the offending value or document, when there is one.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Self::Syntax { origin, .. } | Self::Value { origin, .. } => Some(origin),
            Self::Read { .. } | Self::UnknownFormat { .. } => None,
        }
    }

    /// The dotted key path of the offending value, when the error is about one value.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Value { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The line and column in the file, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Syntax { location, .. } | Self::Value { location, .. } => *location,
            _ => None,
        }
    }
}

/// An update was not applied; the handle keeps its last good value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The new configuration could not be loaded.
    #[error("configuration update from {origin} not applied: {source}")]
    Load {
        /// What triggered the reload.
        origin: Origin,
        /// Why loading failed.
        #[source]
        source: Box<LoadError>,
    },
    /// The validation hook rejected the new configuration.
    #[error("configuration update from {origin} rejected by validation: {reason}")]
    Invalid {
        /// Where the update came from.
        origin: Origin,
        /// The validator's reason.
        reason: String,
    },
}
