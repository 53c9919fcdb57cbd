//! [`RabbitMqConfig`].

use std::time::Duration;

use crate::messaging::MessagingError;

/// Settings of a [`RabbitMq`](super::RabbitMq) backend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RabbitMqConfig {
    /// Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f` (plain AMQP; no TLS).
    pub url: String,
    /// Prefix of every exchange and queue name (default `platform`).
    pub prefix: String,
    /// Quorum queues (`x-queue-type: quorum`, default `false`: classic durable queues).
    /// Quorum queues count every redelivery by the broker (`x-delivery-count`), so
    /// `attempt` stays exact when consumers crash repeatedly; classic queues only flag a
    /// redelivery, counting repeated crashes as one.
    pub quorum: bool,
    /// Dead-letter a message by the backend when it arrives with `attempt` above this
    /// (default `None`: only `dead_letter()` and
    /// [`DeadLetterLayer`](crate::messaging::DeadLetterLayer) dead-letter).
    pub max_deliveries: Option<u32>,
    /// Delete a group's queues after they have had no consumer for this long
    /// (`x-expires`; default `None`: keep them). Messages in a deleted queue are lost.
    pub queue_expires: Option<Duration>,
    /// Timeout of connecting and of each broker round trip (default 10s).
    pub timeout: Duration,
    /// The connection name the broker shows (`connection_name` client property;
    /// default `platform-messaging`).
    pub connection_name: String,
}

impl RabbitMqConfig {
    /// Defaults for the broker at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "platform".to_owned(),
            quorum: false,
            max_deliveries: None,
            queue_expires: None,
            timeout: Duration::from_secs(10),
            connection_name: "platform-messaging".to_owned(),
        }
    }

    /// Sets the name prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Uses quorum queues.
    pub fn quorum(mut self, yes: bool) -> Self {
        self.quorum = yes;
        self
    }
    /// Sets the backend-side delivery limit.
    pub fn max_deliveries(mut self, n: Option<u32>) -> Self {
        self.max_deliveries = n;
        self
    }
    /// Sets the unused-queue expiry.
    pub fn queue_expires(mut self, expires: Option<Duration>) -> Self {
        self.queue_expires = expires;
        self
    }
    /// Sets the round-trip timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connection name.
    pub fn connection_name(mut self, name: impl Into<String>) -> Self {
        self.connection_name = name.into();
        self
    }

    pub(super) fn validate(&self) -> Result<(), MessagingError> {
        let bad = |field: &str, why: &str| {
            Err(MessagingError::Invalid(format!("rabbitmq config `{field}`: {why}")))
        };
        if !self.url.starts_with("amqp://") {
            return bad("url", "must be an amqp:// URL (TLS is not compiled in)");
        }
        if self.prefix.is_empty() || self.prefix.len() > 40 {
            return bad("prefix", "must be 1 to 40 characters");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "must be positive");
        }
        if self.max_deliveries == Some(0) {
            return bad("max_deliveries", "must be positive or None");
        }
        if self.queue_expires.is_some_and(|d| d < Duration::from_secs(1)) {
            return bad("queue_expires", "must be at least 1s or None");
        }
        Ok(())
    }
}
