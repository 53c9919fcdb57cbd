//! One conformance suite for every `IdentityStore`: memory, SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use common::stores::for_each_sql;
use platform_auth::error::StoreError;
use platform_auth::identity::{
    Grantee, Group, IdentityStore, MemoryIdentityStore, Role, User, UserRecord,
};
use platform_auth::sql::SqlIdentityStore;
use serde_json::json;

fn user(id: &str, name: &str) -> UserRecord {
    let mut attributes = serde_json::Map::new();
    attributes.insert("team".into(), json!("payments"));
    let mut user = User::new(id, name, 7);
    user.attributes = attributes;
    UserRecord::new(user, Some(format!("$argon2id$hash-of-{name}")))
}

fn not_found(r: Result<(), StoreError>, what: &str, backend: &str) {
    match r {
        Err(StoreError::NotFound(m)) => assert_eq!(m, what, "{backend}"),
        other => panic!("{backend}: expected NotFound({what}), got {other:?}"),
    }
}

async fn users(s: &dyn IdentityStore, b: &str) {
    s.insert_user(&user("u1", "bob")).await.expect("insert");
    s.insert_user(&user("u2", "alice")).await.expect("insert");
    let dup = s.insert_user(&user("u3", "bob")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(ref m)) if m == "user `bob`"), "{b}: {dup:?}");
    let got = s.user("u1").await.expect("get").expect("found");
    assert_eq!(got, user("u1", "bob"), "{b}");
    assert_eq!(s.user_by_name("alice").await.expect("get").expect("found").user.id, "u2", "{b}");
    assert!(s.user("nope").await.expect("get").is_none(), "{b}");
    let names: Vec<_> =
        s.list_users().await.expect("list").into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob"], "{b}");

    let mut changed = got.user.clone();
    changed.disabled = true;
    changed.attributes.insert("level".into(), json!(3));
    assert!(s.update_user(&changed).await.expect("update"), "{b}");
    assert_eq!(s.user("u1").await.expect("get").expect("found").user, changed, "{b}");
    assert!(s.set_password_hash("u1", "$new").await.expect("set"), "{b}");
    let hash = s.user("u1").await.expect("get").expect("found").password_hash;
    assert_eq!(hash.as_deref(), Some("$new"), "{b}");
    assert!(!s.set_password_hash("nope", "$x").await.expect("set"), "{b}");
    let mut ghost = changed.clone();
    ghost.id = "nope".into();
    assert!(!s.update_user(&ghost).await.expect("update"), "{b}");
}

async fn groups_and_roles(s: &dyn IdentityStore, b: &str) {
    s.insert_group(&Group::new("ops", "on call")).await.expect("group");
    s.insert_group(&Group::new("dev", "")).await.expect("group");
    let dup = s.insert_group(&Group::new("ops", "again")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{b}: {dup:?}");
    let names: Vec<_> = s.list_groups().await.expect("list").into_iter().map(|g| g.name).collect();
    assert_eq!(names, ["dev", "ops"], "{b}");

    s.add_member("ops", "u1").await.expect("member");
    s.add_member("ops", "u1").await.expect("idempotent");
    s.add_member("dev", "u1").await.expect("member");
    s.add_member("ops", "u2").await.expect("member");
    not_found(s.add_member("nope", "u1").await, "group `nope`", b);
    not_found(s.add_member("ops", "ghost").await, "user `ghost`", b);
    assert_eq!(s.groups_of("u1").await.expect("groups"), ["dev", "ops"], "{b}");
    assert_eq!(s.members("ops").await.expect("members"), ["u1", "u2"], "{b}");

    for r in ["admin", "reader", "writer"] {
        s.insert_role(&Role::new(r, format!("{r} role"))).await.expect("role");
    }
    assert!(matches!(s.insert_role(&Role::new("admin", "")).await, Err(StoreError::Conflict(_))));
    let (u1, ops, dev) =
        (Grantee::User("u1".into()), Grantee::Group("ops".into()), Grantee::Group("dev".into()));
    s.grant(&u1, "writer").await.expect("grant");
    s.grant(&u1, "writer").await.expect("idempotent");
    s.grant(&ops, "reader").await.expect("grant");
    s.grant(&dev, "writer").await.expect("grant");
    not_found(s.grant(&u1, "ghost-role").await, "role `ghost-role`", b);
    not_found(s.grant(&Grantee::User("ghost".into()), "reader").await, "user `ghost`", b);
    not_found(s.grant(&Grantee::Group("ghost".into()), "reader").await, "group `ghost`", b);
    assert_eq!(s.roles_of(&u1).await.expect("roles"), ["writer"], "{b}");
    assert_eq!(s.effective_roles("u1").await.expect("roles"), ["reader", "writer"], "{b}");
    assert_eq!(s.effective_roles("u2").await.expect("roles"), ["reader"], "{b}");
    assert!(s.effective_roles("nobody").await.expect("roles").is_empty(), "{b}");

    assert!(s.revoke(&u1, "writer").await.expect("revoke"), "{b}");
    assert!(!s.revoke(&u1, "writer").await.expect("revoke twice"), "{b}");
    assert_eq!(s.effective_roles("u1").await.expect("roles"), ["reader", "writer"], "via dev");
    assert!(s.remove_member("dev", "u1").await.expect("remove"), "{b}");
    assert!(!s.remove_member("dev", "u1").await.expect("remove twice"), "{b}");
    assert_eq!(s.effective_roles("u1").await.expect("roles"), ["reader"], "{b}");

    // Deletes cascade to memberships and grants.
    s.grant(&u1, "admin").await.expect("grant");
    assert!(s.delete_role("admin").await.expect("delete"), "{b}");
    assert!(!s.delete_role("admin").await.expect("delete twice"), "{b}");
    assert_eq!(s.roles_of(&u1).await.expect("roles"), Vec::<String>::new(), "{b}");
    assert!(s.delete_group("ops").await.expect("delete"), "{b}");
    assert!(s.effective_roles("u1").await.expect("roles").is_empty(), "{b}");
    assert!(s.groups_of("u1").await.expect("groups").is_empty(), "{b}");
    s.add_member("dev", "u2").await.expect("member");
    s.grant(&Grantee::User("u2".into()), "writer").await.expect("grant");
    assert!(s.delete_user("u2").await.expect("delete"), "{b}");
    assert!(!s.delete_user("u2").await.expect("delete twice"), "{b}");
    assert!(s.members("dev").await.expect("members").is_empty(), "{b}");
    assert!(s.user_by_name("alice").await.expect("get").is_none(), "{b}");
    let roles: Vec<_> = s.list_roles().await.expect("roles").into_iter().map(|r| r.name).collect();
    assert_eq!(roles, ["reader", "writer"], "{b}");
}

async fn failure_counters(s: Arc<dyn IdentityStore>, b: &str) {
    assert!(s.failures("user:x").await.expect("get").is_none(), "{b}");
    for (i, at) in [(1, 100), (2, 110), (3, 120)] {
        let f = s.record_failure("user:x", at, 60).await.expect("record");
        assert_eq!((f.count, f.last_at), (i, at), "{b}");
    }
    let f = s.record_failure("user:x", 180, 60).await.expect("record");
    assert_eq!(f.count, 1, "{b}: 60 s after the last failure the counter starts again");
    s.clear_failures("user:x").await.expect("clear");
    assert!(s.failures("user:x").await.expect("get").is_none(), "{b}");

    let racers: Vec<_> = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.record_failure("addr:10.0.0.1", 500, 60).await })
        })
        .collect();
    for r in racers {
        r.await.expect("join").expect("record");
    }
    let f = s.failures("addr:10.0.0.1").await.expect("get").expect("counted");
    assert_eq!(f.count, 16, "{b}: concurrent failures are all counted");
}

async fn conformance(s: Arc<dyn IdentityStore>, b: &str) {
    users(s.as_ref(), b).await;
    groups_and_roles(s.as_ref(), b).await;
    failure_counters(s, b).await;
}

#[tokio::test]
async fn identity_stores_behave_the_same_on_every_backend() {
    conformance(Arc::new(MemoryIdentityStore::default()), "memory").await;
    let make = |s| -> Arc<dyn IdentityStore> { Arc::new(SqlIdentityStore::new(s)) };
    for_each_sql("identity_store", make, conformance).await;
}
