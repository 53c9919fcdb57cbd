//! [`MessagingError`].

use crate::BoxError;

/// An error from a messaging backend or a delivery's settlement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessagingError {
    /// The backend lacks what the application requires.
    #[error(transparent)]
    Capability(#[from] super::CapabilityMismatch),
    /// The delivery's lease ended (visibility timeout) and the message was handed to
    /// another delivery; this settlement was ignored.
    #[error(
        "delivery of message {id} expired (visibility timeout) and was redelivered; settlement ignored"
    )]
    LeaseLost {
        /// The message id.
        id: super::MessageId,
    },
    /// A request the backend cannot carry out (e.g. a bad topic or group name).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend was shut down.
    #[error("messaging backend is closed")]
    Closed,
    /// The backend failed (connection, database, broker).
    #[error("messaging backend `{backend}` failed")]
    Backend {
        /// Backend name.
        backend: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl MessagingError {
    /// Wraps a backend failure.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend { backend, source: source.into() }
    }
}
