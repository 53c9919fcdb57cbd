//! Claiming rows into deliveries, and settling them.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{SqlQueue, db, schema};
use crate::messaging::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Delivery, Message, MessageId,
    MessagingError, Settle, Settlement, SubscribeOptions, Subscription, dead_letter_topic,
};
use crate::store::Store;

/// seq, id, key, headers, payload, published_ms, attempts.
type ClaimedRow = (i64, String, Option<String>, String, Vec<u8>, i64, i64);

fn now_ms() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

struct Member {
    queue: SqlQueue,
    topic: String,
    group: String,
    options: SubscribeOptions,
    buffer: VecDeque<Delivery>,
}

pub(super) fn subscription(
    queue: SqlQueue,
    topic: String,
    group: String,
    options: SubscribeOptions,
) -> Subscription {
    let member = Member { queue, topic, group, options, buffer: VecDeque::new() };
    Subscription::new(futures_util::stream::unfold(member, |mut m| async move {
        let next = m.next_delivery().await;
        Some((next, m))
    }))
}

impl Member {
    async fn next_delivery(&mut self) -> Result<Delivery, MessagingError> {
        loop {
            if let Some(d) = self.buffer.pop_front() {
                return Ok(d);
            }
            // Registered before claiming, so a local publish during the claim is not missed.
            let published = self.queue.published.clone();
            let notified = published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.claim().await?;
            if self.buffer.is_empty() {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(self.queue.config.poll_interval) => {}
                }
            }
        }
    }

    async fn claim(&mut self) -> Result<(), MessagingError> {
        let lease = i64::try_from(fastrand::u64(..) >> 1).unwrap_or(1);
        let now = now_ms();
        let until = now.saturating_add(ms(self.options.visibility_timeout));
        let limit = i64::try_from(self.options.prefetch.max(1)).unwrap_or(i64::MAX);
        let (topic, group) = (self.topic.as_str(), self.group.as_str());
        let rows: Vec<ClaimedRow> = match &self.queue.store {
            Store::Postgres(p) => {
                let q = claim_query(
                    sqlx::query_as(schema::PG_CLAIM),
                    lease,
                    until,
                    topic,
                    now,
                    group,
                    limit,
                );
                q.fetch_all(p).await
            }
            Store::Sqlite(p) => {
                let q = claim_query(
                    sqlx::query_as(schema::SQLITE_CLAIM),
                    lease,
                    until,
                    topic,
                    now,
                    group,
                    limit,
                );
                q.fetch_all(p).await
            }
        }
        .map_err(db)?;
        let mut rows = rows;
        rows.sort_by_key(|r| r.0);
        for (seq, id, key, headers, payload, published_ms, attempts) in rows {
            let headers: BTreeMap<String, String> = serde_json::from_str(&headers)
                .map_err(|e| MessagingError::backend("sql-queue", e))?;
            let message = Message {
                id: MessageId::new(id),
                topic: self.topic.clone(),
                key,
                headers,
                payload: Bytes::from(payload),
                timestamp: UNIX_EPOCH
                    + Duration::from_millis(u64::try_from(published_ms).unwrap_or(0)),
                attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
            };
            let settle = SqlSettle {
                store: self.queue.store.clone(),
                group: self.group.clone(),
                seq,
                lease,
            };
            self.buffer.push_back(Delivery::new(message, Box::new(settle)));
        }
        Ok(())
    }
}

fn claim_query<'q, DB, O>(
    q: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>,
    lease: i64,
    until: i64,
    topic: &'q str,
    now: i64,
    group: &'q str,
    limit: i64,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(lease).bind(until).bind(topic).bind(now).bind(group).bind(limit)
}

struct SqlSettle {
    store: Store,
    group: String,
    seq: i64,
    lease: i64,
}

impl Settle for SqlSettle {
    fn settle(
        self: Box<Self>,
        message: &Message,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), MessagingError>> {
        let id = message.id.clone();
        let dead = match &settlement {
            Settlement::DeadLetter { reason } => {
                let mut headers = message.headers.clone();
                headers.insert(DEAD_LETTER_REASON.to_owned(), reason.clone());
                headers.insert(DEAD_LETTER_ATTEMPTS.to_owned(), message.attempt.to_string());
                headers.insert(DEAD_LETTER_GROUP.to_owned(), self.group.clone());
                let headers = serde_json::to_string(&headers).unwrap_or_else(|_| "{}".to_owned());
                Some((dead_letter_topic(&message.topic), headers))
            }
            _ => None,
        };
        Box::pin(async move {
            let (seq, lease, now) = (self.seq, self.lease, now_ms());
            let affected = match (&self.store, settlement, dead) {
                (Store::Postgres(p), Settlement::Ack, _) => sqlx::query(schema::PG_ACK)
                    .bind(seq)
                    .bind(lease)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
                (Store::Sqlite(p), Settlement::Ack, _) => sqlx::query(schema::SQLITE_ACK)
                    .bind(seq)
                    .bind(lease)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
                (Store::Postgres(p), Settlement::Nack { delay }, _) => {
                    let at = now.saturating_add(ms(delay));
                    sqlx::query(schema::PG_NACK)
                        .bind(seq)
                        .bind(lease)
                        .bind(at)
                        .execute(p)
                        .await
                        .map(|r| r.rows_affected())
                }
                (Store::Sqlite(p), Settlement::Nack { delay }, _) => {
                    let at = now.saturating_add(ms(delay));
                    sqlx::query(schema::SQLITE_NACK)
                        .bind(seq)
                        .bind(lease)
                        .bind(at)
                        .execute(p)
                        .await
                        .map(|r| r.rows_affected())
                }
                (Store::Postgres(p), _, Some((topic, headers))) => sqlx::query(schema::PG_DEAD)
                    .bind(seq)
                    .bind(lease)
                    .bind(now)
                    .bind(topic)
                    .bind(headers)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
                (Store::Sqlite(p), _, Some((topic, headers))) => sqlx::query(schema::SQLITE_DEAD)
                    .bind(seq)
                    .bind(lease)
                    .bind(now)
                    .bind(topic)
                    .bind(headers)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
                (_, other, None) => {
                    return Err(MessagingError::Invalid(format!(
                        "unsupported settlement {other:?}"
                    )));
                }
            }
            .map_err(db)?;
            if affected == 0 {
                return Err(MessagingError::LeaseLost { id });
            }
            Ok(())
        })
    }
}
