//! [`Delivery`]: a received message plus the means to settle it.

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Message, MessagingError};

/// How a delivery ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// Processed: remove the message from the group's queue.
    Ack,
    /// Not processed: redeliver after `delay` (zero: as soon as possible).
    Nack {
        /// How long the message stays invisible.
        delay: Duration,
    },
    /// Give up: move the message to its dead-letter topic with `reason`.
    DeadLetter {
        /// Why, stored in the `dead-letter-reason` header.
        reason: String,
    },
}

/// The backend side of one delivery: carries out its settlement. Implemented by backends.
pub trait Settle: Send + Sync + 'static {
    /// Settles the delivery of `message`. A backend that already redelivered the message
    /// (visibility timeout) returns [`MessagingError::LeaseLost`] and changes nothing.
    fn settle(
        self: Box<Self>,
        message: &Message,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), MessagingError>>;
}

/// A message received by a consumer group member, to be acknowledged, negatively
/// acknowledged (redelivered later) or dead-lettered.
///
/// Dropping a delivery without settling it is allowed: the backend redelivers the message
/// after the subscription's visibility timeout, to this or another consumer of the group.
pub struct Delivery {
    message: Message,
    settle: Box<dyn Settle>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery").field("message", &self.message).finish_non_exhaustive()
    }
}

impl Delivery {
    /// A delivery of `message` settled by `settle` (for backends).
    pub fn new(message: Message, settle: Box<dyn Settle>) -> Self {
        Self { message, settle }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Splits into the message and its settlement handle, e.g. to hand the message to a
    /// handler and settle afterwards.
    pub fn into_parts(self) -> (Message, Box<dyn Settle>) {
        (self.message, self.settle)
    }

    /// Acknowledges: the message is done for this group.
    pub async fn ack(self) -> Result<(), MessagingError> {
        self.settle.settle(&self.message, Settlement::Ack).await
    }

    /// Redelivers the message after `delay`, with `attempt + 1`.
    pub async fn nack(self, delay: Duration) -> Result<(), MessagingError> {
        self.settle.settle(&self.message, Settlement::Nack { delay }).await
    }

    /// Moves the message to [`dead_letter_topic`](super::dead_letter_topic) for this group.
    pub async fn dead_letter(self, reason: impl Into<String>) -> Result<(), MessagingError> {
        let reason = reason.into();
        self.settle.settle(&self.message, Settlement::DeadLetter { reason }).await
    }
}
