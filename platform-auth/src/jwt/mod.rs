//! JSON Web Tokens: keys bound to one algorithm, key sets with rotation, JWKS publishing
//! and fetching, issuing and strict verification.
//!
//! ```
//! use platform_auth::jwt::{Issuer, Key, KeySet, Verifier, VerifierConfig};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = KeySet::new(Key::generate_hs256("k1"));
//! let issuer = Issuer::new(keys.clone(), "https://auth.example", "orders");
//! let verifier = Verifier::new(keys, VerifierConfig::new("https://auth.example", "orders"));
//!
//! let token = issuer.issue("alice", &["orders:read"])?;
//! let claims = verifier.verify(&token).await?;
//! assert_eq!(claims.sub, "alice");
//! assert_eq!(claims.scopes(), ["orders:read"]);
//! # Ok(()) }
//! ```

mod claims;
mod header;
#[cfg(feature = "remote-jwks")]
mod http_fetch;
mod issuer;
#[cfg(feature = "axum")]
mod jwks_axum;
mod key;
mod keyset;
mod remote;
mod source;
mod verifier;

pub use claims::{Audience, Claims};
#[cfg(feature = "remote-jwks")]
pub use http_fetch::{FetcherError, HttpJwksFetcher};
pub use issuer::{DEFAULT_TTL, IssueError, Issuer};
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
#[cfg(feature = "axum")]
pub use jwks_axum::{JWKS_PATH, jwks_handler, jwks_router};
pub use key::{Key, KeyError, MIN_HMAC_SECRET_LEN};
pub use keyset::KeySet;
pub use remote::{FetchFuture, JwksFetcher, RemoteJwks, RemoteJwksConfig};
pub use source::{KeySource, ResolveFuture};
pub use verifier::{
    DEFAULT_LEEWAY, DEFAULT_TOKEN_CACHE_CAPACITY, DEFAULT_TYP, TOKEN_CACHE_TTL, Verifier,
    VerifierConfig,
};

/// The JOSE name of an algorithm (`"HS256"`, `"EdDSA"`, …).
pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        // Non-exhaustive upstream; no key of this crate is bound to an unknown algorithm.
        _ => "unsupported",
    }
}
