//! [`Verifier`]: strict JWT verification.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Key;
use super::claims::Claims;
use super::header;
use super::source::KeySource;
use crate::clock::Clock;
use crate::error::{AuthError, ConfigError};
use crate::revocation::Revocations;

/// The default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The default expected `typ` header: an OAuth 2.0 access token (RFC 9068).
pub const DEFAULT_TYP: &str = "at+jwt";

/// What a [`Verifier`] requires of a token.
///
/// Defaults are strict: `exp`, `iss`, `aud`, `sub` and `typ` are required, leeway is
/// [`DEFAULT_LEEWAY`], and the expected `typ` is [`DEFAULT_TYP`]. From a config file:
///
/// ```
/// use platform_auth::jwt::VerifierConfig;
///
/// let cfg: VerifierConfig = serde_json::from_str(
///     r#"{"issuers": ["https://auth.example"], "audience": "orders", "leeway": "10s"}"#,
/// ).unwrap();
/// assert_eq!(cfg.typ.as_deref(), Some("at+jwt"));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// Accepted issuers (`iss` must be one of them).
    pub issuers: Vec<String>,
    /// The audience this service answers to (`aud` must contain it).
    pub audience: String,
    /// Expected `typ` header; `None` (`null`) accepts any or none (not recommended: it
    /// lets an ID token or another kind of JWT signed by the same key pass as an access
    /// token).
    #[serde(default = "default_typ")]
    pub typ: Option<String>,
    /// Clock-skew allowance for `exp` and `nbf` (`"30s"`); at most 5 minutes.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Whether `nbf` must be present.
    #[serde(default)]
    pub require_nbf: bool,
    /// How many verified tokens to remember (default 10 000; `0` turns the cache off).
    ///
    /// A token presented again — a client sends the same access token with every
    /// request — skips its signature check and JSON parsing. A remembered token is
    /// still refused as soon as the key that verified it is no longer the key its
    /// header selects (retired, rotated out, replaced), when `exp` or `nbf` fail at the
    /// time of use, and by revocation, which is checked on every use. Entries are kept
    /// at most [`TOKEN_CACHE_TTL`] and matched on the token's exact text.
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: u64,
}

/// The longest a verified token is remembered (see [`VerifierConfig::cache_capacity`]).
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(300);

/// The default [`VerifierConfig::cache_capacity`].
pub const DEFAULT_TOKEN_CACHE_CAPACITY: u64 = 10_000;

fn default_cache_capacity() -> u64 {
    DEFAULT_TOKEN_CACHE_CAPACITY
}

fn default_typ() -> Option<String> {
    Some(DEFAULT_TYP.to_owned())
}

fn default_leeway() -> Duration {
    DEFAULT_LEEWAY
}

/// The largest leeway [`VerifierConfig::validate`] accepts.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

impl VerifierConfig {
    /// Strict defaults for tokens from `issuer` to `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuers: vec![issuer.into()],
            audience: audience.into(),
            typ: Some(DEFAULT_TYP.to_owned()),
            leeway: DEFAULT_LEEWAY,
            require_nbf: false,
            cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
        }
    }

    /// Sets the expected `typ` (`None` disables the check).
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Sets the leeway.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires an `nbf` claim.
    pub fn require_nbf(mut self, yes: bool) -> Self {
        self.require_nbf = yes;
        self
    }

    /// Sets how many verified tokens are remembered (`0`: none); see
    /// [`cache_capacity`](Self::cache_capacity).
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Checks the settings: at least one non-empty issuer, a non-empty audience, leeway
    /// at most 5 minutes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.issuers.is_empty() || self.issuers.iter().any(String::is_empty) {
            return Err(ConfigError::new("issuers", "name at least one issuer; none may be empty"));
        }
        if self.audience.is_empty() {
            return Err(ConfigError::new("audience", "name the audience this service answers to"));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                "leeway",
                format!("{:?} extends every token's life; use at most {MAX_LEEWAY:?}", self.leeway),
            ));
        }
        Ok(())
    }
}

/// Verifies JWTs against a [`KeySource`] ([`KeySet`](super::KeySet) or
/// [`RemoteJwks`](super::RemoteJwks)). Cheap to clone.
///
/// Order of checks: shape and header (three segments, non-empty signature, no `none`, no
/// `crit`), key selection by `kid` among known keys, `alg` equal to the key's algorithm,
/// `typ`, signature, claim presence and types, `iss`, `aud`, `exp`/`nbf` with leeway, then
/// revocation when configured.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keys: Arc<dyn KeySource>,
    cfg: VerifierConfig,
    clock: Clock,
    revocations: Option<Revocations>,
    /// Verified tokens by their text; `None` when the capacity is 0.
    cache: Option<Cache<Arc<str>, Arc<Verified>, foldhash::fast::RandomState>>,
}

/// A token that passed every check but revocation, and what its reuse is checked
/// against.
#[derive(Debug)]
struct Verified {
    claims: Arc<Claims>,
    /// The key that verified it: a reuse must resolve to this very key.
    key: Arc<Key>,
    kid: Option<String>,
    alg: String,
}

impl Verifier {
    /// A verifier of tokens signed by `keys` under `cfg`.
    pub fn new(keys: impl KeySource + 'static, cfg: VerifierConfig) -> Self {
        Self::from_parts(Arc::new(keys), cfg, Clock::system(), None)
    }

    fn from_parts(
        keys: Arc<dyn KeySource>,
        cfg: VerifierConfig,
        clock: Clock,
        revocations: Option<Revocations>,
    ) -> Self {
        let cache = (cfg.cache_capacity > 0).then(|| {
            // Tokens are a few hundred bytes: SipHash over them cost more than the rest
            // of a lookup. foldhash is seeded per cache, and only verified tokens are
            // ever inserted.
            Cache::builder()
                .max_capacity(cfg.cache_capacity)
                .time_to_live(TOKEN_CACHE_TTL)
                .build_with_hasher(foldhash::fast::RandomState::default())
        });
        Self { inner: Arc::new(Inner { keys, cfg, clock, revocations, cache }) }
    }

    /// Replaces the clock used for `exp` and `nbf` (tests).
    pub fn with_clock(self, clock: Clock) -> Self {
        let i = &self.inner;
        Self::from_parts(i.keys.clone(), i.cfg.clone(), clock, i.revocations.clone())
    }

    /// Also rejects revoked tokens, sessions and subjects (see [`Revocations`]).
    pub fn with_revocations(self, revocations: Revocations) -> Self {
        let i = &self.inner;
        Self::from_parts(i.keys.clone(), i.cfg.clone(), i.clock.clone(), Some(revocations))
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.inner.cfg
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_shared(token).await.map(Arc::unwrap_or_clone)
    }

    /// [`verify`](Self::verify), returning the claims shared: a token remembered by the
    /// cache (see [`VerifierConfig::cache_capacity`]) is not copied.
    pub async fn verify_shared(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        let claims = match self.remembered(token) {
            Some(claims) => claims,
            None => {
                let header = header::parse(token)?;
                let key = match self.inner.keys.resolve_now(header.kid.as_deref(), &header.alg) {
                    Some(found) => found?,
                    None => self.inner.keys.resolve(header.kid.as_deref(), &header.alg).await?,
                };
                let claims = Arc::new(self.check(token, &header, &key)?);
                if let Some(cache) = &self.inner.cache {
                    let header::RawHeader { kid, alg, .. } = header;
                    let verified = Verified { claims: claims.clone(), key, kid, alg };
                    cache.insert(Arc::from(token), Arc::new(verified));
                }
                claims
            }
        };
        if let Some(revocations) = &self.inner.revocations
            && revocations.is_revoked(&claims).await?
        {
            return Err(AuthError::Revoked);
        }
        Ok(claims)
    }

    /// The claims of `token` when it was verified before and still stands: the key
    /// its header selects is the one that verified it, and its times hold now.
    /// Anything else goes through the full check (which says what is wrong).
    fn remembered(&self, token: &str) -> Option<Arc<Claims>> {
        let cache = self.inner.cache.as_ref()?;
        let hit = cache.get(token)?;
        let current = self.inner.keys.resolve_now(hit.kid.as_deref(), &hit.alg)?.ok()?;
        if !Arc::ptr_eq(&current, &hit.key) {
            cache.invalidate(token);
            return None;
        }
        self.check_times(&hit.claims).ok()?;
        Some(hit.claims.clone())
    }

    fn check(
        &self,
        token: &str,
        header: &header::RawHeader,
        key: &super::Key,
    ) -> Result<Claims, AuthError> {
        let alg = key.algorithm();
        // Exact, case-sensitive: the key decides the algorithm, never the token.
        if header.alg != super::alg_name(alg) {
            return Err(AuthError::alg_mismatch(&header.alg));
        }
        let cfg = &self.inner.cfg;
        if let Some(expected) = &cfg.typ {
            match &header.typ {
                Some(found) if header::typ_matches(found, expected) => {}
                _ => return Err(AuthError::InvalidClaim("typ")),
            }
        }
        // `parse` checked the shape: three non-empty segments.
        let (message, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed("shape"))?;
        let valid = match key.hmac() {
            Some(keyed) => hmac_valid(keyed, message, signature),
            None => {
                jsonwebtoken::crypto::verify(signature, message.as_bytes(), key.decoding(), alg)
                    .map_err(|_| AuthError::InvalidSignature)?
            }
        };
        if !valid {
            return Err(AuthError::InvalidSignature);
        }
        let payload = message.split_once('.').map_or("", |(_, p)| p);
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthError::Malformed("payload is not base64url"))?;
        // Strict types: `Claims` requires `iss`, `sub`, `aud`, `exp` and takes dates as
        // unsigned integers only.
        let claims: Claims = serde_json::from_slice(&json).map_err(|e| claim_error(&e))?;
        if !cfg.issuers.contains(&claims.iss) {
            return Err(AuthError::InvalidClaim("iss"));
        }
        if !claims.aud.contains(&cfg.audience) {
            return Err(AuthError::InvalidClaim("aud"));
        }
        self.check_times(&claims)?;
        Ok(claims)
    }

    /// `exp` and `nbf` against the clock, with the leeway.
    fn check_times(&self, claims: &Claims) -> Result<(), AuthError> {
        let cfg = &self.inner.cfg;
        let now = self.inner.clock.now();
        let leeway = cfg.leeway.as_secs();
        if now > claims.exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        match claims.nbf {
            Some(nbf) if nbf > now.saturating_add(leeway) => Err(AuthError::NotYetValid),
            None if cfg.require_nbf => Err(AuthError::InvalidClaim("nbf")),
            _ => Ok(()),
        }
    }
}

/// Whether `signature` (base64url) is the HMAC of `message` under the `keyed` secret,
/// compared in constant time.
fn hmac_valid(keyed: &Hmac<Sha256>, message: &str, signature: &str) -> bool {
    // Room for the decoder's rounded-up estimate of a 32-byte tag; a longer signature
    // does not fit and is not a valid HS256 tag.
    let mut tag = [0u8; 36];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut tag) {
        Ok(32) => {}
        _ => return false,
    }
    let mut mac = keyed.clone();
    mac.update(message.as_bytes());
    mac.verify_slice(&tag[..32]).is_ok()
}

/// Names the registered claim a deserialisation error is about, when it names one.
fn claim_error(e: &serde_json::Error) -> AuthError {
    let msg = e.to_string();
    let claim = ["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid", "scope"]
        .into_iter()
        .find(|c| msg.contains(&format!("`{c}`")))
        .unwrap_or("claim types");
    AuthError::InvalidClaim(claim)
}
