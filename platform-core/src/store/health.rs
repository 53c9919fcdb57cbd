//! [`Store::health`]: `SELECT 1` with a timeout.

use std::time::Duration;

use super::{Store, StoreKind};

/// The result of a [`Store::health`] probe, ready to feed a health registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The backend probed.
    pub kind: StoreKind,
    /// How long the probe took (up to the timeout).
    pub latency: Duration,
    /// Why the store is unhealthy; `None` when healthy.
    pub error: Option<String>,
}

impl Health {
    /// `true` when `SELECT 1` answered within the timeout.
    pub fn is_healthy(&self) -> bool {
        self.error.is_none()
    }
}

impl Store {
    /// Runs `SELECT 1` with the default 2s timeout.
    pub async fn health(&self) -> Health {
        self.health_within(Duration::from_secs(2)).await
    }

    /// Runs `SELECT 1`, giving up after `timeout` (acquiring a connection included).
    pub async fn health_within(&self, timeout: Duration) -> Health {
        let start = tokio::time::Instant::now();
        let probe = async {
            match self {
                Self::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
                Self::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            }
        };
        let error = match tokio::time::timeout(timeout, probe).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("SELECT 1 failed: {e}")),
            Err(_) => Some(format!("SELECT 1 did not answer within {timeout:?}")),
        };
        Health { kind: self.kind(), latency: start.elapsed(), error }
    }
}
