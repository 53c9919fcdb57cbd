//! [`PolicyStore`]: policy documents in a database, versioned.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::StoreError;

/// A stored policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredPolicy {
    /// The document's name (several services can keep their own).
    pub name: String,
    /// The document, as JSON.
    pub document: String,
    /// Increases with every save.
    pub version: u64,
    /// Last save (Unix seconds).
    pub updated_at: u64,
}

/// Storage of named policy documents. Saving bumps the version, which
/// [`PolicyAuthorizer::poll_store`](super::PolicyAuthorizer::poll_store) watches.
#[async_trait]
pub trait PolicyStore: Send + Sync + std::fmt::Debug {
    /// The document `name`.
    async fn load(&self, name: &str) -> Result<Option<StoredPolicy>, StoreError>;
    /// Saves `document` (JSON) as `name` at `now`; returns the new version (1 for a new
    /// document).
    async fn save(&self, name: &str, document: &str, now: u64) -> Result<u64, StoreError>;
}

/// In-memory [`PolicyStore`] (one process; the reference backend).
#[derive(Debug, Default, Clone)]
pub struct MemoryPolicyStore {
    docs: Arc<Mutex<HashMap<String, StoredPolicy>>>,
}

#[async_trait]
impl PolicyStore for MemoryPolicyStore {
    async fn load(&self, name: &str) -> Result<Option<StoredPolicy>, StoreError> {
        Ok(self.docs.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned())
    }

    async fn save(&self, name: &str, document: &str, now: u64) -> Result<u64, StoreError> {
        let mut docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        let version = docs.get(name).map_or(1, |d| d.version + 1);
        let doc = StoredPolicy {
            name: name.to_owned(),
            document: document.to_owned(),
            version,
            updated_at: now,
        };
        docs.insert(name.to_owned(), doc);
        Ok(version)
    }
}
