//! `AuthorizeLayer::permission`: routes ask an `Authorizer`; denials are 403 JSON with the
//! explanation in the audit event only.

mod common;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::*;
use http::{Request, StatusCode, header};
use platform_auth::authz::{PolicyAuthorizer, PolicySet, Resource};
use platform_auth::jwt::{Issuer, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator, AuthorizeLayer};
use platform_core::error::ErrorBody;
use platform_core::test_util::LogCapture;
use serde_json::json;
use tower::ServiceExt;

const POLICIES: &str = r#"{"roles": {
  "reader": {"permissions": [
    {"action": "notes:list", "resource": "notes"},
    {"name": "own-notes", "action": "notes:read", "resource": "users/*/notes",
     "when": ["resource.owner == principal.id", "context.method == \"GET\""]}
  ]}
}}"#;

fn app(keys: KeySet) -> Router {
    let authz = PolicyAuthorizer::new(PolicySet::from_json(POLICIES, "inline").expect("valid"));
    let owner_of = |r: &platform_auth::layer::AccessRequest<'_>| {
        let path = r.uri.path().trim_matches('/');
        let owner = path.split('/').nth(1).unwrap_or_default().to_owned();
        Resource::new(path).attr("owner", owner)
    };
    Router::new()
        .route(
            "/notes",
            get(|| async { "all" })
                .route_layer(AuthorizeLayer::permission(authz.clone(), "notes:list")),
        )
        .route(
            "/users/{owner}/notes",
            get(|| async { "mine" }).route_layer(AuthorizeLayer::permission_on(
                authz,
                "notes:read",
                owner_of,
            )),
        )
        .layer(AuthenticateLayer::new(
            Authenticator::new().jwt(Verifier::new(keys, VerifierConfig::new(ISS, AUD))),
        ))
}

fn token(issuer: &Issuer, sub: &str, roles: &[&str]) -> String {
    let mut c = issuer.claims(sub, &[]);
    c.extra.insert("roles".into(), json!(roles));
    issuer.sign(&c).expect("sign")
}

async fn get_as(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app.clone().oneshot(req.body(Body::empty()).expect("req")).await.expect("infallible");
    let status = res.status();
    (status, axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body").to_vec())
}

#[tokio::test]
async fn routes_ask_the_authorizer() {
    let (logs, _guard) = LogCapture::install(tracing::Level::TRACE);
    let keys = KeySet::new(hs_key("k"));
    let issuer = Issuer::new(keys.clone(), ISS, AUD);
    let app = app(keys);
    let alice = token(&issuer, "alice", &["reader"]);
    let nobody = token(&issuer, "nobody", &[]);

    assert_eq!(get_as(&app, "/notes", Some(&alice)).await.0, StatusCode::OK);
    assert_eq!(get_as(&app, "/users/alice/notes", Some(&alice)).await.0, StatusCode::OK);

    let (status, body) = get_as(&app, "/users/bob/notes", Some(&alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let err: ErrorBody = serde_json::from_slice(&body).expect("json");
    assert_eq!(err.error, "access_denied");
    assert_eq!(err.message, "`notes:read` on `users/bob/notes` is not allowed");
    assert!(!err.message.contains("owner"), "the policy is not revealed to the client");

    let (status, body) = get_as(&app, "/notes", Some(&nobody)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no roles: denied by default");
    assert!(String::from_utf8_lossy(&body).contains("access_denied"));
    assert_eq!(get_as(&app, "/notes", None).await.0, StatusCode::UNAUTHORIZED);

    let text = logs.text();
    assert!(
        text.contains("requires `resource.owner == principal.id`, which is false"),
        "the audit event explains:\n{text}"
    );
    assert!(text.contains("no policy for the principal's roles []"), "{text}");
}
