//! `POST /oauth/token` through the router: every grant, every RFC 6749 error.

mod common;

use axum::body::Body;
use common::server::*;
use http::{Request, StatusCode, header};
use platform_auth::server::{GrantType, NewClient};
use serde_json::json;

fn assert_no_store(r: &Reply) {
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store", "{}", r.json);
    assert_eq!(r.headers[header::PRAGMA], "no-cache");
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.error()), (status, code), "{}", r.json);
    assert!(r.json["error_description"].is_string(), "{}", r.json);
    assert_no_store(r);
}

#[tokio::test]
async fn client_credentials_with_basic_or_form_authentication() {
    let f = fixture(false).await;
    let r = token(&f, &f.svc, "grant_type=client_credentials").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_no_store(&r);
    assert_eq!((r.str("token_type"), r.str("scope")), ("Bearer".into(), "metrics:read".into()));
    assert_eq!(r.json["expires_in"], 900);
    assert!(r.json.get("refresh_token").is_none(), "no refresh token for client_credentials");
    let c = claims(&f, &r.str("access_token")).await;
    assert_eq!((c.sub.as_str(), c.extra["client_id"].clone()), ("svc", json!("svc")));
    assert_eq!(c.extra["roles"], json!(["metrics-reader"]));

    let (id, secret) = &f.svc;
    let form = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=metrics:read"
    );
    let r = post_form(&f.app, "/oauth/token", None, &form).await;
    assert_eq!(r.status, StatusCode::OK, "client_secret_post: {}", r.json);
}

#[tokio::test]
async fn password_and_refresh_grants_rotate_and_detect_reuse() {
    let f = fixture(true).await;
    let form = format!(
        "grant_type=password&username=ALICE&password={}&scope=orders:read",
        PASSWORD.replace(' ', "+")
    );
    let r = token(&f, &f.web, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_no_store(&r);
    assert_eq!(r.str("scope"), "orders:read");
    let c = claims(&f, &r.str("access_token")).await;
    assert_eq!(c.sub, f.alice_id);
    assert_eq!(c.extra["roles"], json!(["viewer"]));
    assert_eq!(
        (c.extra["username"].clone(), c.extra["team"].clone()),
        (json!("alice"), json!("payments"))
    );
    assert!(c.sid.is_some(), "the session id is the refresh family");
    let first = r.str("refresh_token");

    let r = refresh(&f, &first, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_no_store(&r);
    let second = r.str("refresh_token");
    let access = r.str("access_token");
    assert_ne!(first, second, "rotated");
    assert_eq!(claims(&f, &access).await.sub, f.alice_id);

    // Replaying the rotated token: invalid_grant, and the whole session is revoked.
    let r = refresh(&f, &first, "").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(r.str("error_description").contains("reuse"), "{}", r.json);
    let r = refresh(&f, &second, "").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(
        f.server.verifier().verify(&access).await.is_err(),
        "the session's access tokens die too"
    );
}

#[tokio::test]
async fn refresh_tokens_keep_their_client_and_scope() {
    let f = fixture(false).await;
    let rt = login(&f, "alice").await.str("refresh_token");
    let other = NewClient::new("web2", [GrantType::RefreshToken]);
    let (secret, _) = f.server.clients().create(other).await.expect("client");
    let web2 = ("web2".to_owned(), secret);
    let r = token(&f, &web2, &format!("grant_type=refresh_token&refresh_token={rt}")).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(r.str("error_description"), "the refresh token was issued to another client");

    let r = refresh(&f, &rt, "&scope=orders:admin").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_scope");
    let r = refresh(&f, &rt, "&scope=orders:write").await;
    assert_eq!(
        (r.status, r.str("scope")),
        (StatusCode::OK, "orders:write".into()),
        "narrowing is allowed"
    );
    let r = refresh(&f, "rt_made-up", "").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn client_authentication_errors() {
    let f = fixture(false).await;
    let r = post_form(&f.app, "/oauth/token", None, "grant_type=client_credentials").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        r.headers[header::WWW_AUTHENTICATE].to_str().expect("ascii").starts_with("Basic realm=")
    );

    let wrong = ("svc".to_owned(), "cs_wrong".to_owned());
    let r = token(&f, &wrong, "grant_type=client_credentials").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE), "Basic failures carry a challenge");
    let ghost = ("ghost".to_owned(), "cs_wrong".to_owned());
    let r2 = token(&f, &ghost, "grant_type=client_credentials").await;
    assert_eq!(r2.json, r.json, "unknown and wrong-secret clients look alike");

    let r = post_form(
        &f.app,
        "/oauth/token",
        None,
        "grant_type=client_credentials&client_id=svc&client_secret=nope",
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_client");

    let (id, secret) = &f.svc;
    let both = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = token(&f, &f.svc, &both).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");

    let req = Request::post("/oauth/token")
        .header(header::AUTHORIZATION, "Basic %%%")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=client_credentials"))
        .expect("req");
    assert_error(&send(&f.app, req).await, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn request_and_grant_errors() {
    let f = fixture(false).await;
    let json_body = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, basic(&f.svc.0, &f.svc.1))
        .body(Body::from("{\"grant_type\":\"client_credentials\"}"))
        .expect("req");
    assert_error(&send(&f.app, json_body).await, StatusCode::BAD_REQUEST, "invalid_request");
    for (client, form, status, code) in [
        (&f.svc, "scope=metrics:read", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            &f.svc,
            "grant_type=client_credentials&grant_type=password",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &f.svc,
            "grant_type=authorization_code",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            &f.svc,
            "grant_type=password&username=alice&password=x",
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (&f.web, "grant_type=client_credentials", StatusCode::BAD_REQUEST, "unauthorized_client"),
        (
            &f.svc,
            "grant_type=client_credentials&scope=metrics:write",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (&f.web, "grant_type=password&username=alice", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            &f.web,
            "grant_type=password&username=alice&password=x&scope=admin",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (&f.web, "grant_type=refresh_token", StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let r = post_form(&f.app, "/oauth/token", Some(client), form).await;
        assert_error(&r, status, code);
    }

    let wrong = token(&f, &f.web, "grant_type=password&username=alice&password=nope").await;
    assert_error(&wrong, StatusCode::BAD_REQUEST, "invalid_grant");
    let unknown = token(&f, &f.web, "grant_type=password&username=nobody&password=nope").await;
    assert_eq!(unknown.json, wrong.json, "unknown users and wrong passwords get the same answer");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_retry_after() {
    let f = fixture(false).await;
    for _ in 0..5 {
        let r = token(&f, &f.web, "grant_type=password&username=alice&password=guess").await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let r = login(&f, "alice").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(r.str("error_description").contains("too many failed login attempts"), "{}", r.json);
    let retry: u64 = r.headers[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("secs");
    assert!((1..=30).contains(&retry), "{retry}");
}
