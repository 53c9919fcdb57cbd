//! Authentication and authorization for Platform SDK services: JWTs with key rotation and
//! JWKS, refresh-token families with reuse detection, revocation across instances, API
//! keys, the [`AuthenticateLayer`] / [`AuthorizeLayer`] tower layers, and — behind
//! features — identities with argon2id passwords and lockout (`identity`), RBAC/ABAC
//! policies with explained decisions (`authz`) and an OAuth 2.0 token server (`server`).
//!
//! Secure by default: keys are bound to one algorithm (no `none`, no RS256→HS256
//! confusion), `exp`, `iss`, `aud`, `sub` and `typ` are required, claim types are strict,
//! leeway is 30 s, keys never come from a token's headers, and secrets never reach logs.
//! See `docs/auth.md` for the guide.
//!
//! Protecting an axum route:
//!
//! ```
//! use axum::{Router, routing::get};
//! use platform_auth::jwt::{Issuer, Key, KeySet, Verifier, VerifierConfig};
//! use platform_auth::{AuthenticateLayer, Authenticator, AuthorizeLayer, Principal};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = KeySet::new(Key::generate_hs256("2026-01"));
//! let verifier = Verifier::new(keys.clone(), VerifierConfig::new("https://auth.example", "orders"));
//!
//! let app = Router::new()
//!     .route("/orders", get(|p: axum::Extension<Principal>| async move { p.subject.clone() }))
//!     .route_layer(AuthorizeLayer::scope("orders:read"))
//!     .layer(AuthenticateLayer::new(Authenticator::new().jwt(verifier)));
//!
//! let token = Issuer::new(keys, "https://auth.example", "orders").issue("alice", &["orders:read"])?;
//! let req = http::Request::get("/orders")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())?;
//! assert_eq!(app.clone().oneshot(req).await?.status(), 200);
//!
//! let anonymous = http::Request::get("/orders").body(axum::body::Body::empty())?;
//! assert_eq!(app.oneshot(anonymous).await?.status(), 401);
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `sql` | SQLite/PostgreSQL backends of the refresh, revocation, API-key, identity and policy stores ([`sql`]) |
//! | `axum` | `jwt::jwks_router` publishing a [`jwt::KeySet`] |
//! | `remote-jwks` | `jwt::HttpJwksFetcher` for [`jwt::RemoteJwks`] |
//! | `identity` | users, groups, roles, argon2id passwords and lockout (`identity`) |
//! | `authz` | the `Authorizer` trait, RBAC/ABAC policies with explanations (`authz`), `AuthorizeLayer::permission` |
//! | `policy-files` | TOML/JSON policy files, watched and reloaded |
//! | `server` | the token server (`server`): OAuth 2.0 token/revoke/introspect, discovery, JWKS, admin API |
//! | `full` | all of the above |
//!
//! The crypto backend is jsonwebtoken's `rust_crypto` (pure Rust). Do not also enable its
//! `aws_lc_rs` feature elsewhere in your build: with both, jsonwebtoken cannot pick a
//! provider on its own.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod apikey;
#[cfg(feature = "authz")]
pub mod authz;
mod clock;
pub mod error;
#[cfg(feature = "identity")]
pub mod identity;
pub mod jwt;
pub mod layer;
mod principal;
mod random;
pub mod refresh;
pub mod revocation;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "sql")]
pub mod sql;

pub use clock::Clock;

/// The auth guide's examples (`docs/auth.md`), compiled and run as doctests.
#[cfg(all(doctest, feature = "remote-jwks", feature = "server", feature = "policy-files"))]
#[doc = include_str!("../../docs/auth.md")]
pub struct AuthGuideDoctests;

pub use error::{AuthError, ConfigError};
pub use layer::{AuthenticateLayer, Authenticator, AuthorizeLayer};
pub use principal::{CredentialKind, Principal};
