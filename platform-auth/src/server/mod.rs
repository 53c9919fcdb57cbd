//! The token server: an axum [`Router`] with the OAuth 2.0 endpoints, discovery, JWKS and
//! an admin API.
//!
//! | route | what |
//! |---|---|
//! | `POST /oauth/token` | `client_credentials`, `password`, `refresh_token` grants (RFC 6749) |
//! | `POST /oauth/revoke` | revoke a refresh token's family or an access token (RFC 7009) |
//! | `POST /oauth/introspect` | token metadata for resource servers (RFC 7662) |
//! | `GET /.well-known/jwks.json` | the public signing keys |
//! | `GET /.well-known/openid-configuration` | endpoint metadata (also at `/.well-known/oauth-authorization-server`) |
//! | `/admin/…` | users, groups, roles, clients, API keys ([`admin`](self#admin-api)) |
//!
//! Clients are confidential: every token, revocation and introspection request
//! authenticates with HTTP Basic (`client_secret_basic`) or `client_id` and
//! `client_secret` in the form (`client_secret_post`). Errors follow RFC 6749 §5.2;
//! token responses and errors carry `Cache-Control: no-store`.
//!
//! Access tokens carry `sub` (the user id, or the client id for `client_credentials`),
//! `scope`, `roles` (the user's effective roles, or the client's), `client_id`,
//! `username`, the user's attributes and `sid` (the refresh family, so revoking the
//! session revokes its access tokens when [`Revocations`] are configured). Refresh tokens
//! rotate on every use, are bound to their client, and a replayed one revokes its family.
//! A refresh re-reads the user: deleted or disabled users lose their session, and role
//! changes apply from the next refresh.
//!
//! # Admin API
//!
//! Under `/admin`, authenticated by this server's own access tokens (API keys too when
//! configured, but they carry no roles) and authorized by the admin [`Authorizer`]: `admin:<area>:read` for GET,
//! `admin:<area>:write` otherwise, on the path (`admin/users/…`); areas are `users`,
//! `groups`, `roles`, `clients`, `api-keys`. The default authorizer
//! ([`default_admin_policies`]) gives the role `auth-admin` everything under `admin/`.
//!
//! ```
//! use platform_auth::identity::{Identity, MemoryIdentityStore};
//! use platform_auth::jwt::{Issuer, Key, KeySet};
//! use platform_auth::server::{MemoryClientStore, TokenServer};
//!
//! let keys = KeySet::new(Key::generate_hs256("2026-01"));
//! let issuer = Issuer::new(keys, "https://auth.example", "platform");
//! let identity = Identity::new(MemoryIdentityStore::default());
//! let app: axum::Router = TokenServer::new(issuer, identity, MemoryClientStore::default()).router();
//! # let _ = app;
//! ```

mod admin;
mod client;
mod discovery;
mod error;
mod form;
mod revoke;
mod token;

pub use client::{ClientStore, Clients, GrantType, MemoryClientStore, NewClient, OAuthClient};

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::apikey::ApiKeys;
use crate::authz::{Authorizer, PermissionSpec, PolicyDocument, PolicySet, RolePolicy};
use crate::identity::Identity;
use crate::jwt::{Issuer, Verifier, VerifierConfig, jwks_router};
use crate::refresh::{MemoryRefreshStore, RefreshTokens};
use crate::revocation::Revocations;

/// The role the default admin policies give the whole admin API.
pub const ADMIN_ROLE: &str = "auth-admin";

/// The token server's parts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenServer {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    issuer: Issuer,
    verifier: Verifier,
    identity: Identity,
    clients: Clients,
    refresh: RefreshTokens,
    revocations: Option<Revocations>,
    api_keys: Option<ApiKeys>,
    admin_authorizer: Arc<dyn Authorizer>,
}

/// Policies giving [`ADMIN_ROLE`] every action under `admin/`.
pub fn default_admin_policies() -> PolicySet {
    let doc = PolicyDocument::new().role(
        ADMIN_ROLE,
        RolePolicy::new("manage the token server")
            .permission(PermissionSpec::new("admin:**", "admin/**").named("admin-api")),
    );
    PolicySet::compile(doc, "default admin policies").expect("the default policies are valid")
}

impl TokenServer {
    /// A server signing with `issuer`, logging users in with `identity` and registering
    /// clients in `clients`. Refresh tokens default to an in-memory store; the admin API
    /// to [`default_admin_policies`].
    pub fn new(issuer: Issuer, identity: Identity, clients: impl ClientStore + 'static) -> Self {
        let verifier = own_verifier(&issuer, None);
        Self {
            inner: Arc::new(Inner {
                issuer,
                verifier,
                identity,
                clients: Clients::from_shared(Arc::new(clients)),
                refresh: RefreshTokens::new(MemoryRefreshStore::default()),
                revocations: None,
                api_keys: None,
                admin_authorizer: Arc::new(default_admin_policies()),
            }),
        }
    }

    fn update(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Uses `refresh` for refresh tokens (give it the same [`Revocations`] so revoked or
    /// reused families revoke their access tokens).
    pub fn refresh_tokens(self, refresh: RefreshTokens) -> Self {
        self.update(|i| i.refresh = refresh)
    }

    /// Checks access tokens against `revocations` (introspection, the admin API) and lets
    /// `/oauth/revoke` revoke access tokens.
    pub fn revocations(self, revocations: Revocations) -> Self {
        self.update(|i| {
            i.verifier = own_verifier(&i.issuer, Some(revocations.clone()));
            i.revocations = Some(revocations);
        })
    }

    /// Enables the API-key admin routes (and API keys as admin credentials).
    pub fn api_keys(self, keys: ApiKeys) -> Self {
        self.update(|i| i.api_keys = Some(keys))
    }

    /// Authorizes the admin API with `authorizer` instead of [`default_admin_policies`].
    pub fn admin_authorizer(self, authorizer: impl Authorizer + 'static) -> Self {
        self.update(|i| i.admin_authorizer = Arc::new(authorizer))
    }

    /// The client registry (to register the first clients at start-up).
    pub fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    /// The identity service.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The verifier of this server's access tokens (for services in the same process).
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The routes. Serve with `into_make_service_with_connect_info::<SocketAddr>()` so
    /// password logins are also throttled per source address.
    pub fn router(&self) -> Router {
        let oauth = Router::new()
            .route("/oauth/token", post(token::handler))
            .route("/oauth/revoke", post(revoke::revoke_handler))
            .route("/oauth/introspect", post(revoke::introspect_handler))
            .route("/.well-known/openid-configuration", get(discovery::handler))
            .route("/.well-known/oauth-authorization-server", get(discovery::handler))
            .with_state(self.clone());
        oauth
            .merge(jwks_router(self.inner.issuer.keys().clone()))
            .merge(admin::router(self.clone()))
    }
}

fn own_verifier(issuer: &Issuer, revocations: Option<Revocations>) -> Verifier {
    let cfg = VerifierConfig::new(issuer.iss(), issuer.audience());
    let v = Verifier::new(issuer.keys().clone(), cfg);
    match revocations {
        Some(r) => v.with_revocations(r),
        None => v,
    }
}
