//! [`StoreTx`]: an open transaction on either backend, owned.

use sqlx::{Postgres, Sqlite, Transaction};

use crate::messaging::QueueTx;
use crate::store::Store;

/// An open transaction on a [`Store`], handed to inbox handlers so their writes commit
/// together with the record that the message was processed.
///
/// Reach the typed transaction with [`as_sqlite`](Self::as_sqlite) /
/// [`as_postgres`](Self::as_postgres), or pass `&mut StoreTx` straight to
/// [`Outbox::enqueue`](super::Outbox::enqueue) or
/// [`SqlQueue::publish_in_tx`](crate::messaging::SqlQueue::publish_in_tx).
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreTx {
    /// A SQLite transaction.
    Sqlite(Transaction<'static, Sqlite>),
    /// A PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

impl StoreTx {
    /// Begins a transaction on `store`. SQLite transactions begin with `BEGIN IMMEDIATE`
    /// (they take the write lock at once, so two writers never deadlock upgrading).
    pub async fn begin(store: &Store) -> Result<Self, sqlx::Error> {
        Ok(match store {
            Store::Sqlite(p) => Self::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Store::Postgres(p) => Self::Postgres(p.begin().await?),
        })
    }

    /// The SQLite transaction, when this is one.
    pub fn as_sqlite(&mut self) -> Option<&mut Transaction<'static, Sqlite>> {
        match self {
            Self::Sqlite(tx) => Some(tx),
            Self::Postgres(_) => None,
        }
    }

    /// The PostgreSQL transaction, when this is one.
    pub fn as_postgres(&mut self) -> Option<&mut Transaction<'static, Postgres>> {
        match self {
            Self::Postgres(tx) => Some(tx),
            Self::Sqlite(_) => None,
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls back (dropping the transaction does too).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.rollback().await,
            Self::Postgres(tx) => tx.rollback().await,
        }
    }
}

impl<'a> From<&'a mut StoreTx> for QueueTx<'a, 'static> {
    fn from(tx: &'a mut StoreTx) -> Self {
        match tx {
            StoreTx::Sqlite(tx) => QueueTx::Sqlite(tx),
            StoreTx::Postgres(tx) => QueueTx::Postgres(tx),
        }
    }
}

/// Runs `$body` with `$p` bound to the store's typed pool: one body, both backends.
macro_rules! on_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($p) => $body,
            $crate::store::Store::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the open transaction's connection (`&mut *tx`).
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::tx::StoreTx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::tx::StoreTx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};
