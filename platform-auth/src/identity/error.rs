//! [`IdentityError`] and [`LoginError`].

use std::time::Duration;

use crate::error::StoreError;

/// Why an identity operation (creating users, setting passwords, granting roles) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A name (username, group, role) is not acceptable.
    #[error("invalid {field} `{value}`: {problem}")]
    InvalidName {
        /// What was named: `username`, `group` or `role`.
        field: &'static str,
        /// The offending value, truncated to 64 characters.
        value: String,
        /// What is wrong and what is allowed.
        problem: &'static str,
    },
    /// The new password does not meet the length policy.
    #[error("password rejected: {0}")]
    WeakPassword(String),
    /// The store failed, or a record exists already or is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed (the blocking pool shut down, or argon2 refused its input).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Why a login was refused.
///
/// The variants are what a caller may tell the client: an unknown user, a wrong
/// password, a disabled account and an account without a password are all
/// [`InvalidCredentials`](Self::InvalidCredentials); the audit event says which.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Unknown user or wrong password (deliberately the same).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failed attempts for this username or source address: try again later.
    #[error("too many failed login attempts; retry in {} s", retry_after.as_secs())]
    Locked {
        /// When the next attempt will be considered.
        retry_after: Duration,
    },
    /// The store or the hasher is unavailable; not the caller's fault.
    #[error("login unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<IdentityError> for LoginError {
    fn from(e: IdentityError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
