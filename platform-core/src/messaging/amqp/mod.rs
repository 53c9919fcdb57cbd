//! The RabbitMQ backend (AMQP 0-9-1 over [lapin](https://docs.rs/lapin)): a durable
//! queue per topic and consumer group.
//!
//! * **Publish**: to the direct exchange `<prefix>.topics` with the topic as routing
//!   key, persistent, `mandatory`, on a channel in **publisher-confirm** mode; `publish`
//!   returns once the broker confirmed every message of the batch. A message no queue
//!   is bound for (no group has subscribed to the topic yet) is returned by the broker
//!   and `publish` fails with [`MessagingError::Invalid`] instead of losing it silently.
//!   A direct exchange, not a topic exchange: topic names are matched exactly, so a
//!   `#` or `*` in a name is not a wildcard.
//! * **Subscribe**: declares the group queue `<prefix>:<topic>:<group>` (durable, bound
//!   by topic; classic, or quorum with [`RabbitMqConfig::quorum`]), its dead-letter
//!   queue and its delay queue, sets the prefetch (`basic.qos` = `prefetch`:
//!   backpressure), and consumes with manual acks. Each subscription runs one task with
//!   its own channel.
//! * **Visibility timeout**: the broker has none, so the subscription enforces it: a
//!   delivery not settled in time is published again (a copy counting the delivery) and
//!   the original acked; its holder then gets [`MessagingError::LeaseLost`].
//! * **Nack with delay**: a copy with `attempt + 1` goes to the group's delay queue with
//!   a per-message TTL; when it expires the broker dead-letters it back into the group
//!   queue. The original is acked once the copy is confirmed.
//! * **Dead-letter**: a copy with the reason headers goes through the dead-letter
//!   exchange `<prefix>.dead-letter` into the group's queue of `<topic>.dead-letter`,
//!   then the original is acked. Every group queue names that exchange as its
//!   `x-dead-letter-exchange`, so messages the broker dead-letters (reject, TTL or
//!   length policies) land there too. With `max_deliveries`, the backend dead-letters a
//!   delivery whose `attempt` exceeds it before handing it out.
//! * **Attempts**: a header carries the deliveries before a copy was published; the
//!   broker's requeues (a consumer that crashed or lost its connection) add
//!   `x-delivery-count` on quorum queues, or 1 when flagged `redelivered` on classic
//!   queues (so repeated crashes count once there).
//! * **Connection loss**: publishing reconnects on the next call; a subscription
//!   reconnects with backoff and consumes again. Deliveries of the lost channel are
//!   requeued by the broker; their holders' settlements fail.
//!
//! ```no_run
//! # // no_run: needs RabbitMQ at amqp://guest:guest@127.0.0.1:5672/%2f
//! use futures_util::StreamExt;
//! use platform_core::messaging::{
//!     OutgoingMessage, Publisher, RabbitMq, RabbitMqConfig, SubscribeOptions, Subscriber,
//! };
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rabbit = RabbitMq::new(RabbitMqConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f"))?;
//! // Subscribe first: the group's queue must exist for publishes to be routed to it.
//! let mut sub = rabbit.subscribe("orders", "billing", SubscribeOptions::default()).await?;
//! rabbit.publish(vec![OutgoingMessage::new("orders", "o-1")]).await?; // confirmed
//! let delivery = sub.next().await.expect("open")?;
//! delivery.ack().await?;
//! # Ok(()) }
//! ```

mod config;
mod conn;
mod consume;
mod settle;
mod topology;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

pub use self::config::RabbitMqConfig;
use self::conn::{BACKEND, Connector};
use self::topology::Names;
use super::backend::check_name;
use super::{
    Backend, Capabilities, MessageId, MessagingError, Ordering, OutgoingMessage, Persistence,
    Publisher, SubscribeOptions, Subscriber, Subscription,
};

/// The RabbitMQ backend. Clones share one connection.
#[derive(Debug, Clone)]
pub struct RabbitMq {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: RabbitMqConfig,
    connector: Connector,
}

const CAPABILITIES: Capabilities = Capabilities {
    backend: BACKEND,
    ordering: Ordering::PerTopic,
    persistence: Persistence::Durable,
    consumer_groups: true,
    delayed_redelivery: true,
    visibility_timeout: true,
    dead_letter: true,
};

impl RabbitMq {
    /// A backend for `config`; connects on first use.
    pub fn new(config: RabbitMqConfig) -> Result<Self, MessagingError> {
        config.validate()?;
        let connector =
            Connector::new(config.url.clone(), config.connection_name.clone(), config.timeout);
        Ok(Self { shared: Arc::new(Shared { config, connector }) })
    }

    /// The configuration.
    pub fn config(&self) -> &RabbitMqConfig {
        &self.shared.config
    }

    /// The name of `group`'s queue on `topic`.
    pub fn queue_name(&self, topic: &str, group: &str) -> String {
        Names { config: &self.shared.config }.queue(topic, group)
    }

    /// Declares `group`'s queues on `topic` without consuming, so messages published
    /// before the first subscription are kept for the group.
    pub async fn declare_group(&self, topic: &str, group: &str) -> Result<(), MessagingError> {
        check_name("topic", topic)?;
        check_name("group", group)?;
        let ch = self.shared.connector.channel().await?;
        let names = Names { config: &self.shared.config };
        topology::declare_group(&ch, &names, topic, group).await?;
        let _ = ch.close(200, "declared".into()).await;
        Ok(())
    }
}

impl Backend for RabbitMq {
    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }
}

impl Publisher for RabbitMq {
    fn publish(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Vec<MessageId>, MessagingError>> {
        Box::pin(async move {
            let names = Names { config: &self.shared.config };
            let mut items = Vec::with_capacity(messages.len());
            let mut ids = Vec::with_capacity(messages.len());
            for m in messages {
                check_name("topic", &m.topic)?;
                let (message, delay) = m.into_message();
                let mut props = topology::properties(&message, 0);
                let (exchange, key) = match delay.filter(|d| !d.is_zero()) {
                    None => (names.topics(), message.topic.clone()),
                    Some(delay) => {
                        let ch = self.shared.connector.channel().await?;
                        let queue =
                            topology::declare_delayed_publish(&ch, &names, &message.topic).await?;
                        let _ = ch.close(200, "declared".into()).await;
                        props = props.with_expiration(delay.as_millis().to_string().into());
                        (String::new(), queue)
                    }
                };
                items.push((exchange, key, message.payload.to_vec(), props));
                ids.push(message.id);
            }
            if !items.is_empty() {
                self.shared.connector.publish(items).await?;
            }
            Ok(ids)
        })
    }
}

impl Subscriber for RabbitMq {
    fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, MessagingError>> {
        let (topic, group) = (topic.to_owned(), group.to_owned());
        Box::pin(async move {
            if self.queue_name(&topic, &group).len() > 240 {
                return Err(MessagingError::Invalid(format!(
                    "topic `{topic}` and group `{group}` are too long together for a RabbitMQ \
                     queue name (255 bytes)"
                )));
            }
            // Declared before returning, so publishes after `subscribe` reach the group.
            self.declare_group(&topic, &group).await?;
            let (tx, rx) = mpsc::unbounded_channel();
            let member = consume::Member { shared: self.shared.clone(), topic, group, options };
            tokio::spawn(member.run(tx));
            Ok(Subscription::new(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|d| (d, rx))
            })))
        })
    }
}
