//! Revocation of access tokens across instances: [`Revocations`].
//!
//! A JWT stays valid until it expires unless verifiers check a shared list. Revoking
//! writes a record to a [`RevocationStore`] (in memory, or SQL shared by every instance);
//! each verifier loads the active records into an in-process snapshot and reloads it when
//! it is older than the refresh interval. **A revocation takes effect on every instance
//! within the refresh interval** (default [`DEFAULT_REFRESH`]), and at once on the
//! instance that revoked. Records expire with the tokens they concern, so the list stays
//! small.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use crate::clock::Clock;
use crate::error::{AuthError, StoreError};
use crate::jwt::Claims;

/// Default snapshot refresh interval: the bound on how long a revocation takes to reach
/// other instances.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// What a revocation record targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationKind {
    /// One token, by `jti`.
    Token,
    /// Every token of a session (`sid`, the refresh-token family).
    Session,
    /// Every token of a subject issued at or before the revocation (`iat <= at`).
    Subject,
}

impl RevocationKind {
    /// The stored name: `jti`, `sid` or `sub`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "jti",
            Self::Session => "sid",
            Self::Subject => "sub",
        }
    }

    /// The kind stored as `s` (the inverse of [`as_str`](Self::as_str)).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jti" => Some(Self::Token),
            "sid" => Some(Self::Session),
            "sub" => Some(Self::Subject),
            _ => None,
        }
    }
}

/// One revocation record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revocation {
    /// What is revoked.
    pub kind: RevocationKind,
    /// The `jti`, `sid` or `sub`.
    pub value: String,
    /// When it was revoked (Unix seconds).
    pub revoked_at: u64,
    /// When the record can be forgotten (every token it concerns has expired).
    pub expires_at: u64,
}

/// Storage of revocation records, shared by every instance.
#[async_trait]
pub trait RevocationStore: Send + Sync + std::fmt::Debug {
    /// Records (or refreshes) a revocation.
    async fn revoke(&self, r: &Revocation) -> Result<(), StoreError>;
    /// The records not expired at `now`.
    async fn active(&self, now: u64) -> Result<Vec<Revocation>, StoreError>;
}

/// In-memory [`RevocationStore`] (one process; the reference backend).
#[derive(Debug, Default, Clone)]
pub struct MemoryRevocationStore {
    records: Arc<std::sync::Mutex<Vec<Revocation>>>,
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, r: &Revocation) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.retain(|x| !(x.kind == r.kind && x.value == r.value));
        records.push(r.clone());
        Ok(())
    }

    async fn active(&self, now: u64) -> Result<Vec<Revocation>, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.retain(|x| x.expires_at > now);
        Ok(records.clone())
    }
}

#[derive(Debug, Default)]
struct Snapshot {
    /// Unix seconds of the load.
    loaded_at: Option<u64>,
    tokens: HashSet<String>,
    sessions: HashSet<String>,
    subjects: HashMap<String, u64>,
}

impl Snapshot {
    fn from_records(records: Vec<Revocation>, loaded_at: u64) -> Self {
        let mut s = Self { loaded_at: Some(loaded_at), ..Self::default() };
        for r in records {
            s.add(r);
        }
        s
    }

    fn add(&mut self, r: Revocation) {
        match r.kind {
            RevocationKind::Token => {
                self.tokens.insert(r.value);
            }
            RevocationKind::Session => {
                self.sessions.insert(r.value);
            }
            RevocationKind::Subject => {
                let at = self.subjects.entry(r.value).or_default();
                *at = (*at).max(r.revoked_at);
            }
        }
    }

    fn revokes(&self, c: &Claims) -> bool {
        c.jti.as_ref().is_some_and(|j| self.tokens.contains(j))
            || c.sid.as_ref().is_some_and(|s| self.sessions.contains(s))
            || self.subjects.get(&c.sub).is_some_and(|at| c.iat.is_none_or(|iat| iat <= *at))
    }
}

/// Revocation checks with a periodically reloaded snapshot. Cheap to clone.
///
/// Fails closed: when the snapshot is due for a reload and the store fails, verification
/// fails with [`AuthError::Unavailable`].
#[derive(Debug, Clone)]
pub struct Revocations {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn RevocationStore>,
    refresh: Duration,
    /// Longest token lifetime: how long records are kept.
    retain: Duration,
    clock: Clock,
    snapshot: ArcSwap<Snapshot>,
    loading: tokio::sync::Mutex<()>,
}

impl Revocations {
    /// Checks against `store`, reloading at most every [`DEFAULT_REFRESH`]. Records are
    /// kept for 24 hours (set [`retain`](Self::retain) to your longest token lifetime).
    pub fn new(store: impl RevocationStore + 'static) -> Self {
        Self::build(
            Arc::new(store),
            DEFAULT_REFRESH,
            Duration::from_secs(24 * 3600),
            Clock::system(),
        )
    }

    fn build(
        store: Arc<dyn RevocationStore>,
        refresh: Duration,
        retain: Duration,
        clock: Clock,
    ) -> Self {
        let snapshot = ArcSwap::from_pointee(Snapshot::default());
        let loading = tokio::sync::Mutex::new(());
        Self { inner: Arc::new(Inner { store, refresh, retain, clock, snapshot, loading }) }
    }

    /// Sets the refresh interval (whole seconds; the wall clock): the propagation bound
    /// across instances.
    pub fn refresh_every(self, refresh: Duration) -> Self {
        let i = &self.inner;
        Self::build(i.store.clone(), refresh, i.retain, i.clock.clone())
    }

    /// Sets how long records are kept (at least the longest access-token lifetime).
    pub fn retain(self, retain: Duration) -> Self {
        let i = &self.inner;
        Self::build(i.store.clone(), i.refresh, retain, i.clock.clone())
    }

    /// Replaces the wall clock (tests).
    pub fn with_clock(self, clock: Clock) -> Self {
        let i = &self.inner;
        Self::build(i.store.clone(), i.refresh, i.retain, clock)
    }

    /// Revokes one token by `jti`.
    pub async fn revoke_token(&self, jti: &str) -> Result<(), StoreError> {
        self.revoke(RevocationKind::Token, jti).await
    }

    /// Revokes every token of session `sid`.
    pub async fn revoke_session(&self, sid: &str) -> Result<(), StoreError> {
        self.revoke(RevocationKind::Session, sid).await
    }

    /// Revokes every token of `sub` issued up to now.
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), StoreError> {
        self.revoke(RevocationKind::Subject, sub).await
    }

    async fn revoke(&self, kind: RevocationKind, value: &str) -> Result<(), StoreError> {
        let now = self.inner.clock.now();
        let r = Revocation {
            kind,
            value: value.to_owned(),
            revoked_at: now,
            expires_at: now.saturating_add(self.inner.retain.as_secs()),
        };
        self.inner.store.revoke(&r).await?;
        tracing::info!(target: "audit", event = "token_revoked", kind = kind.as_str(), value, "revoked");
        // Visible here at once; elsewhere within the refresh interval.
        self.inner.snapshot.rcu(|s| {
            let mut next = Snapshot {
                loaded_at: s.loaded_at,
                tokens: s.tokens.clone(),
                sessions: s.sessions.clone(),
                subjects: s.subjects.clone(),
            };
            next.add(r.clone());
            next
        });
        Ok(())
    }

    /// Whether `claims` are revoked, reloading the snapshot when it is due.
    pub async fn is_revoked(&self, claims: &Claims) -> Result<bool, AuthError> {
        let snap = self.inner.snapshot.load();
        if self.is_current(&snap) {
            return Ok(snap.revokes(claims));
        }
        drop(snap);
        let _one = self.inner.loading.lock().await;
        let snap = self.inner.snapshot.load_full();
        if self.is_current(&snap) {
            return Ok(snap.revokes(claims));
        }
        let started = self.inner.clock.now();
        let records = self.inner.store.active(started).await?;
        let fresh = Snapshot::from_records(records, started);
        let revoked = fresh.revokes(claims);
        self.inner.snapshot.store(Arc::new(fresh));
        Ok(revoked)
    }

    fn is_current(&self, snap: &Snapshot) -> bool {
        let now = self.inner.clock.now();
        snap.loaded_at.is_some_and(|t| now.saturating_sub(t) < self.inner.refresh.as_secs())
    }
}
