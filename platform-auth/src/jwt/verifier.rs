//! [`Verifier`]: strict JWT verification.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use super::claims::Claims;
use super::header;
use super::source::KeySource;
use crate::clock::Clock;
use crate::error::AuthError;
use crate::revocation::Revocations;

/// The default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The default expected `typ` header: an OAuth 2.0 access token (RFC 9068).
pub const DEFAULT_TYP: &str = "at+jwt";

/// What a [`Verifier`] requires of a token.
///
/// Defaults are strict: `exp`, `iss`, `aud`, `sub` and `typ` are required, leeway is
/// [`DEFAULT_LEEWAY`], and the expected `typ` is [`DEFAULT_TYP`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// Accepted issuers (`iss` must be one of them).
    pub issuers: Vec<String>,
    /// The audience this service answers to (`aud` must contain it).
    pub audience: String,
    /// Expected `typ` header; `None` accepts any or none (not recommended: it lets an ID
    /// token or another kind of JWT signed by the same key pass as an access token).
    pub typ: Option<String>,
    /// Clock-skew allowance for `exp` and `nbf`.
    pub leeway: Duration,
    /// Whether `nbf` must be present.
    pub require_nbf: bool,
}

impl VerifierConfig {
    /// Strict defaults for tokens from `issuer` to `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuers: vec![issuer.into()],
            audience: audience.into(),
            typ: Some(DEFAULT_TYP.to_owned()),
            leeway: DEFAULT_LEEWAY,
            require_nbf: false,
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
    /// One prepared `Validation` per supported algorithm (built once, not per call).
    validations: [(Algorithm, Validation); 4],
    clock: Clock,
    revocations: Option<Revocations>,
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
        let v = |alg| (alg, validation(alg, &cfg));
        let validations =
            [v(Algorithm::HS256), v(Algorithm::RS256), v(Algorithm::ES256), v(Algorithm::EdDSA)];
        Self { inner: Arc::new(Inner { keys, cfg, validations, clock, revocations }) }
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
        let header = header::parse(token)?;
        let key = match self.inner.keys.resolve_now(header.kid.as_deref(), &header.alg) {
            Some(found) => found?,
            None => self.inner.keys.resolve(header.kid.as_deref(), &header.alg).await?,
        };
        let claims = self.check(token, &header, &key)?;
        if let Some(revocations) = &self.inner.revocations
            && revocations.is_revoked(&claims).await?
        {
            return Err(AuthError::Revoked);
        }
        Ok(claims)
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
        let validation = self
            .inner
            .validations
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
            .ok_or_else(|| AuthError::alg_mismatch(&header.alg))?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key.decoding(), validation).map_err(map_error)?;
        let claims = data.claims;
        let now = self.inner.clock.now();
        let leeway = cfg.leeway.as_secs();
        if now > claims.exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        match claims.nbf {
            Some(nbf) if nbf > now.saturating_add(leeway) => return Err(AuthError::NotYetValid),
            None if cfg.require_nbf => return Err(AuthError::InvalidClaim("nbf")),
            _ => {}
        }
        Ok(claims)
    }
}

fn validation(alg: Algorithm, cfg: &VerifierConfig) -> Validation {
    let mut v = Validation::new(alg);
    v.algorithms = vec![alg];
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.set_issuer(&cfg.issuers);
    v.set_audience(&[&cfg.audience]);
    v.validate_aud = true;
    // Time is checked by `Verifier::check` against its clock (exact leeway boundaries,
    // testable); the claim types are enforced by `Claims` (integers only).
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    v
}

fn map_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::Malformed("algorithm")
        }
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => {
            AuthError::InvalidClaim(static_claim(c))
        }
        ErrorKind::InvalidIssuer => AuthError::InvalidClaim("iss"),
        ErrorKind::InvalidAudience => AuthError::InvalidClaim("aud"),
        ErrorKind::InvalidSubject => AuthError::InvalidClaim("sub"),
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        // The signature verified, but the claims do not fit `Claims` (a string `exp`, …).
        ErrorKind::Json(_) => AuthError::InvalidClaim("claim types"),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            AuthError::Malformed("token encoding")
        }
        _ => AuthError::InvalidSignature,
    }
}

fn static_claim(c: &str) -> &'static str {
    match c {
        "exp" => "exp",
        "nbf" => "nbf",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        _ => "claim",
    }
}
