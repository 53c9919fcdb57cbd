//! [`TxError`].

use crate::messaging::MessagingError;
use crate::store::StoreError;

/// An error from the outbox, the inbox or the saga coordinator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// Migrating or reaching the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A database statement failed.
    #[error("transaction store: database error")]
    Database(#[from] sqlx::Error),
    /// Publishing (the relay) failed.
    #[error(transparent)]
    Messaging(#[from] MessagingError),
    /// A stored JSON payload or output could not be (de)serialised.
    #[error("saga payload is not valid JSON")]
    Json(#[from] serde_json::Error),
    /// A definition or a request is malformed; the message says what to change.
    #[error("invalid: {0}")]
    Invalid(String),
    /// No saga definition of that name is registered with the coordinator.
    #[error("no saga named `{0}` is registered with this coordinator")]
    UnknownSaga(String),
    /// Another coordinator took over the saga (this one's lease expired); this one
    /// stopped driving it and changed nothing.
    #[error("saga {saga} was taken over by another coordinator (lease expired)")]
    LeaseLost {
        /// The saga instance.
        saga: String,
    },
}
