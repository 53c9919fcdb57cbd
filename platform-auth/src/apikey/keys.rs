//! [`ApiKeys`]: create, verify and revoke.

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::store::{ApiKeyRecord, ApiKeyStore};
use crate::clock::Clock;
use crate::error::{AuthError, StoreError};
use crate::principal::{CredentialKind, Principal};
use crate::random::{sha256_hex, token_string};

const ID_LEN: usize = 16;
/// base64url of 32 bytes, unpadded.
const SECRET_LEN: usize = 43;

/// What to create with [`ApiKeys::create`].
#[derive(Debug, Clone)]
pub struct NewApiKey {
    name: String,
    subject: String,
    scopes: Vec<String>,
    ttl: Option<Duration>,
}

impl NewApiKey {
    /// A key called `name` acting as `subject`, no scopes, no expiry.
    pub fn new(name: impl Into<String>, subject: impl Into<String>) -> Self {
        Self { name: name.into(), subject: subject.into(), scopes: Vec::new(), ttl: None }
    }

    /// Grants `scopes`.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Expires the key after `ttl`.
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// API-key management and verification over an [`ApiKeyStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    prefix: String,
    touch_every: u64,
    clock: Clock,
}

impl ApiKeys {
    /// Keys in `store` with the prefix `pk`.
    pub fn new(store: impl ApiKeyStore + 'static) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store chosen at run time.
    pub fn from_shared(store: Arc<dyn ApiKeyStore>) -> Self {
        Self { store, prefix: "pk".to_owned(), touch_every: 60, clock: Clock::system() }
    }

    /// Sets the prefix (e.g. `sk_live`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ApiKeyStore> {
        &self.store
    }

    /// Creates a key; returns the plaintext (shown once, never stored) and the record.
    pub async fn create(&self, new: NewApiKey) -> Result<(String, ApiKeyRecord), StoreError> {
        let now = self.clock.now();
        let id = hex_id();
        let secret = token_string(32);
        let record = ApiKeyRecord {
            id: id.clone(),
            name: new.name,
            subject: new.subject,
            scopes: new.scopes,
            secret_hash: sha256_hex(secret.as_bytes()),
            created_at: now,
            expires_at: new.ttl.map(|t| now.saturating_add(t.as_secs())),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.insert(&record).await?;
        tracing::info!(target: "audit", event = "api_key_created", key_id = %id, sub = %record.subject, "API key created");
        Ok((format!("{}_{id}_{secret}", self.prefix), record))
    }

    /// Revokes the key `id`; `false` when unknown.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let found = self.store.revoke(id, self.clock.now()).await?;
        tracing::info!(target: "audit", event = "api_key_revoked", key_id = id, found, "API key revoked");
        Ok(found)
    }

    /// Verifies a presented key and returns its principal.
    pub async fn verify(&self, presented: &str) -> Result<Principal, AuthError> {
        let (id, secret) = self.parse(presented).ok_or(AuthError::InvalidApiKey)?;
        let record = self.store.get(id).await?;
        let presented_hash = sha256_hex(secret.as_bytes());
        // Compare even when the id is unknown, so both paths cost the same.
        let stored =
            record.as_ref().map_or(crate::random::DUMMY_SHA256_HEX, |r| r.secret_hash.as_str());
        let matches: bool = presented_hash.as_bytes().ct_eq(stored.as_bytes()).into();
        let record = match record {
            Some(r) if matches => r,
            _ => return Err(AuthError::InvalidApiKey),
        };
        let now = self.clock.now();
        if record.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        if record.expires_at.is_some_and(|e| now >= e) {
            return Err(AuthError::Expired);
        }
        if record.last_used_at.is_none_or(|t| now.saturating_sub(t) >= self.touch_every) {
            self.store.touch(&record.id, now).await?;
        }
        tracing::info!(target: "audit", event = "api_key_used", key_id = %record.id, sub = %record.subject, "API key used");
        let mut p = Principal::new(record.subject, CredentialKind::ApiKey, record.scopes);
        p.key_id = Some(record.id);
        Ok(p)
    }

    fn parse<'a>(&self, presented: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = presented.strip_prefix(self.prefix.as_str())?.strip_prefix('_')?;
        let (id, rest) = (rest.get(..ID_LEN)?, rest.get(ID_LEN..)?);
        let secret = rest.strip_prefix('_')?;
        let ok = id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == SECRET_LEN;
        ok.then_some((id, secret))
    }
}

fn hex_id() -> String {
    let bytes = crate::random::bytes::<8>();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
