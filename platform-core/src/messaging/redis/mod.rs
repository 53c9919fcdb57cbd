//! The Redis Streams backend: one stream per topic, one Redis consumer group per
//! consumer group.
//!
//! * **Publish**: `XADD <prefix>stream:<topic> MAXLEN ~ <max_len> * …` for each message,
//!   a whole batch in one `MULTI`/`EXEC` pipeline (one round trip, all or nothing).
//!   Messages with a `delay` wait in a sorted set (`<prefix>delayed:<topic>`, server
//!   time) until a subscriber of the topic moves them into the stream.
//! * **Subscribe**: `XGROUP CREATE … MKSTREAM` (at the stream's start for a topic's first
//!   group, so nothing published before is lost; at its end for later groups). Every
//!   [`Subscription`] is its own Redis consumer, with its own connection for
//!   `XREADGROUP … BLOCK`.
//! * **Redelivery**: an entry left pending longer than the visibility timeout is taken
//!   over with `XAUTOCLAIM` (min idle = visibility timeout) by any member of the group;
//!   each member carries the `XAUTOCLAIM` cursor forward from call to call, so a pending
//!   list longer than one call's `COUNT` is scanned to the end. `attempt` is the entry's
//!   delivery count in the pending list.
//! * **Settle** (one Lua script each, fenced: only while this consumer still holds the
//!   entry at the delivery count it was handed out with, else
//!   [`MessagingError::LeaseLost`]): ack = `XACK` (acks arriving while one call is in
//!   flight are sent together in the next); nack = the entry stays pending with
//!   its delivery time backdated so `XAUTOCLAIM` takes it again after the delay (delays
//!   longer than the visibility timeout are capped to it); dead-letter = `XADD` to the
//!   stream of `<topic>.dead-letter` with the reason headers, then `XACK`, atomically.
//! * **Consumers** are deleted ([`RedisStreams::cleanup_consumers`], also on subscribe
//!   for consumers idle over `consumer_cleanup_idle`) only when they hold no pending
//!   entries, checked and deleted in one script.
//!
//! Subscriptions survive lost connections: they reconnect with backoff and go on; what
//! the lost connection had claimed stays pending and is reclaimed after the visibility
//! timeout. Not for Redis Cluster (scripts touch keys of two topics).
//!
//! ```no_run
//! # // no_run: needs a Redis server at redis://127.0.0.1:6379
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use platform_core::messaging::{
//!     OutgoingMessage, Publisher, RedisStreams, RedisStreamsConfig, SubscribeOptions, Subscriber,
//! };
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = RedisStreamsConfig::new("redis://127.0.0.1:6379").max_len(Some(100_000));
//! let streams = RedisStreams::new(config)?;
//! let options = SubscribeOptions::default().visibility_timeout(Duration::from_secs(30));
//! let mut sub = streams.subscribe("orders", "billing", options).await?;
//! streams.publish(vec![OutgoingMessage::new("orders", "o-1").key("c-7")]).await?;
//! let delivery = sub.next().await.expect("open")?;
//! assert_eq!(&delivery.message().payload[..], b"o-1");
//! delivery.ack().await?;
//! # Ok(()) }
//! ```

mod acks;
mod config;
mod conn;
mod entry;
mod scripts;
mod settle;
mod subscription;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

pub use self::config::RedisStreamsConfig;
use self::conn::{BACKEND, Conn};
use self::subscription::{CURSOR_START, Member};
use super::backend::{check_name, check_subscription};
use super::{
    Backend, Capabilities, MessageId, MessagingError, Ordering, OutgoingMessage, Publisher,
    SubscribeOptions, Subscriber, Subscription,
};

/// The Redis Streams backend. Clones share one connection and configuration.
#[derive(Debug, Clone)]
pub struct RedisStreams {
    shared: Arc<Shared>,
}

/// State shared by the backend, its subscriptions and their deliveries.
#[derive(Debug)]
struct Shared {
    config: RedisStreamsConfig,
    client: redis::Client,
    /// Publishing, claiming and settling (never blocking commands).
    conn: Conn,
    /// Acks waiting to go out together.
    acks: acks::AckQueue,
}

impl Shared {
    fn stream_key(&self, topic: &str) -> String {
        format!("{}stream:{topic}", self.config.prefix)
    }

    fn delayed_key(&self, topic: &str) -> String {
        format!("{}delayed:{topic}", self.config.prefix)
    }

    /// Prefix of the hash holding one delayed entry's fields (+ message id).
    fn delayed_entry_prefix(&self, topic: &str) -> String {
        format!("{}delayed:{topic}:", self.config.prefix)
    }

    fn max_len_arg(&self) -> String {
        self.config.max_len.map(|n| n.to_string()).unwrap_or_default()
    }

    /// Runs a script on the shared connection.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, MessagingError> {
        let mut conn = self.conn.get().await?;
        let res = invocation.invoke_async::<T>(&mut conn).await;
        self.conn.check(res)
    }

    /// Moves due delayed messages of `topic` into its stream.
    async fn promote_delayed(&self, topic: &str) -> Result<(), MessagingError> {
        let mut invocation = scripts::PROMOTE.key(self.delayed_key(topic));
        invocation
            .key(self.stream_key(topic))
            .arg(self.delayed_entry_prefix(topic))
            .arg(self.max_len_arg())
            .arg(256);
        self.run::<i64>(&invocation).await.map(drop)
    }
}

impl RedisStreams {
    /// A backend for `config`; connects on first use.
    pub fn new(config: RedisStreamsConfig) -> Result<Self, MessagingError> {
        config.validate()?;
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            MessagingError::Invalid(format!("redis streams config `url` {:?}: {e}", config.url))
        })?;
        let conn = Conn::new(client.clone(), &config.client_name, config.timeout, config.timeout);
        let acks = acks::AckQueue::default();
        Ok(Self { shared: Arc::new(Shared { config, client, conn, acks }) })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisStreamsConfig {
        &self.shared.config
    }

    /// The key of `topic`'s stream.
    pub fn stream_key(&self, topic: &str) -> String {
        self.shared.stream_key(topic)
    }

    /// Deletes the consumers of `group` on `topic` that have been idle at least
    /// `min_idle` and hold no pending entries; returns their names. A consumer holding
    /// pending entries is never deleted, however long idle: deleting it would drop its
    /// entries from the pending list and they would never be redelivered.
    pub async fn cleanup_consumers(
        &self,
        topic: &str,
        group: &str,
        min_idle: Duration,
    ) -> Result<Vec<String>, MessagingError> {
        self.cleanup_except(topic, group, min_idle, "").await
    }

    async fn cleanup_except(
        &self,
        topic: &str,
        group: &str,
        min_idle: Duration,
        keep: &str,
    ) -> Result<Vec<String>, MessagingError> {
        let mut invocation = scripts::CLEANUP.key(self.shared.stream_key(topic));
        invocation.arg(group).arg(min_idle.as_millis() as u64).arg(keep);
        self.shared.run(&invocation).await
    }
}

/// Per topic, for the first deliveries to one consumer; see the module docs.
const fn capabilities(persistence: super::Persistence) -> Capabilities {
    Capabilities {
        backend: BACKEND,
        ordering: Ordering::PerTopic,
        persistence,
        consumer_groups: true,
        delayed_redelivery: true,
        visibility_timeout: true,
        dead_letter: true,
    }
}

impl Backend for RedisStreams {
    fn capabilities(&self) -> Capabilities {
        capabilities(self.shared.config.persistence)
    }
}

impl Publisher for RedisStreams {
    fn publish(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Vec<MessageId>, MessagingError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let max_len = shared.config.max_len;
            let mut pipe = redis::pipe();
            pipe.atomic();
            let mut ids = Vec::with_capacity(messages.len());
            for m in messages {
                check_name("topic", &m.topic)?;
                let (message, delay) = m.into_message();
                let fields = entry::fields(&message)?;
                match delay.filter(|d| !d.is_zero()) {
                    None => {
                        let cmd = pipe.cmd("XADD").arg(shared.stream_key(&message.topic));
                        if let Some(n) = max_len {
                            cmd.arg("MAXLEN").arg("~").arg(n);
                        }
                        cmd.arg("*");
                        for (name, value) in fields {
                            cmd.arg(name).arg(value);
                        }
                        cmd.ignore();
                    }
                    Some(delay) => {
                        let member = message.id.as_str();
                        let hash =
                            format!("{}{member}", shared.delayed_entry_prefix(&message.topic));
                        let cmd = pipe
                            .cmd("EVAL")
                            .arg(scripts::DELAY)
                            .arg(2)
                            .arg(shared.delayed_key(&message.topic))
                            .arg(hash)
                            .arg(delay.as_millis() as u64)
                            .arg(member);
                        for (name, value) in fields {
                            cmd.arg(name).arg(value);
                        }
                        cmd.ignore();
                    }
                }
                ids.push(message.id);
            }
            if ids.is_empty() {
                return Ok(ids);
            }
            let mut conn = shared.conn.get().await?;
            let res = pipe.query_async::<()>(&mut conn).await;
            shared.conn.check(res)?;
            Ok(ids)
        })
    }
}

impl Subscriber for RedisStreams {
    fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, MessagingError>> {
        let res = check_subscription(topic, group);
        let (topic, group) = (topic.to_owned(), group.to_owned());
        Box::pin(async move {
            res?;
            let shared = &self.shared;
            let mut create = scripts::SUBSCRIBE.key(shared.stream_key(&topic));
            create.arg(&group);
            shared.run::<i64>(&create).await?;
            let consumer = format!("{}-{:016x}", shared.config.client_name, fastrand::u64(..));
            if let Some(idle) = shared.config.consumer_cleanup_idle {
                let gone = self.cleanup_except(&topic, &group, idle, &consumer).await?;
                if !gone.is_empty() {
                    tracing::debug!(
                        target: "platform::messaging", %topic, %group, consumers = ?gone,
                        "deleted idle consumers without pending entries"
                    );
                }
            }
            let reader = Conn::new(
                shared.client.clone(),
                &shared.config.client_name,
                shared.config.timeout,
                shared.config.block + shared.config.timeout,
            );
            let member = Member {
                shared: shared.clone(),
                stream: shared.stream_key(&topic).into(),
                topic,
                group: group.into(),
                consumer: consumer.into(),
                options,
                reader,
                buffer: VecDeque::new(),
                cursor: CURSOR_START.to_owned(),
                next_claim: Instant::now(),
                failures: 0,
            };
            Ok(subscription::subscription(member))
        })
    }
}
