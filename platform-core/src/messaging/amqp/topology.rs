//! Exchange and queue names, their declarations, and messages ↔ AMQP properties.
//!
//! * `<prefix>.topics` (direct, durable): publishes, routing key = topic.
//! * `<prefix>.dead-letter` (direct, durable): the dead-letter exchange of every group
//!   queue, routing key = the group queue's name.
//! * `<prefix>:<topic>:<group>` (durable): a group's queue, bound to `.topics` by topic;
//!   its `x-dead-letter-exchange` is `.dead-letter`, so whatever the broker itself
//!   dead-letters (a reject, a TTL or length policy) is kept too.
//! * the group's dead-letter queue is the group queue of `<topic>.dead-letter`, also
//!   bound to `.dead-letter` by the group queue's name;
//! * `<group queue>:delay` (durable): nacked copies wait here with a per-message TTL,
//!   then dead-letter back into the group queue through the default exchange;
//! * `<prefix>:delayed:<topic>`: delayed publishes wait here, then dead-letter into
//!   `.topics` with the topic as routing key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};

use super::RabbitMqConfig;
use super::conn::failed;
use crate::messaging::{Headers, Message, MessageId, MessagingError, dead_letter_topic};

/// Header: deliveries this copy's message had before the copy was published.
pub(super) const ATTEMPTS: &str = "x-platform-attempts";
/// Header: the message's topic (copies travel with other routing keys).
pub(super) const TOPIC: &str = "x-platform-topic";
/// Header: the ordering key.
pub(super) const KEY: &str = "x-platform-key";
/// Header set by quorum queues: how often the broker requeued the message.
const DELIVERY_COUNT: &str = "x-delivery-count";

pub(super) struct Names<'a> {
    pub(super) config: &'a RabbitMqConfig,
}

impl Names<'_> {
    pub(super) fn topics(&self) -> String {
        format!("{}.topics", self.config.prefix)
    }
    pub(super) fn dead_letter(&self) -> String {
        format!("{}.dead-letter", self.config.prefix)
    }
    pub(super) fn queue(&self, topic: &str, group: &str) -> String {
        format!("{}:{topic}:{group}", self.config.prefix)
    }
    pub(super) fn delay_queue(&self, queue: &str) -> String {
        format!("{queue}:delay")
    }
    pub(super) fn delayed_publish(&self, topic: &str) -> String {
        format!("{}:delayed:{topic}", self.config.prefix)
    }
}

fn string(s: impl Into<String>) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.into()))
}

fn ms(d: Duration) -> AMQPValue {
    AMQPValue::LongLongInt(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() }
}

/// Declares the two exchanges.
pub(super) async fn declare_exchanges(
    ch: &Channel,
    names: &Names<'_>,
) -> Result<(), MessagingError> {
    let opts = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
    for name in [names.topics(), names.dead_letter()] {
        ch.exchange_declare(name.into(), ExchangeKind::Direct, opts, FieldTable::default())
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// Declares `queue` as a group queue bound to `topic`, with the same arguments wherever
/// it is declared (RabbitMQ refuses a redeclaration with different ones).
async fn declare_group_queue(
    ch: &Channel,
    names: &Names<'_>,
    topic: &str,
    queue: &str,
) -> Result<(), MessagingError> {
    let mut args = FieldTable::default();
    args.insert("x-dead-letter-exchange".into(), string(names.dead_letter()));
    if names.config.quorum {
        args.insert("x-queue-type".into(), string("quorum"));
    }
    if let Some(expires) = names.config.queue_expires {
        args.insert("x-expires".into(), ms(expires));
    }
    ch.queue_declare(queue.into(), durable(), args).await.map_err(failed)?;
    let bind = |exchange: String, key: &str| {
        ch.queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
    };
    bind(names.topics(), topic).await.map_err(failed)
}

/// Everything a subscription of `group` on `topic` needs; returns the group queue name.
pub(super) async fn declare_group(
    ch: &Channel,
    names: &Names<'_>,
    topic: &str,
    group: &str,
) -> Result<String, MessagingError> {
    declare_exchanges(ch, names).await?;
    let queue = names.queue(topic, group);
    declare_group_queue(ch, names, topic, &queue).await?;
    let dead_topic = dead_letter_topic(topic);
    let dead = names.queue(&dead_topic, group);
    declare_group_queue(ch, names, &dead_topic, &dead).await?;
    ch.queue_bind(
        dead.as_str().into(),
        names.dead_letter().into(),
        queue.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(failed)?;
    let mut args = FieldTable::default();
    args.insert("x-dead-letter-exchange".into(), string(""));
    args.insert("x-dead-letter-routing-key".into(), string(queue.as_str()));
    if let Some(expires) = names.config.queue_expires {
        args.insert("x-expires".into(), ms(expires));
    }
    ch.queue_declare(names.delay_queue(&queue).into(), durable(), args).await.map_err(failed)?;
    Ok(queue)
}

/// The queue holding delayed publishes of `topic`.
pub(super) async fn declare_delayed_publish(
    ch: &Channel,
    names: &Names<'_>,
    topic: &str,
) -> Result<String, MessagingError> {
    let queue = names.delayed_publish(topic);
    let mut args = FieldTable::default();
    args.insert("x-dead-letter-exchange".into(), string(names.topics()));
    args.insert("x-dead-letter-routing-key".into(), string(topic));
    ch.queue_declare(queue.as_str().into(), durable(), args).await.map_err(failed)?;
    Ok(queue)
}

/// Persistent properties carrying `message`, with `attempts` prior deliveries.
pub(super) fn properties(message: &Message, attempts: u32) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in &message.headers {
        headers.insert(name.as_str().into(), string(value.as_str()));
    }
    headers.insert(TOPIC.into(), string(message.topic.as_str()));
    if let Some(key) = &message.key {
        headers.insert(KEY.into(), string(key.as_str()));
    }
    headers.insert(ATTEMPTS.into(), AMQPValue::LongLongInt(i64::from(attempts)));
    let ts = message.timestamp.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    BasicProperties::default()
        .with_message_id(ShortString::from(message.id.as_str()))
        .with_timestamp(u64::try_from(ts).unwrap_or(u64::MAX))
        .with_delivery_mode(2)
        .with_headers(headers)
}

/// Headers the backend or the broker set, not the application's.
fn is_broker_header(name: &str) -> bool {
    name.starts_with("x-platform-")
        || name == "x-death"
        || name.starts_with("x-first-death-")
        || name.starts_with("x-last-death-")
}

fn as_text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn as_int(v: &AMQPValue) -> Option<i64> {
    match v {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// The message of a delivery, with `attempt` = prior deliveries (header) + broker
/// requeues (`x-delivery-count` on quorum queues, else 1 if flagged redelivered) + 1.
pub(super) fn decode(
    delivery: &lapin::message::Delivery,
    fallback_topic: &str,
) -> Result<Message, MessagingError> {
    let props = &delivery.properties;
    let id = props
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .ok_or_else(|| failed("delivery without a message id"))?;
    let (mut headers, mut topic, mut key, mut prior, mut requeues) =
        (Headers::new(), None, None, 0i64, None);
    if let Some(table) = props.headers() {
        for (name, value) in table.inner() {
            match name.as_str() {
                ATTEMPTS => prior = as_int(value).unwrap_or(0),
                TOPIC => topic = as_text(value),
                KEY => key = as_text(value),
                DELIVERY_COUNT => requeues = as_int(value),
                other if is_broker_header(other) => {}
                other => {
                    if let Some(text) = as_text(value) {
                        headers.insert(other.to_owned(), text);
                    }
                }
            }
        }
    }
    let requeues = requeues.unwrap_or(i64::from(delivery.redelivered));
    let attempt = prior.saturating_add(requeues).saturating_add(1);
    let ts = props.timestamp().unwrap_or(0);
    Ok(Message {
        id: MessageId::new(id),
        topic: topic.unwrap_or_else(|| fallback_topic.to_owned()),
        key,
        headers,
        payload: Bytes::from(delivery.data.clone()),
        timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(ts),
        attempt: u32::try_from(attempt.max(1)).unwrap_or(u32::MAX),
    })
}
