//! Logins are audited without secrets. One test per binary: log capture uses a
//! thread-local subscriber, and tracing's per-callsite interest cache is shared by every
//! test thread of a binary.

mod common;

use std::time::Duration;

use platform_auth::identity::{
    Backoff, Identity, LockoutPolicy, MemoryIdentityStore, NewUser, PasswordConfig, PasswordHasher,
};
use platform_core::test_util::LogCapture;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn logins_are_audited_without_secrets() {
    let (capture, _guard) = LogCapture::install(tracing::Level::TRACE);

    let hasher = PasswordHasher::new(PasswordConfig::default().costs(64, 1, 1)).expect("valid");
    let mut lockout = LockoutPolicy::default();
    let min = |m: u64| Duration::from_secs(m * 60);
    lockout.account = Backoff::new(3, Duration::from_secs(30), min(2), min(60));
    let identity = Identity::new(MemoryIdentityStore::default())
        .with_hasher(hasher)
        .with_lockout(lockout)
        .expect("valid");
    let u = identity.create_user(NewUser::new("erin").password(PASSWORD)).await.expect("create");
    identity.login("erin", PASSWORD, None).await.expect("login");
    for _ in 0..4 {
        let _ = identity.login("erin", "not-the-password-1", None).await;
    }
    let hash = identity.store().user(&u.id).await.expect("get").expect("u").password_hash;

    let logs = capture.text();
    for event in
        ["user_created", "login_succeeded", "login_failed", "account_locked", "login_locked"]
    {
        assert!(logs.contains(event), "missing {event}:\n{logs}");
    }
    assert!(logs.contains(" audit:"), "target audit:\n{logs}");
    for secret in [PASSWORD, "not-the-password-1", hash.as_deref().expect("hash")] {
        assert!(!logs.contains(secret), "secret leaked:\n{logs}");
    }
}
