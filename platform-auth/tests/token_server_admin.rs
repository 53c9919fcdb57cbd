//! The admin API: protected by the crate's own layers and the admin policies.

mod common;

use axum::body::Body;
use common::server::*;
use http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

/// Calls the admin API with an optional bearer token.
struct Api<'a> {
    f: &'a Fixture,
    bearer: Option<String>,
}

impl<'a> Api<'a> {
    async fn as_user(f: &'a Fixture, user: &str) -> Self {
        let token = login(f, user).await.str("access_token");
        Self { f, bearer: Some(format!("Bearer {token}")) }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(b) = &self.bearer {
            req = req.header(header::AUTHORIZATION, b);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        send(&self.f.app, req.body(body).expect("req")).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> StatusCode {
        self.call(Method::PUT, path, Some(body)).await.status
    }

    async fn delete(&self, path: &str) -> StatusCode {
        self.call(Method::DELETE, path, None).await.status
    }
}

fn expect(r: &Reply, status: StatusCode, error: &str) {
    assert_eq!((r.status, r.error()), (status, error), "{}", r.json);
}

#[tokio::test]
async fn the_admin_api_is_denied_without_permission() {
    let f = fixture(false).await;
    let anonymous = Api { f: &f, bearer: None };
    let r = anonymous.get("/admin/users").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));

    let alice = Api::as_user(&f, "alice").await;
    expect(&alice.get("/admin/users").await, StatusCode::FORBIDDEN, "access_denied");
    expect(
        &alice.post("/admin/roles", json!({"name": "x"})).await,
        StatusCode::FORBIDDEN,
        "access_denied",
    );

    let svc = token(&f, &f.svc, "grant_type=client_credentials").await.str("access_token");
    let svc = Api { f: &f, bearer: Some(format!("Bearer {svc}")) };
    let r = svc.get("/admin/clients").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a client's role is not auth-admin");
}

#[tokio::test]
async fn admins_manage_users_groups_and_roles() {
    let f = fixture(false).await;
    let root = Api::as_user(&f, "root").await;
    let bob = json!({"username": "Bob", "password": PASSWORD, "attributes": {"team": "ops"}});
    let r = root.post("/admin/users", bob).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let bob = r.str("id");
    assert_eq!(r.json["username"], "bob");
    assert!(r.json.get("password_hash").is_none());
    expect(
        &root.post("/admin/users", json!({"username": "bob"})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let weak = json!({"username": "carl", "password": "short"});
    expect(&root.post("/admin/users", weak).await, StatusCode::BAD_REQUEST, "invalid_input");
    let typo = json!({"username": "carl", "pasword": "x"});
    expect(&root.post("/admin/users", typo).await, StatusCode::BAD_REQUEST, "invalid_input");

    let role = json!({"name": "orders-admin", "description": "all orders"});
    assert_eq!(root.post("/admin/roles", role).await.status, StatusCode::CREATED);
    let roles = format!("/admin/users/{bob}/roles");
    assert_eq!(
        root.post(&roles, json!({"role": "orders-admin"})).await.status,
        StatusCode::NO_CONTENT
    );
    expect(&root.post(&roles, json!({"role": "ghost"})).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        root.post("/admin/groups", json!({"name": "ops"})).await.status,
        StatusCode::CREATED
    );
    let member = json!({"user_id": bob});
    assert_eq!(root.post("/admin/groups/ops/members", member).await.status, StatusCode::NO_CONTENT);
    let viewer = json!({"role": "viewer"});
    assert_eq!(root.post("/admin/groups/ops/roles", viewer).await.status, StatusCode::NO_CONTENT);

    let r = root.get(&format!("/admin/users/{bob}")).await;
    assert_eq!(r.json["effective_roles"], json!(["orders-admin", "viewer"]), "{}", r.json);
    assert_eq!(r.json["groups"], json!(["ops"]));
    let access = login(&f, "bob").await.str("access_token");
    assert_eq!(claims(&f, &access).await.extra["roles"], json!(["orders-admin", "viewer"]));
    assert_eq!(root.get("/admin/users").await.json.as_array().map(Vec::len), Some(3));
    assert_eq!(root.delete(&format!("{roles}/orders-admin")).await, StatusCode::NO_CONTENT);
    assert_eq!(root.delete(&format!("{roles}/orders-admin")).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admins_manage_clients_and_api_keys() {
    let f = fixture(false).await;
    let root = Api::as_user(&f, "root").await;
    let new = json!({"id": "cli", "grants": ["client_credentials"], "scopes": ["a"]});
    let r = root.post("/admin/clients", new).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert!(r.json["client"].get("secret_hash").is_none());
    // The secret is shown once, and works.
    let cli = ("cli".to_owned(), r.str("client_secret"));
    assert_eq!(token(&f, &cli, "grant_type=client_credentials").await.status, StatusCode::OK);
    assert_eq!(root.get("/admin/clients/cli").await.json["grants"], json!(["client_credentials"]));
    assert_eq!(root.delete("/admin/clients/cli").await, StatusCode::NO_CONTENT);
    assert_eq!(root.get("/admin/clients/cli").await.status, StatusCode::NOT_FOUND);
    let gone = token(&f, &cli, "grant_type=client_credentials").await;
    assert_eq!(gone.error(), "invalid_client");

    let key = json!({"name": "ci", "subject": f.alice_id, "scopes": ["deploy"], "ttl_secs": 3600});
    let r = root.post("/admin/api-keys", key).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let key_id = r.json["record"]["id"].as_str().expect("id").to_owned();
    assert!(r.str("api_key").starts_with("pk_"));
    let listed = root.get(&format!("/admin/api-keys?subject={}", f.alice_id)).await.json;
    assert_eq!(listed[0]["id"], key_id.as_str());
    assert!(listed[0].get("secret_hash").is_none());
    assert_eq!(root.get("/admin/api-keys").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(root.delete(&format!("/admin/api-keys/{key_id}")).await, StatusCode::NO_CONTENT);
    assert_eq!(root.delete("/admin/api-keys/ffffffffffffffff").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn disabling_or_deleting_a_user_ends_its_sessions() {
    let f = fixture(false).await;
    let root = Api::as_user(&f, "root").await;
    let rt = login(&f, "alice").await.str("refresh_token");
    let path = format!("/admin/users/{}/disabled", f.alice_id);
    assert_eq!(root.put(&path, json!({"disabled": true})).await, StatusCode::NO_CONTENT);
    assert_eq!(refresh(&f, &rt, "").await.error(), "invalid_grant");
    assert_eq!(login(&f, "alice").await.error(), "invalid_grant");

    assert_eq!(root.put(&path, json!({"disabled": false})).await, StatusCode::NO_CONTENT);
    let pw = format!("/admin/users/{}/password", f.alice_id);
    let new_pw = json!({"password": "a new long passphrase"});
    assert_eq!(root.put(&pw, new_pw).await, StatusCode::NO_CONTENT);
    let form = "grant_type=password&username=alice&password=a+new+long+passphrase";
    let r = token(&f, &f.web, form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let rt = r.str("refresh_token");
    let user = format!("/admin/users/{}", f.alice_id);
    assert_eq!(root.delete(&user).await, StatusCode::NO_CONTENT);
    assert_eq!(root.delete(&user).await, StatusCode::NOT_FOUND);
    assert_eq!(refresh(&f, &rt, "").await.error(), "invalid_grant");
}
