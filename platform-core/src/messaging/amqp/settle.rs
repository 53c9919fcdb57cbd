//! Leases and settlement of RabbitMQ deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use lapin::Acker;
use lapin::options::{BasicAckOptions, BasicNackOptions};

use super::topology::{self, Names};
use super::{Shared, conn::failed};
use crate::messaging::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Message, MessagingError, Settle,
    Settlement,
};

/// Who ends a delivery first: its holder (settle) or the subscription (visibility
/// timeout, lost channel). Exactly one wins.
#[derive(Debug, Default)]
pub(super) struct Lease {
    done: Mutex<bool>,
}

impl Lease {
    /// `true` for the one caller that ends the lease.
    pub(super) fn end(&self) -> bool {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        !std::mem::replace(&mut *done, true)
    }

    pub(super) fn is_done(&self) -> bool {
        *self.done.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One delivery's handle: the acker of its channel, its lease and where copies go.
pub(super) struct AmqpSettle {
    pub(super) shared: Arc<Shared>,
    pub(super) acker: Acker,
    pub(super) lease: Arc<Lease>,
    pub(super) queue: String,
    pub(super) group: String,
}

impl Settle for AmqpSettle {
    fn settle(
        self: Box<Self>,
        message: &Message,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), MessagingError>> {
        let message = message.clone();
        Box::pin(async move {
            if !self.lease.end() {
                return Err(MessagingError::LeaseLost { id: message.id });
            }
            match settlement {
                Settlement::Ack => ack(&self.shared, &self.acker).await,
                Settlement::Nack { delay } => {
                    requeue_copy(&self.shared, &self.acker, &self.queue, &message, delay).await
                }
                Settlement::DeadLetter { reason } => {
                    let dead = into_dead_letter(message, reason, &self.group);
                    dead_letter(&self.shared, &self.acker, &self.queue, &dead).await
                }
            }
        })
    }
}

/// `message` rewritten for its dead-letter topic, with the reason headers.
pub(super) fn into_dead_letter(mut message: Message, reason: String, group: &str) -> Message {
    message.headers.insert(DEAD_LETTER_REASON.to_owned(), reason);
    message.headers.insert(DEAD_LETTER_ATTEMPTS.to_owned(), message.attempt.to_string());
    message.headers.insert(DEAD_LETTER_GROUP.to_owned(), group.to_owned());
    message.topic = crate::messaging::dead_letter_topic(&message.topic);
    message
}

async fn ack(shared: &Shared, acker: &Acker) -> Result<(), MessagingError> {
    let timeout = shared.config.timeout;
    super::conn::within(timeout, "ack", async {
        acker.ack(BasicAckOptions::default()).await.map(drop).map_err(failed)
    })
    .await
}

/// Publishes a copy of `message` (counting this delivery) back into `queue`, through its
/// delay queue when `delay` is positive, then acks the original. If the copy cannot be
/// published the original is requeued by the broker instead (`redelivered` flag).
pub(super) async fn requeue_copy(
    shared: &Shared,
    acker: &Acker,
    queue: &str,
    message: &Message,
    delay: Duration,
) -> Result<(), MessagingError> {
    let names = Names { config: &shared.config };
    let mut props = topology::properties(message, message.attempt);
    let target = if delay.is_zero() {
        queue.to_owned()
    } else {
        props = props.with_expiration(delay.as_millis().to_string().into());
        names.delay_queue(queue)
    };
    let item = (String::new(), target, message.payload.to_vec(), props);
    match shared.connector.publish(vec![item]).await {
        Ok(()) => ack(shared, acker).await,
        Err(e) => {
            let requeue = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
            let _ = acker.nack(requeue).await;
            Err(e)
        }
    }
}

/// Publishes `dead` (already rewritten for the dead-letter topic) through the
/// dead-letter exchange, keyed by the group queue, then acks the original.
pub(super) async fn dead_letter(
    shared: &Shared,
    acker: &Acker,
    queue: &str,
    dead: &Message,
) -> Result<(), MessagingError> {
    let names = Names { config: &shared.config };
    let props = topology::properties(dead, 0);
    let item = (names.dead_letter(), queue.to_owned(), dead.payload.to_vec(), props);
    shared.connector.publish(vec![item]).await?;
    ack(shared, acker).await
}
