//! Refresh tokens: opaque, hashed at rest, organised in families with rotation and reuse
//! detection.
//!
//! A login creates a *family* and its first token. Each use rotates: the presented token
//! is marked used and a new one is returned. Presenting a token that was already rotated
//! means two parties hold it (a stolen token, or a client that replayed): the whole
//! family is revoked — the thief's and the owner's tokens alike — and the owner logs in
//! again. Other families (other devices) of the same subject are not touched. Two
//! concurrent rotations of one token are treated the same way: exactly one wins and the
//! loser's attempt revokes the family.
//!
//! Tokens are `rt_` + 256 random bits (base64url) from the OS CSPRNG; only their SHA-256
//! is stored (a 256-bit random secret needs no salt or slow hash).
//!
//! ```
//! use platform_auth::refresh::{MemoryRefreshStore, RefreshError, RefreshTokens};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = RefreshTokens::new(MemoryRefreshStore::default());
//! let first = tokens.issue("alice", "orders:read").await?;
//! let second = tokens.rotate(&first.token).await?;
//! // Replaying the rotated token revokes the family…
//! assert!(matches!(tokens.rotate(&first.token).await, Err(RefreshError::ReuseDetected)));
//! // …so the newest token is dead too.
//! assert!(tokens.rotate(&second.token).await.is_err());
//! # Ok(()) }
//! ```

mod service;
mod store;

pub use service::{IssuedRefresh, RefreshError, RefreshTokens};
pub use store::{Family, MemoryRefreshStore, RefreshStore, RotateOutcome, TokenRecord};
