//! [`Relay`]: publishes committed outbox rows, at least once, in order per key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{Outbox, schema};
use crate::messaging::{Headers, OutgoingMessage, Publisher};
use crate::store::Store;
use crate::tx::clock::ms_of;
use crate::tx::store_tx::on_pool;
use crate::tx::{Clock, TxError};

/// Settings of a [`Relay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Most messages claimed and published in one batch (default 128).
    pub batch_size: u32,
    /// How long a claimed batch belongs to this relay (default 30s). The publish is cut
    /// off before it ends; afterwards another relay may claim the rows again.
    pub lease: Duration,
    /// How often an idle relay looks for rows (default 1s). On PostgreSQL, `NOTIFY`
    /// wakes it earlier; this is the fallback when a notification is lost.
    pub poll_interval: Duration,
    /// How long a batch whose publish failed waits before it is tried again (default 1s).
    pub retry_delay: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 128,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            retry_delay: Duration::from_secs(1),
        }
    }
}

impl RelayConfig {
    /// Sets the batch size (at least 1).
    pub fn batch_size(mut self, n: u32) -> Self {
        self.batch_size = n.max(1);
        self
    }
    /// Sets the lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
    /// Sets the retry delay.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }
}

/// Publishes an [`Outbox`]'s committed messages to a [`Publisher`].
///
/// Each round claims up to `batch_size` due rows that are the oldest unsent row of their
/// key (rows without a key are always eligible), publishes them as one batch, and
/// deletes them once `publish` returned `Ok`. A key's next message is therefore not
/// published before the previous one was confirmed, whichever relay holds it. Several
/// relays may run, in one process or many: a claimed row is leased to one relay.
pub struct Relay {
    outbox: Outbox,
    publisher: Arc<dyn Publisher>,
    config: RelayConfig,
    clock: Clock,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("publisher", &self.publisher.capabilities().backend)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// seq, id, topic, key, headers, payload, delay_ms.
type ClaimedRow = (i64, String, String, Option<String>, String, Vec<u8>, Option<i64>);

impl Relay {
    /// A relay of `outbox` into `publisher`.
    pub fn new(outbox: Outbox, publisher: Arc<dyn Publisher>, config: RelayConfig) -> Self {
        Self { outbox, publisher, config, clock: Clock::system() }
    }

    /// Replaces the settings.
    pub fn config(mut self, config: RelayConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the clock leases are measured with (tests: [`Clock::manual`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Claims one batch, publishes it and marks it sent. Returns how many messages were
    /// published (0: nothing was due). A failed publish releases the batch to be retried
    /// after `retry_delay` and returns the error.
    pub async fn relay_once(&self) -> Result<usize, TxError> {
        let lease = i64::try_from(fastrand::u64(..) >> 1).unwrap_or(1);
        let now = self.clock.now_ms();
        let until = now.saturating_add(ms_of(self.config.lease));
        let limit = i64::from(self.config.batch_size.max(1));
        let store = self.outbox.store();
        let claim = match store {
            Store::Postgres(_) => schema::PG_CLAIM,
            Store::Sqlite(_) => schema::SQLITE_CLAIM,
        };
        let mut rows: Vec<ClaimedRow> = on_pool!(store, |p| sqlx::query_as(claim)
            .bind(lease)
            .bind(until)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?);
        if rows.is_empty() {
            return Ok(0);
        }
        rows.sort_by_key(|r| r.0);
        let n = rows.len();
        let batch = rows.into_iter().map(to_message).collect::<Result<Vec<_>, _>>()?;
        // Cut the publish off well before the lease ends, so no other relay can claim
        // these rows while this one may still be sending them.
        let budget = self.config.lease.mul_f64(0.8);
        let outcome = match tokio::time::timeout(budget, self.publisher.publish(batch)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(TxError::from(e)),
            Err(_) => Err(TxError::Invalid(format!(
                "publish did not finish within {budget:?} (80% of the relay lease)"
            ))),
        };
        match outcome {
            Ok(()) => {
                on_pool!(store, |p| sqlx::query(schema::DELETE_SENT)
                    .bind(lease)
                    .execute(p)
                    .await
                    .map(drop)?);
                tracing::trace!(target: "platform::tx::outbox", published = n, "relayed batch");
                Ok(n)
            }
            Err(e) => {
                let retry_at = self.clock.now_ms().saturating_add(ms_of(self.config.retry_delay));
                let msg = error_chain(&e);
                tracing::warn!(target: "platform::tx::outbox", batch = n, error = %msg, "publish failed; batch released for retry");
                on_pool!(store, |p| sqlx::query(schema::RELEASE)
                    .bind(lease)
                    .bind(retry_at)
                    .bind(&msg)
                    .execute(p)
                    .await
                    .map(drop)?);
                Err(e)
            }
        }
    }

    /// Relays until `shutdown` completes: batches back to back while rows are due, then
    /// waits for a `NOTIFY` (PostgreSQL), [`Outbox::wake`] or `poll_interval`. Errors
    /// are logged (target `platform::tx::outbox`) and retried after `poll_interval`;
    /// the relay itself never stops on them.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let mut listener = self.listen().await;
        loop {
            let wake = self.outbox.wake.clone();
            let local = wake.notified();
            tokio::pin!(local);
            local.as_mut().enable();
            let busy = tokio::select! {
                r = self.relay_once() => match r {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(target: "platform::tx::outbox", error = %error_chain(&e), "relay round failed");
                        false
                    }
                },
                () = &mut shutdown => return,
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = local => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
                () = notified(&mut listener) => {}
            }
        }
    }

    /// A `LISTEN` connection on PostgreSQL; `None` on SQLite or when it cannot be opened
    /// (the relay then polls).
    async fn listen(&self) -> Option<sqlx::postgres::PgListener> {
        let Store::Postgres(pool) = self.outbox.store() else { return None };
        let res = async {
            let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
            l.listen(schema::CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        match res {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(target: "platform::tx::outbox", error = %e, "cannot LISTEN; polling only");
                None
            }
        }
    }
}

/// Completes on the next notification (or a listener error, so the caller re-checks);
/// never completes without a listener.
async fn notified(listener: &mut Option<sqlx::postgres::PgListener>) {
    match listener {
        Some(l) => {
            if let Err(e) = l.recv().await {
                tracing::debug!(target: "platform::tx::outbox", error = %e, "LISTEN connection lost; reconnecting");
            }
        }
        None => std::future::pending().await,
    }
}

fn to_message(row: ClaimedRow) -> Result<OutgoingMessage, TxError> {
    let (_, id, topic, key, headers, payload, delay_ms) = row;
    let headers: Headers = serde_json::from_str(&headers)?;
    let mut msg = OutgoingMessage::new(topic, Bytes::from(payload)).id(id);
    msg.key = key;
    msg.headers = headers;
    msg.delay = delay_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    Ok(msg)
}

/// `error: cause: cause`, for logs and the `last_error` column.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
