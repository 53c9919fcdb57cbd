//! The persisted step log: claims, fenced writes and queries.

use std::time::Duration;

use serde_json::Value;

use super::schema;
use super::{SagaId, SagaState, SagaStatus, SagaSummary, StepState, StepStatus};
use crate::store::Store;
use crate::tx::clock::ms_of;
use crate::tx::store_tx::{on_pool, on_tx};
use crate::tx::{Clock, StoreTx, TxError};

/// A saga instance this coordinator holds the lease of.
#[derive(Debug, Clone)]
pub(super) struct Claimed {
    pub(super) id: SagaId,
    pub(super) status: SagaStatus,
    pub(super) input: Value,
    pub(super) lease: i64,
}

/// One write to the log, carried out only while the lease is held (and renewing it).
#[derive(Debug)]
pub(super) enum Write<'a> {
    StepStart {
        idx: u32,
        name: &'a str,
        key: &'a str,
    },
    CompStart {
        idx: u32,
    },
    StepSet {
        idx: u32,
        status: StepStatus,
        output: Option<String>,
        error: Option<&'a str>,
    },
    StepError {
        idx: u32,
        error: &'a str,
    },
    Status {
        status: SagaStatus,
        error: Option<&'a str>,
    },
    /// Sets a terminal status and gives the lease up.
    Finish {
        status: SagaStatus,
    },
}

/// id, name, status, error, created_ms, updated_ms, input.
type SagaRow = (String, String, String, Option<String>, i64, i64, String);
/// idx, name, status, attempts, comp_attempts, idem_key, output, error.
type StepRow = (i64, String, String, i64, i64, String, Option<String>, Option<String>);

#[derive(Debug, Clone)]
pub(super) struct SagaLog {
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) lease: Duration,
}

fn corrupt(what: &str, value: &str) -> TxError {
    TxError::Invalid(format!("saga log holds unknown {what} `{value}`"))
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl SagaLog {
    pub(super) async fn insert(
        &self,
        id: &SagaId,
        name: &str,
        input: &Value,
    ) -> Result<bool, TxError> {
        let input = serde_json::to_string(input)?;
        let now = self.clock.now_ms();
        let n = on_pool!(&self.store, |p| sqlx::query(schema::INSERT)
            .bind(id.as_str())
            .bind(name)
            .bind(&input)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Claims one due, unfinished instance of `name`.
    pub(super) async fn claim(&self, name: &str) -> Result<Option<Claimed>, TxError> {
        let lease = i64::try_from(fastrand::u64(..) >> 1).unwrap_or(1);
        let now = self.clock.now_ms();
        let until = now.saturating_add(ms_of(self.lease));
        let sql = match self.store {
            Store::Postgres(_) => schema::PG_CLAIM,
            Store::Sqlite(_) => schema::SQLITE_CLAIM,
        };
        let row: Option<(String, String, String)> = on_pool!(&self.store, |p| sqlx::query_as(sql)
            .bind(lease)
            .bind(until)
            .bind(name)
            .bind(now)
            .fetch_optional(p)
            .await?);
        let Some((id, status, input)) = row else { return Ok(None) };
        let status = SagaStatus::parse(&status).ok_or_else(|| corrupt("saga status", &status))?;
        Ok(Some(Claimed {
            id: SagaId::new(id),
            status,
            input: serde_json::from_str(&input)?,
            lease,
        }))
    }

    /// Renews the lease and applies `write` in one transaction; [`TxError::LeaseLost`]
    /// (and nothing written) when another coordinator took the saga over.
    pub(super) async fn fenced(&self, c: &Claimed, write: Write<'_>) -> Result<(), TxError> {
        let now = self.clock.now_ms();
        let until = now.saturating_add(ms_of(self.lease));
        let id = c.id.as_str();
        let mut tx = StoreTx::begin(&self.store).await?;
        on_tx!(&mut tx, |conn| {
            let renewed = sqlx::query(schema::RENEW)
                .bind(id)
                .bind(c.lease)
                .bind(until)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if renewed == 0 {
                return Err(TxError::LeaseLost { saga: id.to_owned() });
            }
            match write {
                Write::StepStart { idx, name, key } => {
                    sqlx::query(schema::STEP_START)
                        .bind(id)
                        .bind(i64::from(idx))
                        .bind(name)
                        .bind(key)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                Write::CompStart { idx } => {
                    sqlx::query(schema::COMP_START)
                        .bind(id)
                        .bind(i64::from(idx))
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                Write::StepSet { idx, status, output, error } => {
                    sqlx::query(schema::STEP_SET)
                        .bind(id)
                        .bind(i64::from(idx))
                        .bind(status.as_str())
                        .bind(output)
                        .bind(error)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                Write::StepError { idx, error } => {
                    sqlx::query(schema::STEP_ERROR)
                        .bind(id)
                        .bind(i64::from(idx))
                        .bind(error)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                Write::Status { status, error } => {
                    sqlx::query(schema::SET_STATUS)
                        .bind(id)
                        .bind(c.lease)
                        .bind(status.as_str())
                        .bind(error)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
                Write::Finish { status } => {
                    sqlx::query(schema::FINISH)
                        .bind(id)
                        .bind(c.lease)
                        .bind(status.as_str())
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        });
        tx.commit().await?;
        Ok(())
    }

    /// Gives the lease up; the saga is due again at `due_ms`.
    pub(super) async fn release(&self, c: &Claimed, due_ms: i64) -> Result<(), TxError> {
        let now = self.clock.now_ms();
        on_pool!(&self.store, |p| sqlx::query(schema::RELEASE)
            .bind(c.id.as_str())
            .bind(c.lease)
            .bind(due_ms)
            .bind(now)
            .execute(p)
            .await
            .map(drop)?);
        Ok(())
    }

    pub(super) async fn steps(&self, id: &SagaId) -> Result<Vec<StepState>, TxError> {
        let rows: Vec<StepRow> = on_pool!(&self.store, |p| sqlx::query_as(schema::STEPS)
            .bind(id.as_str())
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|(idx, name, status, attempts, comp, key, output, error)| {
                Ok(StepState {
                    index: to_u32(idx),
                    status: StepStatus::parse(&status)
                        .ok_or_else(|| corrupt("step status", &status))?,
                    name,
                    attempts: to_u32(attempts),
                    compensation_attempts: to_u32(comp),
                    idempotency_key: key,
                    output: output.as_deref().map(serde_json::from_str).transpose()?,
                    error,
                })
            })
            .collect()
    }

    pub(super) async fn saga(&self, id: &SagaId) -> Result<Option<SagaState>, TxError> {
        let row: Option<SagaRow> = on_pool!(&self.store, |p| sqlx::query_as(schema::SAGA)
            .bind(id.as_str())
            .fetch_optional(p)
            .await?);
        let Some(row) = row else { return Ok(None) };
        let (summary, input) = summary(row)?;
        let steps = self.steps(id).await?;
        Ok(Some(SagaState { summary, input, steps }))
    }

    pub(super) async fn list(
        &self,
        status: SagaStatus,
        limit: u32,
    ) -> Result<Vec<SagaSummary>, TxError> {
        let rows: Vec<SagaRow> = on_pool!(&self.store, |p| sqlx::query_as(schema::LIST)
            .bind(status.as_str())
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        rows.into_iter().map(|r| summary(r).map(|(s, _)| s)).collect()
    }
}

fn summary(row: SagaRow) -> Result<(SagaSummary, Value), TxError> {
    let (id, name, status, error, created_ms, updated_ms, input) = row;
    let status = SagaStatus::parse(&status).ok_or_else(|| corrupt("saga status", &status))?;
    let summary = SagaSummary { id: SagaId::new(id), name, status, error, created_ms, updated_ms };
    Ok((summary, serde_json::from_str(&input)?))
}
