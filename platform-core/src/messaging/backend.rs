//! The backend traits: [`Backend`], [`Publisher`], [`Subscriber`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use futures_util::future::BoxFuture;

use super::{Capabilities, Delivery, MessageId, MessagingError, OutgoingMessage};

/// A messaging backend: declares what it guarantees.
pub trait Backend: Send + Sync {
    /// The backend's guarantees, checked against [`Requirements`](super::Requirements).
    fn capabilities(&self) -> Capabilities;
}

/// Publishes messages. Object-safe: `Arc<dyn Publisher>` works.
pub trait Publisher: Backend {
    /// Publishes a batch, atomically where the backend can (the SQL queue: one
    /// transaction). Returns the ids in order. Waits while a bounded backend is full.
    fn publish(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Vec<MessageId>, MessagingError>>;

    /// Publishes one message.
    fn publish_one(
        &self,
        message: OutgoingMessage,
    ) -> BoxFuture<'_, Result<MessageId, MessagingError>> {
        Box::pin(async move {
            let mut ids = self.publish(vec![message]).await?;
            ids.pop().ok_or_else(|| MessagingError::Invalid("publish returned no id".into()))
        })
    }
}

/// Settings of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// How long a delivery stays invisible to the rest of the group before it is
    /// redelivered if not settled (default 30s).
    pub visibility_timeout: Duration,
    /// How many messages a subscription claims at once (default 16). Claimed messages
    /// count against the visibility timeout from the moment they are claimed.
    pub prefetch: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self { visibility_timeout: Duration::from_secs(30), prefetch: 16 }
    }
}

impl SubscribeOptions {
    /// Sets the visibility timeout.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }
    /// Sets the prefetch count (at least 1).
    pub fn prefetch(mut self, n: usize) -> Self {
        self.prefetch = n.max(1);
        self
    }
}

/// Subscribes consumer group members to topics. Object-safe.
pub trait Subscriber: Backend {
    /// Joins `group` on `topic`: the stream yields deliveries shared among all
    /// subscriptions of the same group (each message goes to one of them), while every
    /// group gets every message published after the group first subscribed. Messages
    /// published while a topic had no group at all are kept for the first group.
    fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, MessagingError>>;
}

/// A stream of deliveries for one member of a consumer group. Dropping it leaves its
/// unsettled deliveries to be redelivered after the visibility timeout.
pub struct Subscription {
    inner: Pin<Box<dyn Stream<Item = Result<Delivery, MessagingError>> + Send>>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// Wraps a backend's stream.
    pub fn new(
        stream: impl Stream<Item = Result<Delivery, MessagingError>> + Send + 'static,
    ) -> Self {
        Self { inner: Box::pin(stream) }
    }
}

impl Stream for Subscription {
    type Item = Result<Delivery, MessagingError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), MessagingError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(MessagingError::Invalid(format!(
            "{kind} name `{name}` must be 1 to 200 printable characters"
        )));
    }
    Ok(())
}

/// Checks the topic and group names of a subscription (the first bad one is reported).
pub(crate) fn check_subscription(topic: &str, group: &str) -> Result<(), MessagingError> {
    check_name("topic", topic)?;
    check_name("group", group)
}
