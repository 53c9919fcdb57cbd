//! What a [`ConfigHandle`](super::ConfigHandle) reports.

use std::sync::Arc;

use super::error::Origin;

/// One applied change: the values before and after, as seen by subscribers.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConfigChange<T> {
    /// The value before the change.
    pub old: Arc<T>,
    /// The value now current.
    pub new: Arc<T>,
    /// The version of `new` (the initial value is version 1).
    pub version: u64,
    /// Where the change came from.
    pub origin: Origin,
}

/// An operator-facing event; also emitted as a `tracing` event (target `platform::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigEvent {
    /// An update was applied and is now the current value.
    Applied {
        /// The new version.
        version: u64,
        /// Where it came from.
        origin: Origin,
    },
    /// An update was equal to the current value; nothing changed, the version stays.
    Unchanged {
        /// Where it came from.
        origin: Origin,
    },
    /// An update was not applied (load or validation failed); the last good value stays.
    Rejected {
        /// Where it came from.
        origin: Origin,
        /// Why, including file, line and key where known.
        reason: String,
    },
    /// An update changed keys marked restart-required; those keys keep their running
    /// values until the process restarts, the rest of the update was applied.
    RestartRequired {
        /// Where it came from.
        origin: Origin,
        /// The dotted key paths that changed.
        keys: Vec<String>,
    },
    /// A source could not be reached; the last good value stays.
    SourceUnavailable {
        /// The source's description.
        source: String,
        /// Why.
        reason: String,
    },
}
