//! The conformance suite every messaging backend passes (feature `test-util`).
//!
//! A backend's test builds a fresh backend and calls [`Suite::run_all`]; cases the
//! backend's [`Capabilities`] rule out are skipped (and say so on stderr). Cases use
//! short visibility timeouts and wait for deliveries with generous deadlines, so they run
//! under tokio's paused clock (the memory backend) and on real time (SQL, brokers) alike.
//!
//! ```
//! use platform_core::messaging::{MemoryBroker, conformance::Suite};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! Suite::new(MemoryBroker::default(), "doc").run_all().await;
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::{Instant, timeout};
use tower::{ServiceBuilder, service_fn};

use super::{
    Capabilities, Consumer, ConsumerConfig, DEAD_LETTER_REASON, DeadLetterLayer, Delivery,
    KeyedOrderingLayer, Message, MessagingError, OutgoingMessage, Persistence, Publisher,
    Requirements, SubscribeOptions, Subscriber, Subscription, dead_letter_topic,
};
use crate::BoxError;

/// How long a case waits for a delivery it expects before failing.
const WAIT: Duration = Duration::from_secs(20);

/// The suite, bound to one backend.
#[derive(Debug)]
pub struct Suite<B> {
    backend: B,
    prefix: String,
    visibility: Duration,
}

impl<B> Suite<B>
where
    B: Publisher + Subscriber + Clone + 'static,
{
    /// The suite for `backend`; topics are named `<prefix>.<case>`.
    pub fn new(backend: B, prefix: &str) -> Self {
        Self { backend, prefix: prefix.to_owned(), visibility: Duration::from_millis(500) }
    }

    /// The visibility timeout the redelivery cases use (default 500ms).
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility = timeout;
        self
    }

    fn caps(&self) -> Capabilities {
        self.backend.capabilities()
    }

    fn topic(&self, case: &str) -> String {
        format!("{}.{case}", self.prefix)
    }

    fn short(&self) -> SubscribeOptions {
        SubscribeOptions::default().visibility_timeout(self.visibility).prefetch(4)
    }

    /// For cases that count deliveries exactly but do not test the visibility timeout: a
    /// lease long enough that a slow machine never redelivers behind the case's back.
    fn patient(&self) -> SubscribeOptions {
        SubscribeOptions::default().visibility_timeout(WAIT).prefetch(4)
    }

    fn skip(&self, case: &str, why: &str) {
        eprintln!("conformance[{}]: {case} skipped: {why}", self.caps().backend);
    }

    /// Runs every case in turn.
    pub async fn run_all(&self) {
        self.capabilities_are_checked();
        self.publish_consume_ack().await;
        self.groups_each_get_every_message().await;
        self.nack_with_delay_redelivers().await;
        self.visibility_timeout_redelivers().await;
        self.crashed_consumer_redelivered_to_peer().await;
        self.poison_message_dead_lettered().await;
        self.per_key_order_with_parallel_keys().await;
        self.competing_consumers_never_overlap().await;
    }

    /// Requirements equal to the capabilities pass; asking for more fails naming it.
    pub fn capabilities_are_checked(&self) {
        let caps = self.caps();
        let same = Requirements::default()
            .ordering(caps.ordering)
            .persistence(caps.persistence)
            .consumer_groups(caps.consumer_groups)
            .delayed_redelivery(caps.delayed_redelivery)
            .visibility_timeout(caps.visibility_timeout)
            .dead_letter(caps.dead_letter);
        same.check(&caps).expect("a backend meets its own capabilities");
        if caps.persistence < Persistence::Durable {
            let err = same.persistence(Persistence::Durable).check(&caps).unwrap_err();
            assert!(err.to_string().contains("persistence"), "{err}");
            assert_eq!(err.backend(), caps.backend);
        }
        if !caps.dead_letter {
            let err = same.dead_letter(true).check(&caps).unwrap_err();
            assert!(err.missing().iter().any(|m| m == "dead_letter"), "{err}");
        }
    }

    /// A batch is delivered with its fields intact, acked, and not delivered again.
    pub async fn publish_consume_ack(&self) {
        let topic = self.topic("ack");
        let mut sub = self.sub(&topic, "g", self.short()).await;
        let batch = (0..3)
            .map(|i| {
                OutgoingMessage::new(&topic, format!("p{i}"))
                    .key(format!("k{i}"))
                    .header("n", i.to_string())
            })
            .collect();
        let ids = self.backend.publish(batch).await.expect("publish");
        assert_eq!(ids.len(), 3);
        for (i, id) in ids.iter().enumerate() {
            let d = next(&mut sub).await;
            let m = d.message();
            assert_eq!(&m.id, id, "publish order");
            assert_eq!((m.topic.as_str(), m.attempt), (topic.as_str(), 1));
            assert_eq!(m.key.as_deref(), Some(format!("k{i}").as_str()));
            assert_eq!(m.header("n"), Some(i.to_string().as_str()));
            assert_eq!(m.payload, format!("p{i}").as_bytes());
            d.ack().await.expect("ack");
        }
        self.assert_quiet(&mut sub).await;
    }

    /// Two groups each receive every message.
    pub async fn groups_each_get_every_message(&self) {
        if !self.caps().consumer_groups {
            return self.skip("groups", "no consumer groups");
        }
        let topic = self.topic("groups");
        let mut a = self.sub(&topic, "a", self.short()).await;
        let mut b = self.sub(&topic, "b", self.short()).await;
        self.backend.publish_one(OutgoingMessage::new(&topic, "x")).await.expect("publish");
        for sub in [&mut a, &mut b] {
            let d = next(sub).await;
            assert_eq!(d.message().payload, "x");
            d.ack().await.expect("ack");
        }
    }

    /// `nack(delay)` redelivers no earlier than the delay, with `attempt + 1`.
    pub async fn nack_with_delay_redelivers(&self) {
        if !self.caps().delayed_redelivery {
            return self.skip("nack delay", "no delayed redelivery");
        }
        let topic = self.topic("nack");
        let mut sub = self.sub(&topic, "g", self.short()).await;
        let id =
            self.backend.publish_one(OutgoingMessage::new(&topic, "n")).await.expect("publish");
        let first = next(&mut sub).await;
        let delay = Duration::from_millis(300);
        let nacked_at = Instant::now();
        first.nack(delay).await.expect("nack");
        let again = next(&mut sub).await;
        assert!(nacked_at.elapsed() >= delay, "redelivered before the nack delay");
        assert_eq!((&again.message().id, again.message().attempt), (&id, 2));
        again.ack().await.expect("ack");
    }

    /// An unsettled delivery comes back after the visibility timeout; the stale delivery
    /// can no longer settle it.
    pub async fn visibility_timeout_redelivers(&self) {
        if !self.caps().visibility_timeout {
            return self.skip("visibility timeout", "no visibility timeout");
        }
        let topic = self.topic("visibility");
        let mut sub = self.sub(&topic, "g", self.short()).await;
        let id =
            self.backend.publish_one(OutgoingMessage::new(&topic, "v")).await.expect("publish");
        let stale = next(&mut sub).await;
        let again = next(&mut sub).await;
        assert_eq!((&again.message().id, again.message().attempt), (&id, 2));
        match stale.ack().await {
            Err(MessagingError::LeaseLost { id: lost }) => assert_eq!(lost, id),
            other => panic!("a stale ack must fail with LeaseLost, got {other:?}"),
        }
        again.ack().await.expect("ack by the current holder");
        self.assert_quiet(&mut sub).await;
    }

    /// A consumer that dies holding deliveries: another member of the group gets them.
    pub async fn crashed_consumer_redelivered_to_peer(&self) {
        if !self.caps().visibility_timeout {
            return self.skip("crashed consumer", "no visibility timeout");
        }
        let topic = self.topic("crash");
        let mut doomed = self.sub(&topic, "g", self.short()).await;
        let batch = (0..3).map(|i| OutgoingMessage::new(&topic, format!("c{i}"))).collect();
        let ids = self.backend.publish(batch).await.expect("publish");
        let held: Vec<Delivery> =
            vec![next(&mut doomed).await, next(&mut doomed).await, next(&mut doomed).await];
        drop(held);
        drop(doomed);
        let mut peer = self.sub(&topic, "g", self.short()).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            let d = next(&mut peer).await;
            assert_eq!(d.message().attempt, 2, "a redelivery");
            got.push(d.message().id.clone());
            d.ack().await.expect("ack");
        }
        got.sort();
        let mut ids = ids;
        ids.sort();
        assert_eq!(got, ids);
    }

    /// A message that always fails lands on the dead-letter topic after N attempts.
    pub async fn poison_message_dead_lettered(&self) {
        if !self.caps().dead_letter {
            return self.skip("dead letter", "no dead-lettering");
        }
        let topic = self.topic("poison");
        let sub = self.sub(&topic, "g", self.patient()).await;
        let mut dead = self.sub(&dead_letter_topic(&topic), "g", self.patient()).await;
        let id =
            self.backend.publish_one(OutgoingMessage::new(&topic, "bad")).await.expect("publish");
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        let handler = ServiceBuilder::new().layer(DeadLetterLayer::new(3)).service(service_fn(
            move |m: Message| {
                seen.lock().expect("lock").push(m.attempt);
                async { Err::<(), BoxError>("cannot parse".into()) }
            },
        ));
        let config = ConsumerConfig::default().nack_delay(Duration::from_millis(10));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(Consumer::new(sub, handler).config(config).run_until(async {
            let _ = stopped.await;
        }));
        let d = next(&mut dead).await;
        let _ = stop.send(());
        run.await.expect("join").expect("consumer");
        assert_eq!(d.message().id, id);
        assert_eq!(d.message().payload, "bad");
        let reason = d.message().header(DEAD_LETTER_REASON).expect("reason header");
        assert!(reason.contains("cannot parse") && reason.contains('3'), "{reason}");
        assert_eq!(*attempts.lock().expect("lock"), vec![1, 2, 3]);
        d.ack().await.expect("ack dead letter");
    }

    /// Same-key messages are processed one at a time in publish order while different
    /// keys are processed at the same time.
    pub async fn per_key_order_with_parallel_keys(&self) {
        const KEYS: usize = 3;
        const PER_KEY: usize = 8;
        let topic = self.topic("keyed");
        let sub = self.sub(&topic, "g", SubscribeOptions::default().prefetch(8)).await;
        let batch = (0..PER_KEY)
            .flat_map(|i| (0..KEYS).map(move |k| (k, i)))
            .map(|(k, i)| OutgoingMessage::new(&topic, i.to_string()).key(format!("k{k}")))
            .collect();
        self.backend.publish(batch).await.expect("publish");
        let log = Arc::new(Mutex::new(HashMap::<String, Vec<usize>>::new()));
        let active = Arc::new(Mutex::new(HashSet::<String>::new()));
        let barrier = Arc::new(tokio::sync::Barrier::new(KEYS));
        let done = Arc::new(tokio::sync::Semaphore::new(0));
        let (log2, done2) = (log.clone(), done.clone());
        let handler = service_fn(move |m: Message| {
            let (log, active, barrier, done) =
                (log2.clone(), active.clone(), barrier.clone(), done2.clone());
            async move {
                let key = m.key.clone().expect("keyed");
                let seq: usize = std::str::from_utf8(&m.payload)?.parse()?;
                assert!(
                    active.lock().expect("lock").insert(key.clone()),
                    "key {key} ran twice at once"
                );
                if seq == 0 {
                    // Every key's first message must be in flight together.
                    timeout(WAIT, barrier.wait())
                        .await
                        .map_err(|_| "keys did not run in parallel")?;
                }
                tokio::task::yield_now().await;
                log.lock().expect("lock").entry(key.clone()).or_default().push(seq);
                active.lock().expect("lock").remove(&key);
                done.add_permits(1);
                Ok::<(), BoxError>(())
            }
        });
        let handler = ServiceBuilder::new().layer(KeyedOrderingLayer::new()).service(handler);
        let config = ConsumerConfig::default().concurrency(8);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(Consumer::new(sub, handler).config(config).run_until(async {
            let _ = stopped.await;
        }));
        let all = u32::try_from(KEYS * PER_KEY).expect("small");
        let finished = timeout(WAIT, done.acquire_many(all)).await;
        let _ = stop.send(());
        run.await.expect("join").expect("consumer");
        finished.expect("all messages processed").expect("open").forget();
        let log = log.lock().expect("lock");
        for k in 0..KEYS {
            let order = &log[&format!("k{k}")];
            assert_eq!(*order, (0..PER_KEY).collect::<Vec<_>>(), "order of key k{k}");
        }
    }

    /// Several consumers of one group: every message is processed, never by two at once.
    pub async fn competing_consumers_never_overlap(&self) {
        const N: usize = 60;
        let topic = self.topic("compete");
        let in_flight = Arc::new(Mutex::new(HashSet::<String>::new()));
        let counts = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let done = Arc::new(tokio::sync::Semaphore::new(0));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut runs = Vec::new();
        for _ in 0..3 {
            let sub = self.sub(&topic, "g", SubscribeOptions::default().prefetch(5)).await;
            let (in_flight, counts, done) = (in_flight.clone(), counts.clone(), done.clone());
            let handler = service_fn(move |m: Message| {
                let (in_flight, counts, done) = (in_flight.clone(), counts.clone(), done.clone());
                async move {
                    let id = m.id.to_string();
                    assert!(
                        in_flight.lock().expect("lock").insert(id.clone()),
                        "{id} processed twice at once"
                    );
                    tokio::task::yield_now().await;
                    in_flight.lock().expect("lock").remove(&id);
                    *counts.lock().expect("lock").entry(id).or_default() += 1;
                    done.add_permits(1);
                    Ok::<(), BoxError>(())
                }
            });
            let mut stopped = stopped.clone();
            let config = ConsumerConfig::default().concurrency(4);
            runs.push(tokio::spawn(Consumer::new(sub, handler).config(config).run_until(
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )));
        }
        let batch = (0..N).map(|i| OutgoingMessage::new(&topic, i.to_string())).collect();
        let ids = self.backend.publish(batch).await.expect("publish");
        let finished = timeout(WAIT, done.acquire_many(N as u32)).await;
        let _ = stop.send(true);
        for r in runs {
            r.await.expect("join").expect("consumer");
        }
        finished.expect("all messages processed").expect("open").forget();
        let counts = counts.lock().expect("lock");
        for id in &ids {
            assert_eq!(counts.get(id.as_str()), Some(&1), "message {id} processed once");
        }
    }

    async fn sub(&self, topic: &str, group: &str, options: SubscribeOptions) -> Subscription {
        self.backend.subscribe(topic, group, options).await.expect("subscribe")
    }

    /// Nothing more arrives within two visibility timeouts.
    async fn assert_quiet(&self, sub: &mut Subscription) {
        if let Ok(Some(d)) = timeout(self.visibility * 2, sub.next()).await {
            panic!("unexpected delivery {:?}", d.map(|d| d.message().clone()));
        }
    }
}

async fn next(sub: &mut Subscription) -> Delivery {
    next_delivery(sub, WAIT).await
}

/// The next delivery on `sub`, for backend tests beyond the suite.
///
/// # Panics
/// When the subscription fails or ends, or nothing arrives within `wait`.
pub async fn next_delivery(sub: &mut Subscription, wait: Duration) -> Delivery {
    match timeout(wait, sub.next()).await {
        Ok(Some(Ok(d))) => d,
        Ok(Some(Err(e))) => panic!("subscription failed: {e}"),
        Ok(None) => panic!("subscription ended"),
        Err(_) => panic!("no delivery within {wait:?}"),
    }
}
