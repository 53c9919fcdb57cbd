//! Why authentication failed: [`AuthError`], with its RFC 6750 error code.

use std::fmt;

/// Why a credential was refused.
///
/// Messages never contain the credential itself, so they are safe to log and to return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential was presented.
    #[error("no credentials presented")]
    Missing,
    /// The credential is not well formed (not three segments, bad base64, bad JSON, …).
    #[error("malformed credential: {0}")]
    Malformed(&'static str),
    /// The token's `alg` is not the algorithm its key is bound to (or is `none`).
    #[error("algorithm `{found}` is not allowed for this key")]
    AlgorithmMismatch {
        /// The header's algorithm, truncated to 16 characters.
        found: String,
    },
    /// No configured (or fetched) key matches the token's `kid`.
    #[error("no key matches the token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// The token or key has expired.
    #[error("credential expired")]
    Expired,
    /// The token's `nbf` lies in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// A claim is missing or has the wrong value or type.
    #[error("invalid claim `{0}`")]
    InvalidClaim(&'static str),
    /// The token, its session or its subject was revoked.
    #[error("credential revoked")]
    Revoked,
    /// The API key is unknown or its secret does not match.
    #[error("invalid API key")]
    InvalidApiKey,
    /// The key source or store is unavailable (the JWKS endpoint failed with nothing cached,
    /// the database is down). Not the caller's fault.
    #[error("authentication backend unavailable: {0}")]
    Unavailable(String),
}

/// The RFC 6750 §3.1 error code for a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengeCode {
    /// `invalid_request`: malformed request or credential.
    InvalidRequest,
    /// `invalid_token`: expired, revoked, malformed or otherwise invalid token.
    InvalidToken,
    /// `insufficient_scope`: the token lacks the required scope (403).
    InsufficientScope,
}

impl ChallengeCode {
    /// The code as written in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }
}

impl fmt::Display for ChallengeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AuthError {
    /// The RFC 6750 error code, or `None` when no credential was presented (RFC 6750 §3.1:
    /// a bare challenge without an error code).
    pub fn challenge_code(&self) -> Option<ChallengeCode> {
        match self {
            Self::Missing | Self::Unavailable(_) => None,
            Self::Malformed(_) => Some(ChallengeCode::InvalidRequest),
            _ => Some(ChallengeCode::InvalidToken),
        }
    }

    /// A short stable name for audit events and metrics (`expired`, `bad_signature`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed(_) => "malformed",
            Self::AlgorithmMismatch { .. } => "algorithm_mismatch",
            Self::UnknownKey => "unknown_key",
            Self::InvalidSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Revoked => "revoked",
            Self::InvalidApiKey => "invalid_api_key",
            Self::Unavailable(_) => "unavailable",
        }
    }

    pub(crate) fn alg_mismatch(found: &str) -> Self {
        Self::AlgorithmMismatch { found: found.chars().take(16).collect() }
    }
}

/// An error of a token, refresh or API-key store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[cfg(feature = "sql")]
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrating the schema failed.
    #[cfg(feature = "sql")]
    #[error("migration failed: {0}")]
    Migration(#[from] platform_core::store::StoreError),
    /// A stored value could not be decoded.
    #[error("corrupt stored value in `{0}`")]
    Corrupt(&'static str),
    /// A record with the same key already exists (e.g. `user "alice"`).
    #[error("{0} already exists")]
    Conflict(String),
    /// A record the operation refers to does not exist (e.g. `group "ops"`).
    #[error("{0} does not exist")]
    NotFound(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// A setting that cannot work, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth config `{field}`: {problem}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The field, e.g. `leeway`.
    pub field: &'static str,
    /// What is wrong and what to do.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self { field, problem: problem.into() }
    }
}
