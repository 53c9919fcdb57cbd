//! The token server's audit events carry no secrets. One test per binary: log capture uses
//! a thread-local subscriber, and tracing's per-callsite interest cache is shared by every
//! test thread of a binary.

mod common;

use common::server::*;
use platform_core::test_util::LogCapture;

#[tokio::test]
async fn token_server_logs_carry_no_secrets() {
    let (logs, _guard) = LogCapture::install(tracing::Level::TRACE);
    let f = fixture(true).await;
    let ok = login(&f, "alice").await;
    let rt = ok.str("refresh_token");
    let rotated = refresh(&f, &rt, "").await;
    let _ = refresh(&f, &rt, "").await;
    let _ = token(&f, &f.web, "grant_type=password&username=alice&password=hunter2-guess").await;
    let cc = token(&f, &f.svc, "grant_type=client_credentials").await;
    let _ = post_form(
        &f.app,
        "/oauth/revoke",
        Some(&f.web),
        &format!("token={}", rotated.str("access_token")),
    )
    .await;
    let text = logs.text();
    for event in [
        "login_succeeded",
        "login_failed",
        "token_issued",
        "refresh_reuse_detected",
        "token_request_refused",
        "token_revoked",
    ] {
        assert!(text.contains(event), "missing {event}:\n{text}");
    }
    for secret in [
        PASSWORD.to_owned(),
        "hunter2-guess".to_owned(),
        f.web.1.clone(),
        f.svc.1.clone(),
        rt,
        rotated.str("refresh_token"),
        ok.str("access_token"),
        cc.str("access_token"),
    ] {
        let sig = secret.rsplit('.').next().unwrap_or(&secret).to_owned();
        assert!(!text.contains(&secret) && !text.contains(&sig), "secret leaked:\n{text}");
    }
}
