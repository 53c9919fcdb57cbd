//! RFC 7009 revocation, RFC 7662 introspection, discovery and JWKS through the router.

mod common;

use axum::body::Body;
use common::server::*;
use http::{Request, StatusCode, header};
use serde_json::json;

async fn introspect(f: &Fixture, token: &str) -> Reply {
    let r = post_form(&f.app, "/oauth/introspect", Some(&f.svc), &format!("token={token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    r
}

#[tokio::test]
async fn introspection_reports_active_tokens_to_authenticated_clients() {
    let f = fixture(true).await;
    let r = login(&f, "alice").await;
    let (access, rt) = (r.str("access_token"), r.str("refresh_token"));
    let info = introspect(&f, &access).await.json;
    assert_eq!(info["active"], true);
    assert_eq!((info["sub"].clone(), info["client_id"].clone()), (json!(f.alice_id), json!("web")));
    assert_eq!(
        (info["token_type"].clone(), info["username"].clone()),
        (json!("Bearer"), json!("alice"))
    );
    assert_eq!(info["scope"], "orders:read orders:write");
    for k in ["exp", "iat", "iss", "aud", "jti"] {
        assert!(info.get(k).is_some(), "{k} in {info}");
    }
    assert_eq!(introspect(&f, "not-a-token").await.json, json!({"active": false}));
    assert_eq!(introspect(&f, &rt).await.json, json!({"active": false}));

    let r = post_form(&f.app, "/oauth/introspect", None, &format!("token={access}")).await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let r = post_form(&f.app, "/oauth/introspect", Some(&f.svc), "").await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
}

#[tokio::test]
async fn revoking_then_introspecting_shows_inactive() {
    let f = fixture(true).await;
    let r = login(&f, "alice").await;
    let (access, rt) = (r.str("access_token"), r.str("refresh_token"));

    // An access token, by its client.
    let r = post_form(
        &f.app,
        "/oauth/revoke",
        Some(&f.web),
        &format!("token={access}&token_type_hint=access_token"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(introspect(&f, &access).await.json, json!({"active": false}));

    // A refresh token: its family dies, and with it the session's access tokens.
    let next = refresh(&f, &rt, "").await;
    let (access2, refresh2) = (next.str("access_token"), next.str("refresh_token"));
    assert_eq!(introspect(&f, &access2).await.json["active"], true);
    let r = post_form(&f.app, "/oauth/revoke", Some(&f.web), &format!("token={refresh2}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = refresh(&f, &refresh2, "").await;
    assert_eq!(r.error(), "invalid_grant");
    assert_eq!(introspect(&f, &access2).await.json, json!({"active": false}));
}

#[tokio::test]
async fn revocation_ignores_unknown_and_foreign_tokens() {
    let f = fixture(true).await;
    let r = login(&f, "alice").await;
    let (access, rt) = (r.str("access_token"), r.str("refresh_token"));
    for token in ["rt_unknown", "garbage", access.as_str(), rt.as_str()] {
        // `svc` did not receive these: 200, nothing revoked (no probing, no sabotage).
        let r = post_form(&f.app, "/oauth/revoke", Some(&f.svc), &format!("token={token}")).await;
        assert_eq!(r.status, StatusCode::OK, "{token}");
    }
    assert_eq!(introspect(&f, &access).await.json["active"], true);
    let r = refresh(&f, &rt, "").await;
    assert_eq!(r.status, StatusCode::OK, "still usable by its client: {}", r.json);

    let r = post_form(&f.app, "/oauth/revoke", None, "token=x").await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let r = post_form(&f.app, "/oauth/revoke", Some(&f.web), "").await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
}

#[tokio::test]
async fn access_tokens_need_a_revocation_list_to_be_revoked() {
    let f = fixture(false).await;
    let access = login(&f, "alice").await.str("access_token");
    let r = post_form(&f.app, "/oauth/revoke", Some(&f.web), &format!("token={access}")).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "unsupported_token_type"));
}

#[tokio::test]
async fn discovery_and_jwks() {
    let f = fixture(false).await;
    let get = |p: &str| Request::get(p).body(Body::empty()).expect("req");
    let doc = send(&f.app, get("/.well-known/openid-configuration")).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.json["issuer"], common::ISS);
    assert_eq!(doc.json["token_endpoint"], format!("{}/oauth/token", common::ISS));
    assert_eq!(doc.json["jwks_uri"], format!("{}/.well-known/jwks.json", common::ISS));
    assert_eq!(
        doc.json["grant_types_supported"],
        json!(["client_credentials", "password", "refresh_token"])
    );
    let alias = send(&f.app, get("/.well-known/oauth-authorization-server")).await;
    assert_eq!(alias.json, doc.json);
    let jwks = send(&f.app, get("/.well-known/jwks.json")).await;
    assert_eq!(jwks.json["keys"][0]["kid"], "k1");
}
