//! The message model: [`Message`] (what a consumer receives) and [`OutgoingMessage`] (what
//! a publisher sends).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

/// A message's unique id: given by the publisher (to make publishing idempotent downstream)
/// or generated (32 hex digits: 48 bits of milliseconds, then 80 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// An id from a string chosen by the publisher.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A fresh id, roughly time-ordered.
    pub fn generate() -> Self {
        let ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let ms = (ms.as_millis() as u64) & 0xffff_ffff_ffff;
        let rand = fastrand::u128(..) & ((1u128 << 80) - 1);
        Self(format!("{ms:012x}{rand:020x}"))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// String headers of a message, sorted by name.
pub type Headers = BTreeMap<String, String>;

/// Header set on a dead-lettered message: why it was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "dead-letter-reason";
/// Header set on a dead-lettered message: how many deliveries it had.
pub const DEAD_LETTER_ATTEMPTS: &str = "dead-letter-attempts";
/// Header set on a dead-lettered message: the consumer group that gave up on it.
pub const DEAD_LETTER_GROUP: &str = "dead-letter-group";

/// The topic dead letters of `topic` land on: `<topic>.dead-letter`, same consumer group.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

/// A message as delivered to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// Unique id, stable across redeliveries.
    pub id: MessageId,
    /// The topic it was published to.
    pub topic: String,
    /// The ordering/partitioning key, if any.
    pub key: Option<String>,
    /// String headers.
    pub headers: Headers,
    /// The body.
    pub payload: Bytes,
    /// When it was published (the publisher's wall clock, millisecond precision).
    pub timestamp: SystemTime,
    /// Which delivery this is to the consumer group: 1 the first time, +1 per redelivery
    /// (nack, visibility timeout, crashed consumer).
    pub attempt: u32,
}

impl Message {
    /// The header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A message to publish.
///
/// ```
/// use platform_core::messaging::OutgoingMessage;
///
/// let msg = OutgoingMessage::new("orders", "{\"id\":7}").key("customer-42").header("type", "created");
/// assert_eq!(msg.key.as_deref(), Some("customer-42"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutgoingMessage {
    /// Id to use; generated at publish when `None`.
    pub id: Option<MessageId>,
    /// Destination topic.
    pub topic: String,
    /// Ordering key.
    pub key: Option<String>,
    /// Headers.
    pub headers: Headers,
    /// Body.
    pub payload: Bytes,
    /// Make the message invisible to consumers for this long after publishing (backends
    /// with `delayed_redelivery`).
    pub delay: Option<Duration>,
}

impl OutgoingMessage {
    /// A message for `topic` with `payload`.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            id: None,
            topic: topic.into(),
            key: None,
            headers: Headers::new(),
            payload: payload.into(),
            delay: None,
        }
    }

    /// Sets the id (for idempotent publishing; otherwise one is generated).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(MessageId::new(id));
        self
    }

    /// Sets the ordering key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Delays first delivery.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Fills in the id and timestamp: the message as consumers will see it (attempt 0
    /// until delivered).
    pub fn into_message(self) -> (Message, Option<Duration>) {
        let msg = Message {
            id: self.id.unwrap_or_else(MessageId::generate),
            topic: self.topic,
            key: self.key,
            headers: self.headers,
            payload: self.payload,
            timestamp: truncate_to_ms(SystemTime::now()),
            attempt: 0,
        };
        (msg, self.delay)
    }
}

/// Millisecond precision, as every backend stores it.
fn truncate_to_ms(t: SystemTime) -> SystemTime {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_millis(d.as_millis() as u64)
}
