//! The authenticate and authorize layers in an axum router and as plain tower services.

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use common::*;
use http::{Request, StatusCode, header};
use platform_auth::apikey::{ApiKeys, MemoryApiKeyStore, NewApiKey};
use platform_auth::jwt::{Issuer, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator, AuthorizeLayer, Principal};
use platform_core::error::ErrorBody;
use tower::{ServiceBuilder, ServiceExt};

struct Fixture {
    app: Router,
    issuer: Issuer,
    api_key: String,
}

async fn fixture(optional: bool) -> Fixture {
    let keys = KeySet::new(ed_key("a", "a"));
    let verifier = Verifier::new(keys.clone(), VerifierConfig::new(ISS, AUD));
    let api_keys = ApiKeys::new(MemoryApiKeyStore::default());
    let (api_key, _) = api_keys
        .create(NewApiKey::new("bot", "robot").scopes(["orders:write"]))
        .await
        .expect("key");
    let auth = Authenticator::new()
        .jwt(verifier)
        .api_keys(api_keys)
        .session_cookie("session")
        .optional(optional);
    let whoami = |p: Option<Extension<Principal>>| async move {
        p.map_or_else(|| "anonymous".to_owned(), |Extension(p)| p.subject)
    };
    let app = Router::new()
        .route("/orders", get(whoami).route_layer(AuthorizeLayer::scope("orders:read")))
        .route(
            "/admin",
            get(whoami).route_layer(AuthorizeLayer::from_fn("admin on GET", |r| {
                r.principal.subject == "root" && r.method == http::Method::GET
            })),
        )
        .route("/public", get(whoami))
        .layer(AuthenticateLayer::new(auth));
    Fixture { app, issuer: Issuer::new(keys, ISS, AUD), api_key }
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    (parts.status, parts.headers, bytes.to_vec())
}

fn get_with(path: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::get(path).header(name, value).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn bearer_tokens_authenticate_and_scopes_authorize() {
    let f = fixture(false).await;
    let token = f.issuer.issue("alice", &["orders:read"]).expect("issue");
    let (status, _, body) =
        send(&f.app, get_with("/orders", header::AUTHORIZATION, &format!("Bearer {token}"))).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"alice".as_slice()));
    // Scheme is case-insensitive.
    let (status, _, _) =
        send(&f.app, get_with("/orders", header::AUTHORIZATION, &format!("bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK);

    let narrow = f.issuer.issue("alice", &["orders:list"]).expect("issue");
    let (status, headers, body) =
        send(&f.app, get_with("/orders", header::AUTHORIZATION, &format!("Bearer {narrow}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let err: ErrorBody = serde_json::from_slice(&body).expect("json error");
    assert_eq!(err.error, "insufficient_scope");
    assert!(
        headers[header::WWW_AUTHENTICATE].to_str().expect("ascii").contains("insufficient_scope")
    );
}

#[tokio::test]
async fn failures_get_rfc6750_challenges() {
    let f = fixture(false).await;
    let (status, headers, _) =
        send(&f.app, Request::get("/orders").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\"",
        "no error code without credentials"
    );

    let (status, headers, _) =
        send(&f.app, get_with("/orders", header::AUTHORIZATION, "Bearer not.a.jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers[header::WWW_AUTHENTICATE].to_str().expect("ascii").to_owned();
    assert!(
        challenge.contains("error=\"invalid_request\"")
            || challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );

    let expired = {
        let mut c = f.issuer.claims("alice", &["orders:read"]);
        c.exp = 1;
        f.issuer.sign(&c).expect("sign")
    };
    let (status, headers, _) =
        send(&f.app, get_with("/orders", header::AUTHORIZATION, &format!("Bearer {expired}")))
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii")
            .contains("error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn api_keys_and_session_cookies_authenticate() {
    let f = fixture(false).await;
    let (status, _, body) =
        send(&f.app, get_with("/public", header::HeaderName::from_static("x-api-key"), &f.api_key))
            .await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"robot".as_slice()));
    let (status, _, _) =
        send(&f.app, get_with("/orders", header::HeaderName::from_static("x-api-key"), &f.api_key))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the key lacks orders:read");

    let token = f.issuer.issue("carol", &["orders:read"]).expect("issue");
    let cookie = format!("theme=dark; session={token}");
    let (status, _, body) = send(&f.app, get_with("/orders", header::COOKIE, &cookie)).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"carol".as_slice()));
}

#[tokio::test]
async fn optional_mode_lets_anonymous_requests_through_but_not_bad_credentials() {
    let f = fixture(true).await;
    let (status, _, body) =
        send(&f.app, Request::get("/public").body(Body::empty()).expect("req")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"anonymous".as_slice()));
    let (status, _, _) =
        send(&f.app, Request::get("/orders").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "authorization still needs a principal");
    let (status, _, _) =
        send(&f.app, get_with("/public", header::AUTHORIZATION, "Bearer a.b.c")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "bad credentials are refused");
}

#[tokio::test]
async fn closures_decide_per_request() {
    let f = fixture(false).await;
    let root = f.issuer.issue("root", &[]).expect("issue");
    let alice = f.issuer.issue("alice", &[]).expect("issue");
    let (s, _, _) =
        send(&f.app, get_with("/admin", header::AUTHORIZATION, &format!("Bearer {root}"))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) =
        send(&f.app, get_with("/admin", header::AUTHORIZATION, &format!("Bearer {alice}"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn plain_tower_stack() {
    let keys = KeySet::new(hs_key("k1"));
    let auth = Authenticator::new().jwt(Verifier::new(keys.clone(), VerifierConfig::new(ISS, AUD)));
    let svc = ServiceBuilder::new()
        .layer(AuthenticateLayer::new(auth))
        .layer(AuthorizeLayer::scope("metrics:read"))
        .service_fn(|req: Request<()>| async move {
            let who =
                req.extensions().get::<Principal>().map(|p| p.subject.clone()).unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                bytes::Bytes::from(who),
            )))
        });
    let token = Issuer::new(keys, ISS, AUD).issue("scraper", &["metrics:read"]).expect("issue");
    let req = Request::get("/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .expect("req");
    let res = svc.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    let res =
        svc.oneshot(Request::get("/metrics").body(()).expect("req")).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
