//! [`Issuer`]: signs access tokens with a [`KeySet`]'s signing key.

use std::time::Duration;

use jsonwebtoken::Header;

use super::claims::{Audience, Claims};
use super::keyset::KeySet;
use super::verifier::DEFAULT_TYP;
use crate::clock::Clock;

/// The default access-token lifetime.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The key set has no signing key (all retired).
    #[error("the key set has no signing key")]
    NoSigningKey,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

/// Issues signed access tokens: `iss`, `aud`, `sub`, `exp`, `iat`, `nbf`, a random `jti`,
/// and the header `typ` ([`DEFAULT_TYP`]) and `kid`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Issuer {
    keys: KeySet,
    iss: String,
    aud: String,
    ttl: Duration,
    typ: String,
    clock: Clock,
}

impl Issuer {
    /// An issuer named `iss` minting tokens for `aud` with `keys`' signing key.
    pub fn new(keys: KeySet, iss: impl Into<String>, aud: impl Into<String>) -> Self {
        Self {
            keys,
            iss: iss.into(),
            aud: aud.into(),
            ttl: DEFAULT_TTL,
            typ: DEFAULT_TYP.to_owned(),
            clock: Clock::system(),
        }
    }

    /// Sets the token lifetime (default [`DEFAULT_TTL`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the `typ` header (default [`DEFAULT_TYP`]).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = typ.into();
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The issuer name (`iss`).
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// The audience of its tokens (`aud`).
    pub fn audience(&self) -> &str {
        &self.aud
    }

    /// The token lifetime.
    pub fn lifetime(&self) -> Duration {
        self.ttl
    }

    /// Claims for `sub` with `scopes`, issued now, before signing (add claims, then
    /// [`sign`](Self::sign)).
    pub fn claims(&self, sub: impl Into<String>, scopes: &[&str]) -> Claims {
        let now = self.clock.now();
        let mut c = Claims::new(&self.iss, sub, &self.aud, now.saturating_add(self.ttl.as_secs()));
        c.aud = Audience::One(self.aud.clone());
        c.iat = Some(now);
        c.nbf = Some(now);
        c.jti = Some(crate::random::token_string(16));
        if !scopes.is_empty() {
            c.scope = Some(scopes.join(" "));
        }
        c
    }

    /// Issues a token for `sub` with `scopes`.
    pub fn issue(&self, sub: impl Into<String>, scopes: &[&str]) -> Result<String, IssueError> {
        self.sign(&self.claims(sub, scopes))
    }

    /// Signs `claims` as they are.
    pub fn sign(&self, claims: &Claims) -> Result<String, IssueError> {
        let key = self.keys.signing_key().ok_or(IssueError::NoSigningKey)?;
        let enc = key.encoding().ok_or(IssueError::NoSigningKey)?;
        let mut header = Header::new(key.algorithm());
        header.kid = Some(key.kid().to_owned());
        header.typ = Some(self.typ.clone());
        let token = jsonwebtoken::encode(&header, claims, enc)?;
        tracing::info!(
            target: "audit",
            event = "token_issued",
            sub = %claims.sub,
            jti = claims.jti.as_deref().unwrap_or(""),
            kid = key.kid(),
            "access token issued"
        );
        Ok(token)
    }
}
