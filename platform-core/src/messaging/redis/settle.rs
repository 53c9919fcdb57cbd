//! Settling Redis Streams deliveries under the lease fence.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::acks::{self, Ack};
use super::{Shared, entry, scripts};
use crate::messaging::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Message, MessageId,
    MessagingError, Settle, Settlement, dead_letter_topic,
};

/// One delivery's claim on a pending entry: this consumer, at this delivery count.
pub(super) struct RedisSettle {
    pub(super) shared: Arc<Shared>,
    pub(super) stream: Arc<str>,
    pub(super) group: Arc<str>,
    pub(super) consumer: Arc<str>,
    pub(super) entry_id: String,
    pub(super) deliveries: i64,
    pub(super) visibility: Duration,
}

impl Settle for RedisSettle {
    fn settle(
        self: Box<Self>,
        message: &Message,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), MessagingError>> {
        if settlement == Settlement::Ack {
            let id = message.id.clone();
            return Box::pin(async move { self.ack(id).await });
        }
        let message = message.clone();
        Box::pin(async move { self.apply(&message, settlement).await })
    }
}

impl RedisSettle {
    async fn ack(self: Box<Self>, id: MessageId) -> Result<(), MessagingError> {
        let Self { shared, stream, group, consumer, entry_id, deliveries, .. } = *self;
        let ack = Ack { stream, group, consumer, entry_id, deliveries };
        if acks::ack(&shared, ack).await? { Ok(()) } else { Err(MessagingError::LeaseLost { id }) }
    }

    /// Nack or dead-letter (acks take [`Self::ack`]).
    pub(super) async fn apply(
        &self,
        message: &Message,
        settlement: Settlement,
    ) -> Result<(), MessagingError> {
        let shared = &self.shared;
        let dead_topic = dead_letter_topic(&message.topic);
        let mut invocation = scripts::SETTLE.key(&*self.stream);
        invocation.key(shared.stream_key(&dead_topic));
        invocation.arg(&*self.group).arg(&*self.consumer).arg(&self.entry_id).arg(self.deliveries);
        match settlement {
            Settlement::Ack => {
                let ack = Ack {
                    stream: self.stream.clone(),
                    group: self.group.clone(),
                    consumer: self.consumer.clone(),
                    entry_id: self.entry_id.clone(),
                    deliveries: self.deliveries,
                };
                return if acks::ack(shared, ack).await? {
                    Ok(())
                } else {
                    Err(MessagingError::LeaseLost { id: message.id.clone() })
                };
            }
            Settlement::Nack { delay } => {
                // The entry stays pending; backdating its delivery time makes XAUTOCLAIM
                // (min idle = visibility timeout) take it again after `delay`.
                let delay = delay.min(self.visibility);
                let idle = self.visibility.saturating_sub(delay).as_millis() as u64;
                invocation.arg("nack").arg(idle).arg("");
            }
            Settlement::DeadLetter { reason } => {
                let mut dead = message.clone();
                dead.headers.insert(DEAD_LETTER_REASON.to_owned(), reason);
                dead.headers.insert(DEAD_LETTER_ATTEMPTS.to_owned(), dead.attempt.to_string());
                dead.headers.insert(DEAD_LETTER_GROUP.to_owned(), self.group.to_string());
                dead.topic = dead_topic;
                invocation.arg("dead").arg(0).arg(shared.max_len_arg());
                for (name, value) in entry::fields(&dead)? {
                    invocation.arg(name).arg(value);
                }
            }
        }
        let mut conn = shared.conn.get().await?;
        let settled = shared.conn.check(invocation.invoke_async::<i64>(&mut conn).await)?;
        if settled == 1 {
            Ok(())
        } else {
            Err(MessagingError::LeaseLost { id: message.id.clone() })
        }
    }
}
