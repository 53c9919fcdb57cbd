//! Policy documents in the database: publish, reload by version, poll; every backend.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::stores::for_each_sql;
use platform_auth::authz::{
    Authorizer, AuthzRequest, MemoryPolicyStore, PermissionSpec, PolicyAuthorizer, PolicyDocument,
    PolicyError, PolicySet, PolicyStore, Resource, RolePolicy,
};
use platform_auth::sql::SqlPolicyStore;
use platform_auth::{CredentialKind, Principal};

fn doc(action: &str) -> PolicyDocument {
    PolicyDocument::new()
        .role("viewer", RolePolicy::new("").permission(PermissionSpec::new(action, "orders/**")))
}

fn allows(a: &PolicyAuthorizer, action: &str) -> bool {
    let p = Principal::new("u", CredentialKind::Bearer, vec![]).with_roles(["viewer"]);
    a.authorize(&AuthzRequest::new(&p, action, &Resource::new("orders/1"))).is_allowed()
}

async fn conformance(store: Arc<dyn PolicyStore>, b: &str) {
    let writer = PolicyAuthorizer::new(PolicySet::empty());
    let reader = PolicyAuthorizer::new(PolicySet::empty());
    assert!(!reader.reload_from(store.as_ref(), "orders").await.expect("nothing yet"), "{b}");

    assert_eq!(writer.publish(store.as_ref(), "orders", doc("orders:read")).await.expect("v1"), 1);
    assert!(allows(&writer, "orders:read"), "{b}: applied where published");
    assert!(reader.reload_from(store.as_ref(), "orders").await.expect("reload"), "{b}");
    assert!(allows(&reader, "orders:read"), "{b}");
    assert!(!reader.reload_from(store.as_ref(), "orders").await.expect("same"), "{b}: unchanged");
    assert_eq!(reader.policies().origin(), "database policy \"orders\" v1", "{b}");

    // An invalid document is never saved.
    let bad =
        doc("orders:read").role("x", RolePolicy::new("").permission(PermissionSpec::new("", "**")));
    let e = writer.publish(store.as_ref(), "orders", bad).await.expect_err("invalid");
    assert!(matches!(e, PolicyError::Invalid { ref field, .. } if field == "action"), "{b}: {e}");
    assert_eq!(store.load("orders").await.expect("load").expect("doc").version, 1, "{b}");

    assert_eq!(writer.publish(store.as_ref(), "orders", doc("orders:list")).await.expect("v2"), 2);
    assert!(reader.reload_from(store.as_ref(), "orders").await.expect("reload"), "{b}");
    assert!(allows(&reader, "orders:list") && !allows(&reader, "orders:read"), "{b}");

    // A corrupt stored document (written past `publish`) keeps the current policies.
    store.save("orders", "{\"roles\": 7}", 0).await.expect("raw save");
    let e = reader.reload_from(store.as_ref(), "orders").await.expect_err("corrupt");
    assert!(e.to_string().starts_with("database policy \"orders\": at `roles`"), "{b}: {e}");
    assert!(allows(&reader, "orders:list"), "{b}: last good policies stay");
    assert_eq!(store.load("other").await.expect("load"), None, "{b}");
}

#[tokio::test]
async fn policy_documents_reload_by_version_on_every_backend() {
    conformance(Arc::new(MemoryPolicyStore::default()), "memory").await;
    let make = |s| -> Arc<dyn PolicyStore> { Arc::new(SqlPolicyStore::new(s)) };
    for_each_sql("authz_store", make, conformance).await;
}

#[tokio::test(start_paused = true)]
async fn polling_picks_up_new_versions() {
    let store: Arc<dyn PolicyStore> = Arc::new(MemoryPolicyStore::default());
    let admin = PolicyAuthorizer::new(PolicySet::empty());
    admin.publish(store.as_ref(), "orders", doc("orders:read")).await.expect("v1");
    let instance = PolicyAuthorizer::new(PolicySet::empty());
    let watch = instance.poll_store(store.clone(), "orders", Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(allows(&instance, "orders:read"), "first poll at start");

    admin.publish(store.as_ref(), "orders", doc("orders:list")).await.expect("v2");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(allows(&instance, "orders:read"), "not before the next poll");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(allows(&instance, "orders:list"), "after the poll interval");

    drop(watch);
    admin.publish(store.as_ref(), "orders", doc("orders:delete")).await.expect("v3");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!allows(&instance, "orders:delete"), "dropping the watch stops polling");
}
