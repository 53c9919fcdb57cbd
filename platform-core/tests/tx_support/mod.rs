//! Shared helpers of the `tx_*` integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use platform_core::messaging::{
    Backend, Capabilities, MessageId, MessagingError, OutgoingMessage, Publisher,
};
use platform_core::store::{Store, StoreConfig};
use platform_core::test_util::{PgSchema, Service};
use tokio::sync::Semaphore;

/// A SQLite file store in a fresh temp dir (kept alive by the returned guard).
pub async fn sqlite_file() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("tx.db").display());
    (Store::connect(&url).await.expect("sqlite"), dir)
}

/// A PostgreSQL store in its own schema, or `None` (skipped) without a server.
pub async fn postgres(test: &str) -> Option<(Store, PgSchema)> {
    let url = Service::Postgres.url_or_skip(test).await?;
    let schema = PgSchema::create(&url, test).await.expect("schema");
    let cfg = StoreConfig::new(url).with_schema(schema.name());
    Some((Store::from_config(&cfg).await.expect("connect"), schema))
}

/// A publisher recording what it published, in order; optionally every publish first
/// waits for a permit of `gate`, and fails while `failing` is set.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub published: Arc<Mutex<Vec<OutgoingMessage>>>,
    pub gate: Option<Arc<Semaphore>>,
    pub failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Recorder {
    pub fn gated(gate: Arc<Semaphore>) -> Self {
        Self { gate: Some(gate), ..Self::default() }
    }

    pub fn payloads(&self) -> Vec<String> {
        let all = self.published.lock().unwrap();
        all.iter().map(|m| String::from_utf8(m.payload.to_vec()).unwrap()).collect()
    }

    /// Payloads of `key`, in publish order.
    pub fn of_key(&self, key: &str) -> Vec<String> {
        let all = self.published.lock().unwrap();
        all.iter()
            .filter(|m| m.key.as_deref() == Some(key))
            .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
            .collect()
    }
}

impl Backend for Recorder {
    fn capabilities(&self) -> Capabilities {
        Capabilities::none("recorder")
    }
}

impl Publisher for Recorder {
    fn publish(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Vec<MessageId>, MessagingError>> {
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("open").forget();
            }
            if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(MessagingError::backend("recorder", "injected failure"));
            }
            let ids = messages.iter().map(|m| m.id.clone().expect("outbox sets ids")).collect();
            self.published.lock().unwrap().extend(messages);
            Ok(ids)
        })
    }
}
