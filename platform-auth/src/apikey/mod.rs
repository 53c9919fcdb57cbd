//! API keys: `<prefix>_<id>_<secret>`, stored hashed, compared in constant time, with
//! scopes, expiry, last-used time and revocation.
//!
//! The id (16 hex characters) is public and finds the record; the secret (256 random
//! bits, base64url) is checked against its stored SHA-256 with a constant-time
//! comparison. The prefix (`pk` by default) makes leaked keys easy to recognise for
//! secret scanners.
//!
//! ```
//! use platform_auth::apikey::{ApiKeys, MemoryApiKeyStore, NewApiKey};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ApiKeys::new(MemoryApiKeyStore::default());
//! let (plaintext, record) = keys.create(NewApiKey::new("ci", "deploy-bot").scopes(["deploy"])).await?;
//! assert!(plaintext.starts_with("pk_"));
//!
//! let principal = keys.verify(&plaintext).await?;
//! assert_eq!(principal.subject, "deploy-bot");
//! assert!(principal.has_scope("deploy"));
//!
//! keys.revoke(&record.id).await?;
//! assert!(keys.verify(&plaintext).await.is_err());
//! # Ok(()) }
//! ```

mod keys;
mod store;

pub use keys::{ApiKeys, NewApiKey};
pub use store::{ApiKeyRecord, ApiKeyStore, MemoryApiKeyStore};
