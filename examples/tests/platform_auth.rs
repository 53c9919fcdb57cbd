//! The token server through the gateway and the admin API on the admin listener, with
//! the first start's administrator.

mod common;

use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_admin_gets_a_token_and_uses_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let platform = common::start(&common::config(dir.path())).await;
    let first = platform.bootstrap().expect("first start").clone();
    assert_eq!(first.admin_username, "admin");
    assert!(first.generated_password.is_none(), "the configured password is used");
    let gw = platform.gateway_url();
    let admin = common::admin_url(&platform);

    let granted = common::login(&gw, &first, "admin", common::ADMIN_PASSWORD).await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
    assert_eq!(granted.body["token_type"], "Bearer");
    let token = granted.body["access_token"].as_str().expect("access_token");
    assert_eq!(token.split('.').count(), 3, "a JWT");
    assert!(granted.body["refresh_token"].is_string());

    let wrong = common::login(&gw, &first, "admin", "not the password").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body["error"], "invalid_grant");

    // The admin API refuses without a token and with a forged one…
    let anonymous = common::get(&format!("{admin}/admin/users"), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let forged =
        common::get(&format!("{admin}/admin/users"), Some("eyJhbGciOiJub25lIn0.e30.")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    // …and works with the administrator's.
    let users = common::get(&format!("{admin}/admin/users"), Some(token)).await;
    assert_eq!(users.status, StatusCode::OK, "{:?}", users.body);
    assert_eq!(users.body[0]["username"], "admin");
    let created = common::json(
        Method::POST,
        &format!("{admin}/admin/users"),
        &json!({"username": "bob", "password": "bob's long passphrase"}),
        Some(token),
    )
    .await;
    assert!(created.status.is_success(), "{:?}", created.body);
    let one = common::get(
        &format!("{admin}/admin/users/{}", created.body["id"].as_str().unwrap()),
        Some(token),
    )
    .await;
    assert_eq!(one.body["user"]["username"], "bob", "{:?}", one.body);

    // A user without the admin role has a valid token but no admin rights.
    let bob = common::login(&gw, &first, "bob", "bob's long passphrase").await;
    let bob_token = bob.body["access_token"].as_str().expect("bob's token");
    let denied = common::get(&format!("{admin}/admin/users"), Some(bob_token)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // The audit trail is behind the same policies.
    let audit_anonymous = common::get(&format!("{admin}/admin/audit/records"), None).await;
    assert_eq!(audit_anonymous.status, StatusCode::UNAUTHORIZED);
    let audit_bob = common::get(&format!("{admin}/admin/audit/records"), Some(bob_token)).await;
    assert_eq!(audit_bob.status, StatusCode::FORBIDDEN);
    let audit = common::get(&format!("{admin}/admin/audit/records"), Some(token)).await;
    assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
    let verify = common::get(&format!("{admin}/admin/audit/verify"), Some(token)).await;
    assert_eq!(verify.body["valid"], true, "{:?}", verify.body);

    // The OAuth endpoints are not on the admin listener.
    let not_here = common::get(&format!("{admin}/.well-known/jwks.json"), None).await;
    assert_eq!(not_here.status, StatusCode::NOT_FOUND);
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_password_one_is_generated_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.auth.admin_password = None;
    let platform = common::start(&config).await;
    let first = platform.bootstrap().expect("first start");
    let password = first.generated_password.as_ref().expect("generated").expose().to_owned();
    assert!(password.len() >= 20, "a long password");
    let banner = first.banner(&platform.gateway_url());
    assert!(
        banner.contains(&password) && banner.contains(first.client_secret.expose()),
        "{banner}"
    );
    assert!(!format!("{first:?}").contains(&password), "Debug hides the secrets");

    let granted = common::login(&platform.gateway_url(), first, "admin", &password).await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_can_require_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.control.require_token = true;
    let platform = common::start(&config).await;
    let gw = platform.gateway_url();
    let first = platform.bootstrap().expect("first start").clone();
    let admin_token = common::admin_token(&platform).await;
    let registry = format!("{gw}/registry/orders");
    let register = format!("{gw}/registry/orders/instances");
    let instance = json!({"instance": {"service": "orders", "id": "o-1", "host": "127.0.0.1", "port": 9000}, "ttl": "30s"});

    assert_eq!(common::get(&registry, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        common::json(Method::POST, &register, &instance, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Any signed-in user reads; only the write role writes.
    let created = common::json(
        Method::POST,
        &format!("{}/admin/users", common::admin_url(&platform)),
        &json!({"username": "carol", "password": "carol's long passphrase"}),
        Some(&admin_token),
    )
    .await;
    assert!(created.status.is_success(), "{:?}", created.body);
    let carol = common::login(&gw, &first, "carol", "carol's long passphrase").await;
    let carol = carol.body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(common::get(&registry, Some(&carol)).await.status, StatusCode::OK);
    let refused = common::json(Method::POST, &register, &instance, Some(&carol)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let written = common::json(Method::POST, &register, &instance, Some(&admin_token)).await;
    assert_eq!(written.status, StatusCode::CREATED, "{:?}", written.body);
    platform.shutdown().await;
}
