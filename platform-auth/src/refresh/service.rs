//! [`RefreshTokens`]: issue, rotate and revoke.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::store::{Family, RefreshStore, RotateOutcome, TokenRecord};
use crate::clock::Clock;
use crate::error::StoreError;
use crate::random::{sha256_hex, token_string};
use crate::revocation::Revocations;

/// A newly issued refresh token. The token is shown once; only its hash is stored.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuedRefresh {
    /// The opaque token to hand to the client.
    pub token: String,
    /// Its family (use as the `sid` of access tokens minted with it).
    pub family_id: String,
    /// The subject.
    pub subject: String,
    /// The granted scope.
    pub scope: String,
}

impl fmt::Debug for IssuedRefresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedRefresh")
            .field("token", &"<redacted>")
            .field("family_id", &self.family_id)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a refresh token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Unknown, expired or revoked token (OAuth `invalid_grant`).
    #[error("invalid refresh token")]
    Invalid,
    /// The token was already used: its family is now revoked.
    #[error("refresh token reuse detected; the session is revoked")]
    ReuseDetected,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Refresh-token issuing, rotation and revocation over a [`RefreshStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RefreshTokens {
    store: Arc<dyn RefreshStore>,
    ttl: Duration,
    family_lifetime: Duration,
    revocations: Option<Revocations>,
    clock: Clock,
}

impl RefreshTokens {
    /// Tokens in `store`: each valid 14 days unused, a family at most 30 days.
    pub fn new(store: impl RefreshStore + 'static) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store chosen at run time.
    pub fn from_shared(store: Arc<dyn RefreshStore>) -> Self {
        Self {
            store,
            ttl: Duration::from_secs(14 * 24 * 3600),
            family_lifetime: Duration::from_secs(30 * 24 * 3600),
            revocations: None,
            clock: Clock::system(),
        }
    }

    /// Sets the lifetime of one token (idle timeout).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the absolute lifetime of a family (re-login after it).
    pub fn family_lifetime(mut self, d: Duration) -> Self {
        self.family_lifetime = d;
        self
    }

    /// Also revokes the access tokens of revoked families (their `sid`) in `revocations`.
    pub fn with_revocations(mut self, revocations: Revocations) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Starts a family for `subject` with `scope` and returns its first token.
    pub async fn issue(&self, subject: &str, scope: &str) -> Result<IssuedRefresh, RefreshError> {
        self.start(subject, scope, None).await
    }

    /// Like [`issue`](Self::issue), binding the family to the OAuth client `client_id`.
    pub async fn issue_for_client(
        &self,
        client_id: &str,
        subject: &str,
        scope: &str,
    ) -> Result<IssuedRefresh, RefreshError> {
        self.start(subject, scope, Some(client_id)).await
    }

    /// The family of `token` (revoked and expired ones included); `None` when unknown.
    pub async fn family_of(&self, token: &str) -> Result<Option<Family>, RefreshError> {
        Ok(self.store.family_of(&sha256_hex(token.as_bytes())).await?)
    }

    async fn start(
        &self,
        subject: &str,
        scope: &str,
        client_id: Option<&str>,
    ) -> Result<IssuedRefresh, RefreshError> {
        let now = self.clock.now();
        let family = Family {
            id: token_string(16),
            subject: subject.to_owned(),
            scope: scope.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(self.family_lifetime.as_secs()),
            revoked_at: None,
            client_id: client_id.map(str::to_owned),
        };
        let token = new_token();
        let expires = now.saturating_add(self.ttl.as_secs()).min(family.expires_at);
        let record = TokenRecord::new(sha256_hex(token.as_bytes()), family.id.clone(), expires);
        self.store.create(&family, &record).await?;
        tracing::info!(target: "audit", event = "refresh_issued", sub = subject, family = %family.id, "refresh family started");
        Ok(IssuedRefresh {
            token,
            family_id: family.id,
            subject: family.subject,
            scope: family.scope,
        })
    }

    /// Exchanges `token` for the next one in its family.
    pub async fn rotate(&self, token: &str) -> Result<IssuedRefresh, RefreshError> {
        let now = self.clock.now();
        let next = new_token();
        let hash = sha256_hex(token.as_bytes());
        let expires = now.saturating_add(self.ttl.as_secs());
        // The family id of `next` is filled in by the store from the old token's family.
        let record = TokenRecord::new(sha256_hex(next.as_bytes()), String::new(), expires);
        match self.store.rotate(&hash, &record, now).await? {
            RotateOutcome::Rotated(f) => {
                tracing::info!(target: "audit", event = "token_refreshed", sub = %f.subject, family = %f.id, "refresh token rotated");
                Ok(IssuedRefresh {
                    token: next,
                    family_id: f.id,
                    subject: f.subject,
                    scope: f.scope,
                })
            }
            RotateOutcome::ReuseDetected(f) => {
                tracing::warn!(target: "audit", event = "refresh_reuse_detected", sub = %f.subject, family = %f.id, "refresh token reused; family revoked");
                self.revoke_sessions(&[f.id]).await?;
                Err(RefreshError::ReuseDetected)
            }
            RotateOutcome::Revoked(f) => {
                tracing::warn!(target: "audit", event = "refresh_refused", reason = "revoked", family = %f.id, "refresh token of a revoked family");
                Err(RefreshError::Invalid)
            }
            RotateOutcome::Expired | RotateOutcome::Unknown => {
                tracing::warn!(target: "audit", event = "refresh_refused", reason = "invalid", "unknown or expired refresh token");
                Err(RefreshError::Invalid)
            }
        }
    }

    /// Logout: revokes the family of `token`. `false` when the token is unknown.
    pub async fn revoke_token(&self, token: &str) -> Result<bool, RefreshError> {
        match self.family_of(token).await? {
            Some(f) => self.revoke_family(&f.id).await,
            None => Ok(false),
        }
    }

    /// Revokes a family (and, with revocations configured, its access tokens).
    pub async fn revoke_family(&self, family_id: &str) -> Result<bool, RefreshError> {
        let found = self.store.revoke_family(family_id, self.clock.now()).await?;
        if found {
            tracing::info!(target: "audit", event = "refresh_revoked", family = family_id, "refresh family revoked");
            self.revoke_sessions(&[family_id.to_owned()]).await?;
        }
        Ok(found)
    }

    /// Admin: revokes every family of `subject` (and, with revocations configured, every
    /// access token of `subject` issued until now).
    pub async fn revoke_subject(&self, subject: &str) -> Result<usize, RefreshError> {
        let ids = self.store.revoke_subject(subject, self.clock.now()).await?;
        tracing::info!(target: "audit", event = "refresh_revoked", sub = subject, families = ids.len(), "subject's refresh families revoked");
        if let Some(r) = &self.revocations {
            r.revoke_subject(subject).await?;
        }
        Ok(ids.len())
    }

    async fn revoke_sessions(&self, ids: &[String]) -> Result<(), StoreError> {
        if let Some(r) = &self.revocations {
            for id in ids {
                r.revoke_session(id).await?;
            }
        }
        Ok(())
    }
}

fn new_token() -> String {
    format!("rt_{}", token_string(32))
}
