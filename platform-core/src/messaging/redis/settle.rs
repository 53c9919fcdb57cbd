//! Settling Redis Streams deliveries under the lease fence.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Shared, entry, scripts};
use crate::messaging::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Message, MessagingError, Settle,
    Settlement, dead_letter_topic,
};

/// One delivery's claim on a pending entry: this consumer, at this delivery count.
pub(super) struct RedisSettle {
    pub(super) shared: Arc<Shared>,
    pub(super) group: String,
    pub(super) consumer: String,
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
        let message = message.clone();
        Box::pin(async move { self.apply(&message, settlement).await })
    }
}

impl RedisSettle {
    pub(super) async fn apply(
        &self,
        message: &Message,
        settlement: Settlement,
    ) -> Result<(), MessagingError> {
        let shared = &self.shared;
        let stream = shared.stream_key(&message.topic);
        let dead_topic = dead_letter_topic(&message.topic);
        let mut invocation = scripts::SETTLE.key(&stream);
        invocation
            .key(shared.stream_key(&dead_topic))
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(&self.entry_id)
            .arg(self.deliveries);
        match settlement {
            Settlement::Ack => {
                invocation.arg("ack").arg(0).arg("");
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
                dead.headers.insert(DEAD_LETTER_GROUP.to_owned(), self.group.clone());
                dead.topic = dead_topic;
                invocation.arg("dead").arg(0).arg(shared.max_len_arg());
                for (name, value) in entry::fields(&dead)? {
                    invocation.arg(name).arg(value);
                }
            }
        }
        let mut conn = shared.conn.get().await?;
        let settled = shared.conn.check(invocation.invoke_async::<i64>(&mut conn).await).await?;
        if settled == 1 {
            Ok(())
        } else {
            Err(MessagingError::LeaseLost { id: message.id.clone() })
        }
    }
}
