//! One member of a consumer group: reclaims stuck entries, reads new ones, and turns
//! both into deliveries.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use tokio::time::Instant;

use super::conn::{Conn, failed};
use super::settle::RedisSettle;
use super::{Shared, entry, scripts};
use crate::messaging::{Delivery, MessagingError, Settlement, SubscribeOptions, Subscription};

/// A cursor that starts a full `XAUTOCLAIM` scan of the pending list.
pub(super) const CURSOR_START: &str = "0-0";

/// Longest wait between attempts after a failure (connection lost, server down).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Entries claimed from the pending list in one `XAUTOCLAIM` call.
pub(super) struct Claimed {
    /// Where the next call continues (`0-0`: the scan wrapped around).
    pub(super) cursor: String,
    /// `(entry id, fields, delivery count)`.
    pub(super) entries: Vec<(String, Value, i64)>,
    /// Ids the scan found pending but trimmed from the stream.
    pub(super) deleted: Vec<String>,
}

pub(super) struct Member {
    pub(super) shared: Arc<Shared>,
    pub(super) topic: String,
    /// The topic's stream key.
    pub(super) stream: Arc<str>,
    pub(super) group: Arc<str>,
    pub(super) consumer: Arc<str>,
    pub(super) options: SubscribeOptions,
    /// This member's own connection: `XREADGROUP … BLOCK` holds it while waiting.
    pub(super) reader: Conn,
    pub(super) buffer: VecDeque<Delivery>,
    /// The `XAUTOCLAIM` cursor, carried from one call to the next.
    pub(super) cursor: String,
    pub(super) next_claim: Instant,
    pub(super) failures: u32,
}

pub(super) fn subscription(member: Member) -> Subscription {
    Subscription::new(futures_util::stream::unfold(member, |mut m| async move {
        let next = m.next_delivery().await;
        Some((next, m))
    }))
}

impl Member {
    /// How often stuck entries and due delayed messages are looked for.
    fn claim_interval(&self) -> Duration {
        (self.options.visibility_timeout / 4)
            .min(self.shared.config.block)
            .max(Duration::from_millis(5))
    }

    async fn next_delivery(&mut self) -> Result<Delivery, MessagingError> {
        loop {
            if let Some(d) = self.buffer.pop_front() {
                return Ok(d);
            }
            match self.fill().await {
                Ok(()) => self.failures = 0,
                Err(e) => {
                    self.failures = self.failures.saturating_add(1);
                    let wait = Duration::from_millis(50)
                        .saturating_mul(1 << self.failures.min(7))
                        .min(MAX_BACKOFF);
                    tracing::warn!(
                        target: "platform::messaging",
                        topic = %self.topic, group = %self.group, error = %e,
                        retry_in = ?wait, "redis streams subscription failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Reclaims stuck entries when due, else blocks for new ones.
    async fn fill(&mut self) -> Result<(), MessagingError> {
        let now = Instant::now();
        if now >= self.next_claim {
            self.shared.promote_delayed(&self.topic).await?;
            let claimed = self.claim().await?;
            if claimed.cursor == CURSOR_START {
                self.next_claim = now + self.claim_interval();
            }
            self.cursor = claimed.cursor;
            if !claimed.deleted.is_empty() {
                tracing::warn!(
                    target: "platform::messaging",
                    topic = %self.topic, group = %self.group, ids = ?claimed.deleted,
                    "pending entries were trimmed (MAXLEN) before being acknowledged"
                );
            }
            for (id, fields, deliveries) in claimed.entries {
                self.push(id, &fields, deliveries).await?;
            }
            if !self.buffer.is_empty() {
                return Ok(());
            }
        }
        let wait = self.next_claim.saturating_duration_since(Instant::now());
        let block = wait.min(self.shared.config.block).max(Duration::from_millis(1));
        let reply = self.read(block).await?;
        for stream in entry::items(&reply) {
            let [_, entries] = entry::items(stream) else { continue };
            for e in entry::items(entries) {
                if let [id, fields] = entry::items(e) {
                    let id = entry::string(id).ok_or_else(|| failed("entry without id"))?;
                    self.push(id, fields, 1).await?;
                }
            }
        }
        Ok(())
    }

    /// One `XAUTOCLAIM` step from the stored cursor.
    pub(super) async fn claim(&self) -> Result<Claimed, MessagingError> {
        let min_idle = self.options.visibility_timeout.as_millis() as u64;
        let mut invocation = scripts::CLAIM.key(&*self.stream);
        invocation
            .arg(&*self.group)
            .arg(&*self.consumer)
            .arg(min_idle)
            .arg(&self.cursor)
            .arg(self.options.prefetch);
        let reply: Value = self.shared.run(&invocation).await?;
        let [cursor, entries, deleted] = entry::items(&reply) else {
            return Err(failed(format!("unexpected XAUTOCLAIM reply {reply:?}")));
        };
        let mut claimed = Claimed {
            cursor: entry::string(cursor).unwrap_or_else(|| CURSOR_START.to_owned()),
            entries: Vec::new(),
            deleted: entry::items(deleted).iter().filter_map(entry::string).collect(),
        };
        for e in entry::items(entries) {
            if let [id, fields, n] = entry::items(e) {
                let id = entry::string(id).ok_or_else(|| failed("entry without id"))?;
                claimed.entries.push((id, fields.clone(), entry::int(n).unwrap_or(1)));
            }
        }
        Ok(claimed)
    }

    async fn read(&self, block: Duration) -> Result<Value, MessagingError> {
        let mut conn = self.reader.get().await?;
        let res = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&*self.group)
            .arg(&*self.consumer)
            .arg("COUNT")
            .arg(self.options.prefetch)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&*self.stream)
            .arg(">")
            .query_async::<Value>(&mut conn)
            .await;
        self.reader.check(res)
    }

    /// Queues a delivery of entry `id`, or dead-letters it when it exceeded
    /// `max_deliveries`.
    async fn push(
        &mut self,
        id: String,
        fields: &Value,
        deliveries: i64,
    ) -> Result<(), MessagingError> {
        let attempt = u32::try_from(deliveries).unwrap_or(u32::MAX).max(1);
        let message = entry::decode(&self.topic, fields, attempt)?;
        let settle = RedisSettle {
            shared: self.shared.clone(),
            stream: self.stream.clone(),
            group: self.group.clone(),
            consumer: self.consumer.clone(),
            entry_id: id,
            deliveries,
            visibility: self.options.visibility_timeout,
        };
        if let Some(max) = self.shared.config.max_deliveries.filter(|max| attempt > *max) {
            let reason = format!("delivered {attempt} times without being settled (max {max})");
            tracing::warn!(
                target: "platform::messaging", id = %message.id, %reason,
                "dead-lettering message"
            );
            return match settle.apply(&message, Settlement::DeadLetter { reason }).await {
                Ok(()) | Err(MessagingError::LeaseLost { .. }) => Ok(()),
                Err(e) => Err(e),
            };
        }
        self.buffer.push_back(Delivery::new(message, Box::new(settle)));
        Ok(())
    }
}
