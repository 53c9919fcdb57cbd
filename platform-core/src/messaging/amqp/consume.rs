//! A subscription's task: consumes the group queue, enforces the visibility timeout,
//! and reconnects after the channel or connection is lost.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Shared;
use super::conn::failed;
use super::settle::{AmqpSettle, Lease, dead_letter, into_dead_letter, requeue_copy};
use super::topology::{self, Names};
use crate::messaging::{Delivery, MessagingError, SubscribeOptions};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

type Sender = mpsc::UnboundedSender<Result<Delivery, MessagingError>>;

pub(super) struct Member {
    pub(super) shared: Arc<Shared>,
    pub(super) topic: String,
    pub(super) group: String,
    pub(super) options: SubscribeOptions,
}

/// A handed-out delivery the subscription may still have to take back.
struct Held {
    deadline: Instant,
    lease: Arc<Lease>,
    acker: lapin::Acker,
    message: crate::messaging::Message,
}

impl Member {
    /// Runs until the subscription is dropped.
    pub(super) async fn run(self, tx: Sender) {
        let mut failures: u32 = 0;
        loop {
            let res = self.consume(&tx, &mut failures).await;
            if tx.is_closed() {
                return;
            }
            failures = failures.saturating_add(1);
            let wait =
                Duration::from_millis(100).saturating_mul(1 << failures.min(6)).min(MAX_BACKOFF);
            if let Err(e) = res {
                tracing::warn!(
                    target: "platform::messaging", topic = %self.topic, group = %self.group,
                    error = %e, retry_in = ?wait, "rabbitmq subscription lost; reconnecting"
                );
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = tx.closed() => return,
            }
        }
    }

    /// One channel's life: declare, consume, expire leases; returns when the channel ends.
    async fn consume(&self, tx: &Sender, failures: &mut u32) -> Result<(), MessagingError> {
        let shared = &self.shared;
        let names = Names { config: &shared.config };
        let ch = shared.connector.channel().await?;
        let setup = async {
            let queue = topology::declare_group(&ch, &names, &self.topic, &self.group).await?;
            let prefetch = u16::try_from(self.options.prefetch).unwrap_or(u16::MAX).max(1);
            ch.basic_qos(prefetch, BasicQosOptions::default()).await.map_err(failed)?;
            let consumer = ch
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(failed)?;
            Ok::<_, MessagingError>((queue, consumer))
        };
        let (queue, mut consumer) =
            super::conn::within(shared.config.timeout, "subscribe", setup).await?;
        *failures = 0;
        let mut held: VecDeque<Held> = VecDeque::new();
        let ended = loop {
            while held.front().is_some_and(|h| h.lease.is_done()) {
                held.pop_front();
            }
            let next_deadline = held.front().map(|h| h.deadline);
            tokio::select! {
                () = tx.closed() => break Ok(()),
                () = sleep_until(next_deadline) => {
                    let h = held.pop_front().expect("a deadline implies a held delivery");
                    if h.lease.end() {
                        tracing::debug!(
                            target: "platform::messaging", id = %h.message.id,
                            "visibility timeout expired; redelivering"
                        );
                        let copy = requeue_copy(shared, &h.acker, &queue, &h.message, Duration::ZERO);
                        if let Err(e) = copy.await {
                            break Err(e);
                        }
                    }
                }
                next = consumer.next() => match next {
                    Some(Ok(d)) => {
                        let message = match topology::decode(&d, &self.topic) {
                            Ok(m) => m,
                            Err(e) => break Err(e),
                        };
                        if let Some(max) = shared.config.max_deliveries.filter(|m| message.attempt > *m) {
                            let reason = format!("delivered {} times (max {max})", message.attempt);
                            let dead = into_dead_letter(message, reason, &self.group);
                            if let Err(e) = dead_letter(shared, &d.acker, &queue, &dead).await {
                                break Err(e);
                            }
                            continue;
                        }
                        let lease = Arc::new(Lease::default());
                        held.push_back(Held {
                            deadline: Instant::now() + self.options.visibility_timeout,
                            lease: lease.clone(),
                            acker: d.acker.clone(),
                            message: message.clone(),
                        });
                        let settle = AmqpSettle {
                            shared: shared.clone(),
                            acker: d.acker,
                            lease,
                            queue: queue.clone(),
                            group: self.group.clone(),
                        };
                        if tx.send(Ok(Delivery::new(message, Box::new(settle)))).is_err() {
                            break Ok(());
                        }
                    }
                    Some(Err(e)) => break Err(failed(e)),
                    None => break Err(failed("the broker cancelled the consumer")),
                },
            }
        };
        // Whatever is still held goes back to the queue when the channel closes; its
        // holders' settlements must fail.
        for h in held {
            h.lease.end();
        }
        let _ = ch.close(200, "subscription closed".into()).await;
        ended
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
