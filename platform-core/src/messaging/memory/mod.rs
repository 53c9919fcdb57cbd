//! The in-memory broker: the embedded default, for one process and for tests.
//!
//! * **Bounded**: each consumer group holds at most `capacity` messages (ready, delayed
//!   and in flight); `publish` waits while a group of the topic is full (backpressure).
//! * **No loss while the process lives**: a message leaves a group only when acked or
//!   dead-lettered; nacks, expired visibility timeouts and dropped subscriptions put it
//!   back. Everything is lost when the process exits.
//! * **Order**: each group hands out the oldest ready message first, by publish sequence;
//!   a redelivered message keeps its place (it goes before younger ones once visible).
//! * Timers run on tokio time, so tests can pause the clock.
//!
//! ```
//! use platform_core::messaging::{MemoryBroker, OutgoingMessage, Publisher, Subscriber, SubscribeOptions};
//! use futures_util::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = MemoryBroker::default();
//! let mut sub = broker.subscribe("orders", "billing", SubscribeOptions::default()).await?;
//! broker.publish(vec![OutgoingMessage::new("orders", "o-1").key("c-7")]).await?;
//!
//! let delivery = sub.next().await.expect("open")?;
//! assert_eq!(&delivery.message().payload[..], b"o-1");
//! assert_eq!(delivery.message().attempt, 1);
//! delivery.ack().await?;
//! # Ok(()) }
//! ```

mod group;
mod settle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::BoxFuture;
use tokio::sync::Notify;
use tokio::time::Instant;

use self::group::Group;
use self::settle::MemorySettle;
use super::backend::{check_name, check_subscription};
use super::{
    Backend, Capabilities, Delivery, Message, MessageId, MessagingError, Ordering, OutgoingMessage,
    Persistence, Publisher, SubscribeOptions, Subscriber, Subscription,
};

/// Settings of a [`MemoryBroker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Most messages one consumer group may hold (default 10 000).
    pub capacity: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { capacity: 10_000 }
    }
}

/// The in-memory broker. Clones share one broker.
#[derive(Debug, Clone, Default)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    config: MemoryConfig,
    /// Wakes publishers waiting for room.
    space: Notify,
}

#[derive(Debug, Default)]
struct State {
    topics: HashMap<String, Topic>,
    next_seq: u64,
    next_lease: u64,
}

#[derive(Debug, Default)]
struct Topic {
    groups: HashMap<String, Group>,
    /// Messages published while the topic had no group, handed to the first group.
    backlog: Group,
}

impl Topic {
    fn targets(&mut self) -> Vec<&mut Group> {
        if self.groups.is_empty() {
            vec![&mut self.backlog]
        } else {
            self.groups.values_mut().collect()
        }
    }

    fn group(&mut self, name: &str) -> &mut Group {
        if !self.groups.contains_key(name) {
            let g = if self.groups.is_empty() {
                std::mem::take(&mut self.backlog)
            } else {
                Group::default()
            };
            self.groups.insert(name.to_owned(), g);
        }
        self.groups.get_mut(name).expect("inserted above")
    }
}

const CAPABILITIES: Capabilities = Capabilities {
    backend: "memory",
    ordering: Ordering::PerTopic,
    persistence: Persistence::Process,
    consumer_groups: true,
    delayed_redelivery: true,
    visibility_timeout: true,
    dead_letter: true,
};

impl MemoryBroker {
    /// A broker with `config`.
    pub fn new(config: MemoryConfig) -> Self {
        Self { inner: Arc::new(Inner { config, ..Inner::default() }) }
    }

    /// Messages held by `group` of `topic` (ready, delayed and in flight).
    pub fn len(&self, topic: &str, group: &str) -> usize {
        let state = self.inner.lock();
        state.topics.get(topic).and_then(|t| t.groups.get(group)).map_or(0, Group::len)
    }

    /// `true` when `group` of `topic` holds nothing.
    pub fn is_empty(&self, topic: &str, group: &str) -> bool {
        self.len(topic, group) == 0
    }

    /// Enqueues one message, waiting for room in every target group.
    async fn publish_one_waiting(&self, msg: OutgoingMessage) -> MessageId {
        let (message, delay) = msg.into_message();
        loop {
            let space = self.inner.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            {
                let mut state = self.inner.lock();
                let capacity = self.inner.config.capacity;
                let seq = state.next_seq;
                let topic = state.topics.entry(message.topic.clone()).or_default();
                let mut targets = topic.targets();
                if targets.iter().all(|g| g.len() < capacity) {
                    let now = Instant::now();
                    for g in &mut targets {
                        g.push(seq, message.clone(), delay, now);
                    }
                    state.next_seq += 1;
                    return message.id;
                }
            }
            space.await;
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps (no multi-step updates
        // are interrupted by user code), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for MemoryBroker {
    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }
}

impl Publisher for MemoryBroker {
    fn publish(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Vec<MessageId>, MessagingError>> {
        Box::pin(async move {
            for m in &messages {
                check_name("topic", &m.topic)?;
            }
            let mut ids = Vec::with_capacity(messages.len());
            for m in messages {
                ids.push(self.publish_one_waiting(m).await);
            }
            Ok(ids)
        })
    }
}

impl Subscriber for MemoryBroker {
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
            self.inner.lock().topics.entry(topic.clone()).or_default().group(&group);
            let member = Member { broker: self.clone(), topic, group, options };
            Ok(Subscription::new(futures_util::stream::unfold(member, |m| async move {
                let d = m.next_delivery().await;
                Some((Ok(d), m))
            })))
        })
    }
}

/// One subscription's view of its group.
struct Member {
    broker: MemoryBroker,
    topic: String,
    group: String,
    options: SubscribeOptions,
}

impl Member {
    async fn next_delivery(&self) -> Delivery {
        loop {
            let (notified, wake) = {
                let mut state = self.broker.inner.lock();
                let lease = state.next_lease;
                state.next_lease += 1;
                let group = state.topics.entry(self.topic.clone()).or_default().group(&self.group);
                let notify = group.notify.clone();
                match group.claim(Instant::now(), self.options.visibility_timeout, lease) {
                    Ok((seq, message)) => return self.delivery(seq, lease, message),
                    Err(wake) => (notify, wake),
                }
            };
            let notified = notified.notified();
            tokio::pin!(notified);
            // Registered before re-checking, so a publish between the two is not missed.
            notified.as_mut().enable();
            if self.ready_now() {
                continue;
            }
            match wake {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Whether a claim could succeed right now (checked after registering for wake-ups).
    fn ready_now(&self) -> bool {
        let mut state = self.broker.inner.lock();
        let group = state.topics.entry(self.topic.clone()).or_default().group(&self.group);
        group.has_ready(Instant::now())
    }

    fn delivery(&self, seq: u64, lease: u64, message: Message) -> Delivery {
        let settle = MemorySettle {
            broker: self.broker.clone(),
            topic: self.topic.clone(),
            group: self.group.clone(),
            seq,
            lease,
        };
        Delivery::new(message, Box::new(settle))
    }
}
