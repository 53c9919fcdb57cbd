//! [`RefreshStore`]: where refresh-token families live, and the in-memory backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::StoreError;

/// A refresh-token family: every token rotated from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Family {
    /// Family id (also the `sid` of access tokens minted from it).
    pub id: String,
    /// The subject.
    pub subject: String,
    /// Granted scope (space-separated).
    pub scope: String,
    /// Creation time (Unix seconds).
    pub created_at: u64,
    /// Absolute end of the family: no rotation extends it.
    pub expires_at: u64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<u64>,
    /// The OAuth client the family was issued to, if any (the token server checks that
    /// only this client refreshes or revokes it).
    pub client_id: Option<String>,
}

/// One stored refresh token: only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRecord {
    /// SHA-256 of the token, lowercase hex.
    pub hash: String,
    /// The family.
    pub family_id: String,
    /// Expiry (Unix seconds).
    pub expires_at: u64,
}

impl TokenRecord {
    /// A record.
    pub fn new(hash: String, family_id: String, expires_at: u64) -> Self {
        Self { hash, family_id, expires_at }
    }
}

/// What [`RefreshStore::rotate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateOutcome {
    /// The token was current: it is now rotated and the new token stored.
    Rotated(Family),
    /// The token was already rotated (a replay, or the loser of a race): the family is
    /// now revoked.
    ReuseDetected(Family),
    /// The family was already revoked.
    Revoked(Family),
    /// The token or its family expired.
    Expired,
    /// No such token.
    Unknown,
}

/// Storage of refresh-token families. Every method is atomic: two concurrent
/// [`rotate`](Self::rotate) calls on one token give exactly one
/// [`RotateOutcome::Rotated`].
#[async_trait]
pub trait RefreshStore: Send + Sync + std::fmt::Debug {
    /// Stores a new family and its first token.
    async fn create(&self, family: &Family, first: &TokenRecord) -> Result<(), StoreError>;
    /// Marks `old_hash` rotated and stores `next` in its family, or detects reuse (then
    /// revokes the family at `now`).
    async fn rotate(
        &self,
        old_hash: &str,
        next: &TokenRecord,
        now: u64,
    ) -> Result<RotateOutcome, StoreError>;
    /// The family of the token with `hash`.
    async fn family_of(&self, hash: &str) -> Result<Option<Family>, StoreError>;
    /// Revokes a family; `false` when unknown.
    async fn revoke_family(&self, family_id: &str, now: u64) -> Result<bool, StoreError>;
    /// Revokes every family of `subject`; returns their ids.
    async fn revoke_subject(&self, subject: &str, now: u64) -> Result<Vec<String>, StoreError>;
}

#[derive(Debug, Default)]
struct Tables {
    families: HashMap<String, Family>,
    /// hash → (family id, expires_at, rotated)
    tokens: HashMap<String, (String, u64, bool)>,
}

/// In-memory [`RefreshStore`]: one process, the reference backend.
#[derive(Debug, Default, Clone)]
pub struct MemoryRefreshStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryRefreshStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl RefreshStore for MemoryRefreshStore {
    async fn create(&self, family: &Family, first: &TokenRecord) -> Result<(), StoreError> {
        let mut t = self.lock();
        t.families.insert(family.id.clone(), family.clone());
        t.tokens.insert(first.hash.clone(), (family.id.clone(), first.expires_at, false));
        Ok(())
    }

    async fn rotate(
        &self,
        old_hash: &str,
        next: &TokenRecord,
        now: u64,
    ) -> Result<RotateOutcome, StoreError> {
        let mut t = self.lock();
        let Some((fid, expires_at, rotated)) = t.tokens.get(old_hash).cloned() else {
            return Ok(RotateOutcome::Unknown);
        };
        let Some(family) = t.families.get_mut(&fid) else { return Ok(RotateOutcome::Unknown) };
        if family.revoked_at.is_some() {
            return Ok(RotateOutcome::Revoked(family.clone()));
        }
        if rotated {
            family.revoked_at = Some(now);
            return Ok(RotateOutcome::ReuseDetected(family.clone()));
        }
        if now >= expires_at || now >= family.expires_at {
            return Ok(RotateOutcome::Expired);
        }
        let family = family.clone();
        t.tokens.insert(old_hash.to_owned(), (fid.clone(), expires_at, true));
        let exp = next.expires_at.min(family.expires_at);
        t.tokens.insert(next.hash.clone(), (fid, exp, false));
        Ok(RotateOutcome::Rotated(family))
    }

    async fn family_of(&self, hash: &str) -> Result<Option<Family>, StoreError> {
        let t = self.lock();
        Ok(t.tokens.get(hash).and_then(|(fid, _, _)| t.families.get(fid)).cloned())
    }

    async fn revoke_family(&self, family_id: &str, now: u64) -> Result<bool, StoreError> {
        let mut t = self.lock();
        Ok(t.families
            .get_mut(family_id)
            .map(|f| f.revoked_at = f.revoked_at.or(Some(now)))
            .is_some())
    }

    async fn revoke_subject(&self, subject: &str, now: u64) -> Result<Vec<String>, StoreError> {
        let mut t = self.lock();
        let mut ids = Vec::new();
        for f in t.families.values_mut().filter(|f| f.subject == subject) {
            f.revoked_at = f.revoked_at.or(Some(now));
            ids.push(f.id.clone());
        }
        Ok(ids)
    }
}
