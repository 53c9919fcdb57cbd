//! Errors of registry calls.

use std::fmt;

use crate::BoxError;

/// A [`ServiceInstance`](super::ServiceInstance) (or a service name) failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInstance {
    service: String,
    id: String,
    field: &'static str,
    reason: String,
}

impl InvalidInstance {
    pub(crate) fn new(service: &str, id: &str, field: &'static str, reason: String) -> Self {
        Self { service: service.to_owned(), id: id.to_owned(), field, reason }
    }

    /// The offending field (`service`, `id`, `host`, `port`, `scheme`, `weight`).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why the value was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for InvalidInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid service instance")?;
        if !self.service.is_empty() || !self.id.is_empty() {
            write!(f, " {:?}/{:?}", self.service, self.id)?;
        }
        write!(f, ": field `{}` {}", self.field, self.reason)
    }
}

impl std::error::Error for InvalidInstance {}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The instance or service name is invalid; fix the caller.
    #[error(transparent)]
    Invalid(#[from] InvalidInstance),
    /// The instance is not registered (never was, deregistered, or expired).
    #[error("instance {id:?} of service {service:?} is not registered")]
    NotFound {
        /// Service name.
        service: String,
        /// Instance id.
        id: String,
    },
    /// The backend could not be reached or answered with an error; the call may be retried.
    #[error("registry backend `{backend}` failed to {operation}: {source}")]
    Unavailable {
        /// Backend name (`redis`).
        backend: &'static str,
        /// What was being done (`register`, `list instances`, ...).
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A backend's configuration is invalid.
    #[error("invalid registry configuration: `{field}` {reason}")]
    Config {
        /// The offending field.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The backend holds data this version cannot read (written by an incompatible version
    /// or by hand).
    #[error("registry backend `{backend}` holds unreadable data at {location}: {reason}")]
    Corrupt {
        /// Backend name.
        backend: &'static str,
        /// Where (key and field).
        location: String,
        /// What could not be read.
        reason: String,
    },
}

impl RegistryError {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn config(field: &'static str, reason: String) -> Self {
        Self::Config { field, reason }
    }

    pub(crate) fn not_found(service: &str, id: &str) -> Self {
        Self::NotFound { service: service.to_owned(), id: id.to_owned() }
    }
}
