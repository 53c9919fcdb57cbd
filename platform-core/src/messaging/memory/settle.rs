//! Settling in-memory deliveries.

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::MemoryBroker;
use crate::messaging::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Message, MessagingError, Settle,
    Settlement, dead_letter_topic,
};

pub(super) struct MemorySettle {
    pub(super) broker: MemoryBroker,
    pub(super) topic: String,
    pub(super) group: String,
    pub(super) seq: u64,
    pub(super) lease: u64,
}

impl Settle for MemorySettle {
    fn settle(
        self: Box<Self>,
        message: &Message,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), MessagingError>> {
        let res = self.apply(message, settlement);
        Box::pin(async move { res })
    }
}

impl MemorySettle {
    fn apply(&self, delivered: &Message, settlement: Settlement) -> Result<(), MessagingError> {
        let inner = &self.broker.inner;
        let mut state = inner.lock();
        let group = state.topics.get_mut(&self.topic).and_then(|t| t.groups.get_mut(&self.group));
        let Some(message) = group.and_then(|g| g.release(self.seq, self.lease)) else {
            return Err(MessagingError::LeaseLost { id: delivered.id.clone() });
        };
        let now = Instant::now();
        match settlement {
            Settlement::Ack => {}
            Settlement::Nack { delay } => {
                let group =
                    state.topics.get_mut(&self.topic).and_then(|t| t.groups.get_mut(&self.group));
                group.expect("released above").push(self.seq, message, Some(delay), now);
                return Ok(());
            }
            Settlement::DeadLetter { reason } => {
                let mut dead = message;
                dead.headers.insert(DEAD_LETTER_REASON.to_owned(), reason);
                dead.headers.insert(DEAD_LETTER_ATTEMPTS.to_owned(), dead.attempt.to_string());
                dead.headers.insert(DEAD_LETTER_GROUP.to_owned(), self.group.clone());
                dead.topic = dead_letter_topic(&self.topic);
                dead.attempt = 0;
                let seq = state.next_seq;
                state.next_seq += 1;
                let topic = state.topics.entry(dead.topic.clone()).or_default();
                // Dead letters are never refused for capacity: refusing would lose them.
                topic.group(&self.group).push(seq, dead, None, now);
            }
        }
        drop(state);
        inner.space.notify_waiters();
        Ok(())
    }
}
