//! OAuth clients on every backend: registration, lookup, authentication.

mod common;

use std::sync::Arc;

use common::stores::for_each_sql;
use platform_auth::error::StoreError;
use platform_auth::server::{ClientStore, Clients, GrantType, MemoryClientStore, NewClient};
use platform_auth::sql::SqlClientStore;

async fn conformance(store: Arc<dyn ClientStore>, b: &'static str) {
    let clients = Clients::from_shared(store.clone());
    let new = NewClient::new("web", [GrantType::Password, GrantType::RefreshToken])
        .scopes(["a", "b"])
        .roles(["r"]);
    let (secret, client) = clients.create(new.clone()).await.expect("create");
    assert!(secret.starts_with("cs_") && secret.len() > 40, "{b}");
    let stored = store.get("web").await.expect("get").expect("found");
    assert_eq!(stored, client, "{b}");
    assert!(!secret.contains(&stored.secret_hash), "{b}: only the hash is stored");
    assert!(
        matches!(
            clients.create(new).await,
            Err(platform_auth::identity::IdentityError::Store(StoreError::Conflict(_)))
        ),
        "{b}"
    );
    let bad = NewClient::new("not ok", [GrantType::Password]);
    assert!(clients.create(bad).await.is_err(), "{b}: ids are checked");
    clients.create(NewClient::new("api", [GrantType::ClientCredentials])).await.expect("create");

    assert_eq!(
        clients.authenticate("web", &secret).await.expect("auth").map(|c| c.id),
        Some("web".into()),
        "{b}"
    );
    assert!(clients.authenticate("web", "cs_wrong").await.expect("auth").is_none(), "{b}");
    assert!(clients.authenticate("ghost", &secret).await.expect("auth").is_none(), "{b}");
    let ids: Vec<_> = store.list().await.expect("list").into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["api", "web"], "{b}");
    assert!(store.delete("web").await.expect("delete"), "{b}");
    assert!(!store.delete("web").await.expect("delete"), "{b}");
    assert!(store.get("web").await.expect("get").is_none(), "{b}");
}

#[tokio::test]
async fn clients_behave_the_same_on_every_backend() {
    conformance(Arc::new(MemoryClientStore::default()), "memory").await;
    let make = |s| -> Arc<dyn ClientStore> { Arc::new(SqlClientStore::new(s)) };
    for_each_sql("client_store", make, conformance).await;
}
