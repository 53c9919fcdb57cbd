//! A token server with in-memory stores, two clients and two users, driven through its
//! router with `oneshot`.

use axum::Router;
use axum::body::Body;
use base64::Engine;
use http::{HeaderMap, Request, StatusCode, header};
use platform_auth::apikey::{ApiKeys, MemoryApiKeyStore};
use platform_auth::identity::{
    Grantee, Identity, MemoryIdentityStore, NewUser, PasswordConfig, PasswordHasher, Role,
};
use platform_auth::jwt::{Claims, Issuer, KeySet};
use platform_auth::refresh::{MemoryRefreshStore, RefreshTokens};
use platform_auth::revocation::{MemoryRevocationStore, Revocations};
use platform_auth::server::{ADMIN_ROLE, GrantType, MemoryClientStore, NewClient, TokenServer};
use serde_json::Value;
use tower::ServiceExt;

use super::{AUD, ISS, ed_key};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Fixture {
    pub app: Router,
    pub server: TokenServer,
    /// Client `web`: password and refresh_token grants, scopes orders:read orders:write.
    pub web: (String, String),
    /// Client `svc`: client_credentials, scope metrics:read, role metrics-reader.
    pub svc: (String, String),
    pub alice_id: String,
    pub admin_id: String,
}

pub fn cheap_hasher() -> PasswordHasher {
    PasswordHasher::new(PasswordConfig::default().costs(64, 1, 1)).expect("valid")
}

/// The server; `revocable` adds a revocation list.
pub async fn fixture(revocable: bool) -> Fixture {
    let issuer = Issuer::new(KeySet::new(ed_key("k1", "a")), ISS, AUD);
    let identity = Identity::new(MemoryIdentityStore::default()).with_hasher(cheap_hasher());
    let mut refresh = RefreshTokens::new(MemoryRefreshStore::default());
    let mut server = TokenServer::new(issuer, identity.clone(), MemoryClientStore::default())
        .api_keys(ApiKeys::new(MemoryApiKeyStore::default()));
    if revocable {
        let revocations = Revocations::new(MemoryRevocationStore::default());
        refresh = refresh.with_revocations(revocations.clone());
        server = server.revocations(revocations);
    }
    let server = server.refresh_tokens(refresh);
    let clients = server.clients();
    let (web_secret, _) = clients
        .create(
            NewClient::new("web", [GrantType::Password, GrantType::RefreshToken])
                .scopes(["orders:read", "orders:write"]),
        )
        .await
        .expect("web");
    let (svc_secret, _) = clients
        .create(
            NewClient::new("svc", [GrantType::ClientCredentials])
                .scopes(["metrics:read"])
                .roles(["metrics-reader"]),
        )
        .await
        .expect("svc");
    let alice = identity
        .create_user(NewUser::new("alice").password(PASSWORD).attribute("team", "payments"))
        .await
        .expect("alice");
    let admin = identity.create_user(NewUser::new("root").password(PASSWORD)).await.expect("root");
    identity.create_role(Role::new(ADMIN_ROLE, "")).await.expect("role");
    identity.create_role(Role::new("viewer", "")).await.expect("role");
    identity.grant_role(&Grantee::User(admin.id.clone()), ADMIN_ROLE).await.expect("grant");
    identity.grant_role(&Grantee::User(alice.id.clone()), "viewer").await.expect("grant");
    Fixture {
        app: server.router(),
        server,
        web: ("web".into(), web_secret),
        svc: ("svc".into(), svc_secret),
        alice_id: alice.id,
        admin_id: admin.id,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }

    pub fn str(&self, key: &str) -> String {
        self.json[key].as_str().unwrap_or_else(|| panic!("no `{key}` in {}", self.json)).to_owned()
    }
}

pub fn basic(id: &str, secret: &str) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {enc}")
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply { status: parts.status, headers: parts.headers, json }
}

/// POSTs a form to `path`, authenticating as `client` with HTTP Basic when given.
pub async fn post_form(
    app: &Router,
    path: &str,
    client: Option<&(String, String)>,
    form: &str,
) -> Reply {
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = client {
        req = req.header(header::AUTHORIZATION, basic(id, secret));
    }
    send(app, req.body(Body::from(form.to_owned())).expect("request")).await
}

/// A password-grant login of `username` through `web`.
pub async fn login(f: &Fixture, username: &str) -> Reply {
    let form =
        format!("grant_type=password&username={username}&password={}", PASSWORD.replace(' ', "+"));
    post_form(&f.app, "/oauth/token", Some(&f.web), &form).await
}

pub async fn claims(f: &Fixture, token: &str) -> Claims {
    f.server.verifier().verify(token).await.expect("a valid access token")
}

/// `POST /oauth/token` as `client`.
pub async fn token(f: &Fixture, client: &(String, String), form: &str) -> Reply {
    post_form(&f.app, "/oauth/token", Some(client), form).await
}

/// A refresh-token grant through `web`, with `extra` form parameters (`&scope=…`).
pub async fn refresh(f: &Fixture, refresh_token: &str, extra: &str) -> Reply {
    token(f, &f.web, &format!("grant_type=refresh_token&refresh_token={refresh_token}{extra}"))
        .await
}
