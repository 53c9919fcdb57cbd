//! [`ApiKeyStore`] and the in-memory backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::StoreError;

/// A stored API key: the secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeyRecord {
    /// The public id (part of the key, used for lookup).
    pub id: String,
    /// A name for people (`ci deploy key`).
    pub name: String,
    /// The owner: the principal's subject.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// SHA-256 of the secret part, lowercase hex.
    pub secret_hash: String,
    /// Creation time (Unix seconds).
    pub created_at: u64,
    /// Expiry (Unix seconds), if any.
    pub expires_at: Option<u64>,
    /// Last successful use (Unix seconds; updated at most once a minute).
    pub last_used_at: Option<u64>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<u64>,
}

/// Storage of API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + std::fmt::Debug {
    /// Stores a new key.
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// The key with `id`.
    async fn get(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Records a use at `at`.
    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError>;
    /// Revokes; `false` when unknown.
    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError>;
    /// The keys of `subject`.
    async fn list(&self, subject: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
}

/// In-memory [`ApiKeyStore`] (one process; the reference backend).
#[derive(Debug, Default, Clone)]
pub struct MemoryApiKeyStore {
    keys: Arc<Mutex<HashMap<String, ApiKeyRecord>>>,
}

impl MemoryApiKeyStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ApiKeyRecord>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ApiKeyStore for MemoryApiKeyStore {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.lock().insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        if let Some(k) = self.lock().get_mut(id) {
            k.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError> {
        Ok(self.lock().get_mut(id).map(|k| k.revoked_at = k.revoked_at.or(Some(at))).is_some())
    }

    async fn list(&self, subject: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut out: Vec<_> =
            self.lock().values().filter(|k| k.subject == subject).cloned().collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}
