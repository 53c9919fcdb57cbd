//! Audit events are emitted with target `audit`, and no secret ever reaches the logs.

mod common;

use axum::body::Body;
use axum::routing::get;
use common::*;
use http::{Request, header};
use platform_auth::apikey::{ApiKeys, MemoryApiKeyStore, NewApiKey};
use platform_auth::jwt::{Issuer, KeySet, Verifier, VerifierConfig};
use platform_auth::refresh::{MemoryRefreshStore, RefreshTokens};
use platform_auth::{AuthenticateLayer, Authenticator, AuthorizeLayer};
use platform_core::test_util::LogCapture;
use tower::ServiceExt;

#[tokio::test]
async fn audit_events_carry_no_secrets() {
    let (capture, _guard) = LogCapture::install(tracing::Level::TRACE);

    let keys = KeySet::new(Key::hs256("k1", HMAC_SECRET).expect("key"));
    let issuer = Issuer::new(keys.clone(), ISS, AUD);
    let api_keys = ApiKeys::new(MemoryApiKeyStore::default());
    let (api_key, _) = api_keys.create(NewApiKey::new("bot", "robot")).await.expect("key");
    let refresh = RefreshTokens::new(MemoryRefreshStore::default());
    let app = axum::Router::new()
        .route("/x", get(|| async { "ok" }).route_layer(AuthorizeLayer::scope("x:read")))
        .layer(AuthenticateLayer::new(
            Authenticator::new()
                .jwt(Verifier::new(keys.clone(), VerifierConfig::new(ISS, AUD)))
                .api_keys(api_keys),
        ));

    let good = issuer.issue("alice", &["x:read"]).expect("issue");
    let no_scope = issuer.issue("alice", &[]).expect("issue");
    let tampered = format!("{}x", &good[..good.len() - 1]);
    let mut secrets = vec![good.clone(), no_scope.clone(), tampered.clone(), api_key.clone()];
    for (name, value) in [
        (header::AUTHORIZATION, format!("Bearer {good}")),
        (header::AUTHORIZATION, format!("Bearer {no_scope}")),
        (header::AUTHORIZATION, format!("Bearer {tampered}")),
        (header::HeaderName::from_static("x-api-key"), api_key.clone()),
        (header::HeaderName::from_static("x-api-key"), format!("{api_key}0")),
    ] {
        let req = Request::get("/x").header(name, value).body(Body::empty()).expect("req");
        app.clone().oneshot(req).await.expect("infallible");
    }
    let first = refresh.issue("alice", "").await.expect("issue");
    let second = refresh.rotate(&first.token).await.expect("rotate");
    let _ = refresh.rotate(&first.token).await;
    secrets.extend([first.token.clone(), second.token.clone()]);
    secrets.push(String::from_utf8(HMAC_SECRET.to_vec()).expect("utf8"));
    let _ = format!("{first:?}{keys:?}");

    let logs = capture.text();
    for event in [
        "token_issued",
        "authentication_failed",
        "access_denied",
        "api_key_used",
        "refresh_reuse_detected",
        "token_refreshed",
    ] {
        assert!(logs.contains(event), "missing audit event {event}:\n{logs}");
    }
    assert!(logs.contains(" audit:"), "events use the `audit` target:\n{logs}");
    for secret in &secrets {
        // The signature part is what makes a token a credential; check it and the whole.
        let sig = secret.rsplit('.').next().unwrap_or(secret);
        assert!(!logs.contains(secret.as_str()) && !logs.contains(sig), "secret leaked:\n{logs}");
    }
    assert!(!format!("{first:?}").contains(&first.token), "Debug redacts the refresh token");
    assert!(!format!("{keys:?}").contains("an-hmac-secret"), "Debug never prints key material");
}

use platform_auth::jwt::Key;
