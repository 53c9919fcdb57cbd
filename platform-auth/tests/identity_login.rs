//! Password logins on every backend: one error for every refusal, lockout per username
//! and per address, rehash on login, audit events without secrets.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::stores::for_each_sql;
use platform_auth::Clock;
use platform_auth::identity::{
    Backoff, Grantee, Identity, IdentityStore, LockoutPolicy, LoginError, MemoryIdentityStore,
    NewUser, PasswordConfig, PasswordHasher, Role,
};
use platform_auth::sql::SqlIdentityStore;

const PASSWORD: &str = "correct horse battery staple";

fn hasher(memory_kib: u32) -> PasswordHasher {
    PasswordHasher::new(PasswordConfig::default().costs(memory_kib, 1, 1)).expect("valid")
}

struct Setup {
    identity: Identity,
    now: Arc<AtomicU64>,
}

impl Setup {
    fn new(store: Arc<dyn IdentityStore>, lockout: LockoutPolicy) -> Self {
        let now = Arc::new(AtomicU64::new(10_000));
        let n = now.clone();
        let identity = Identity::from_shared(store)
            .with_hasher(hasher(64))
            .with_clock(Clock::from_fn(move || n.load(Ordering::SeqCst)))
            .with_lockout(lockout)
            .expect("valid policy");
        Self { identity, now }
    }

    fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

fn policy(address_free: u32) -> LockoutPolicy {
    let mut p = LockoutPolicy::default();
    p.account = Backoff::new(
        3,
        Duration::from_secs(30),
        Duration::from_secs(120),
        Duration::from_secs(3600),
    );
    p.address = Some(Backoff::new(
        address_free,
        Duration::from_secs(10),
        Duration::from_secs(60),
        Duration::from_secs(600),
    ));
    p
}

fn invalid(r: Result<impl std::fmt::Debug, LoginError>, what: &str) {
    assert!(matches!(r, Err(LoginError::InvalidCredentials)), "{what}: {r:?}");
}

fn locked(r: Result<impl std::fmt::Debug, LoginError>, secs: u64, what: &str) {
    match r {
        Err(LoginError::Locked { retry_after }) => {
            assert_eq!(retry_after.as_secs(), secs, "{what}");
        }
        other => panic!("{what}: expected Locked({secs}s), got {other:?}"),
    }
}

async fn refusals_look_alike(store: Arc<dyn IdentityStore>, b: &'static str) {
    let s = Setup::new(store, policy(100));
    let id = &s.identity;
    let alice = id.create_user(NewUser::new("Alice").password(PASSWORD)).await.expect("create");
    id.create_role(Role::new("viewer", "")).await.expect("role");
    id.grant_role(&Grantee::User(alice.id.clone()), "viewer").await.expect("grant");
    let ok = id.login("ALICE", PASSWORD, None).await.unwrap_or_else(|e| panic!("{b}: {e}"));
    assert_eq!(
        (ok.user.id.as_str(), ok.roles.as_slice()),
        (alice.id.as_str(), ["viewer".to_owned()].as_slice())
    );

    let svc = id.create_user(NewUser::new("robot")).await.expect("no password");
    let carol = id.create_user(NewUser::new("carol").password(PASSWORD)).await.expect("create");
    id.set_disabled(&carol.id, true).await.expect("disable");
    invalid(id.login("alice", "wrong", None).await, "wrong password");
    invalid(id.login("nobody", PASSWORD, None).await, "unknown user");
    invalid(id.login("robot", "", None).await, "no password");
    invalid(id.login("carol", PASSWORD, None).await, "disabled");
    invalid(id.login(&"x".repeat(10_000), PASSWORD, None).await, "absurd username");
    assert_eq!(
        LoginError::InvalidCredentials.to_string(),
        "invalid username or password",
        "{b}: one message for all"
    );
    assert!(id.set_password(&svc.id, "short").await.is_err(), "{b}: length policy");
    id.set_password(&svc.id, PASSWORD).await.expect("set");
    assert!(id.login("robot", PASSWORD, None).await.is_ok(), "{b}");
}

async fn accounts_lock_out_with_backoff(store: Arc<dyn IdentityStore>, b: &'static str) {
    let s = Setup::new(store, policy(100));
    let id = &s.identity;
    id.create_user(NewUser::new("alice").password(PASSWORD)).await.expect("create");
    for name in ["alice", "ghost"] {
        for _ in 0..3 {
            invalid(id.login(name, "guess", None).await, b);
        }
        // Locked now, even with the right password; unknown names lock the same way.
        locked(id.login(name, PASSWORD, None).await, 30, &format!("{b} {name}"));
        s.advance(29);
        locked(id.login(name, PASSWORD, None).await, 1, b);
        s.advance(1);
        invalid(id.login(name, "guess", None).await, b);
        locked(id.login(name, PASSWORD, None).await, 60, &format!("{b} {name}: doubled"));
        s.advance(60);
        invalid(id.login(name, "guess", None).await, b);
        s.advance(120);
        invalid(id.login(name, "guess", None).await, b);
        locked(id.login(name, PASSWORD, None).await, 120, &format!("{b} {name}: capped"));
        s.advance(120);
    }
    let ok = id.login("alice", PASSWORD, None).await;
    assert!(ok.is_ok(), "{b}: after the lock: {ok:?}");
    invalid(id.login("alice", "guess", None).await, b);
    assert!(id.login("alice", PASSWORD, None).await.is_ok(), "{b}: success cleared the counter");
}

async fn addresses_lock_out_across_usernames(store: Arc<dyn IdentityStore>, b: &'static str) {
    let s = Setup::new(store, policy(4));
    let id = &s.identity;
    id.create_user(NewUser::new("alice").password(PASSWORD)).await.expect("create");
    let attacker: IpAddr = "203.0.113.9".parse().expect("ip");
    let other: IpAddr = "198.51.100.1".parse().expect("ip");
    for name in ["u1", "u2", "u3", "u4"] {
        invalid(id.login(name, "Winter2026!", Some(attacker)).await, b);
    }
    locked(id.login("alice", PASSWORD, Some(attacker)).await, 10, &format!("{b}: spraying"));
    assert!(id.login("alice", PASSWORD, Some(other)).await.is_ok(), "{b}: other address");
}

async fn old_hashes_are_upgraded_on_login(store: Arc<dyn IdentityStore>, b: &'static str) {
    let old = Identity::from_shared(store.clone()).with_hasher(hasher(64));
    let u = old.create_user(NewUser::new("dave").password(PASSWORD)).await.expect("create");
    let new = Identity::from_shared(store.clone()).with_hasher(hasher(128));
    let first = new.login("dave", PASSWORD, None).await.expect("login");
    assert!(first.rehashed, "{b}");
    let stored = store.user(&u.id).await.expect("get").expect("user").password_hash.expect("hash");
    assert!(stored.starts_with("$argon2id$v=19$m=128,t=1,p=1$"), "{b}: {stored}");
    assert!(!new.login("dave", PASSWORD, None).await.expect("login").rehashed, "{b}");
    invalid(new.login("dave", "wrong", None).await, b);
}

async fn on_every_backend(
    test: &str,
    scenario: impl AsyncFn(Arc<dyn IdentityStore>, &'static str),
) {
    scenario(Arc::new(MemoryIdentityStore::default()), "memory").await;
    let make = |s| -> Arc<dyn IdentityStore> { Arc::new(SqlIdentityStore::new(s)) };
    for_each_sql(test, make, scenario).await;
}

#[tokio::test]
async fn every_refusal_is_the_same_error() {
    on_every_backend("login_refusals", refusals_look_alike).await;
}

#[tokio::test]
async fn accounts_lock_out_per_username() {
    on_every_backend("login_account_lockout", accounts_lock_out_with_backoff).await;
}

#[tokio::test]
async fn addresses_lock_out_per_source() {
    on_every_backend("login_address_lockout", addresses_lock_out_across_usernames).await;
}

#[tokio::test]
async fn logins_upgrade_old_hashes() {
    on_every_backend("login_rehash", old_hashes_are_upgraded_on_login).await;
}
