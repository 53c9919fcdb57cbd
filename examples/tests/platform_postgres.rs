//! The platform on PostgreSQL (`database.url = "postgres://…"`): every SQL store —
//! identities, clients, refresh tokens, revocations, API keys, canary rollouts, the
//! audit log — on the server, and a restart keeping them. Skipped without
//! `PLATFORM_TEST_POSTGRES_URL`.

mod common;

use http::{Method, StatusCode};
use platform_core::store::StoreConfig;
use platform_core::test_util::{PgSchema, Service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_keeps_its_state_in_postgres() {
    let test = "platform_postgres";
    let Some(url) = Service::Postgres.url_or_skip(test).await else { return };
    let schema = PgSchema::create(&url, test).await.expect("schema");
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    let mut db = StoreConfig::new(&url);
    db.schema = Some(schema.name().to_owned());
    config.database = Some(db);
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        "upstreams.v1.endpoints = [\"127.0.0.1:9\"]\nupstreams.v2.endpoints = [\"127.0.0.1:9\"]\n\
         [[routes]]\nid = \"demo\"\npath_prefix = \"/demo\"\n\
         canary = { stable = \"v1\", canary = \"v2\", plan = { steps = [10, 100] } }\n",
    )
    .unwrap();
    config.gateway.routes_file = Some(routes);

    let first = common::start(&config).await;
    let bootstrap = first.bootstrap().expect("first start").clone();
    let token = common::admin_token(&first).await;
    let pause = format!("{}/admin/canary/demo/pause", common::admin_url(&first));
    let paused = common::json(Method::POST, &pause, &serde_json::json!({}), Some(&token)).await;
    assert_eq!(paused.status, StatusCode::OK, "{:?}", paused.body);
    first.shutdown().await;
    assert!(!dir.path().join("data/platform.db").exists(), "no SQLite file when on PostgreSQL");

    let second = common::start(&config).await;
    assert!(second.bootstrap().is_none(), "the administrator is in PostgreSQL");
    let admin = common::admin_url(&second);
    let users = common::get(&format!("{admin}/admin/users"), Some(&token)).await;
    assert_eq!(users.status, StatusCode::OK, "{:?}", users.body);
    let again =
        common::login(&second.gateway_url(), &bootstrap, "admin", common::ADMIN_PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    let canary = common::get(&format!("{admin}/admin/canary/demo"), None).await;
    assert_eq!(canary.body["phase"], "paused", "the rollout is in PostgreSQL: {:?}", canary.body);
    assert_eq!(canary.body["revision"], paused.body["revision"]);
    let verify = common::get(&format!("{admin}/admin/audit/verify"), Some(&token)).await;
    assert_eq!(verify.body["valid"], true, "{:?}", verify.body);
    second.shutdown().await;
    schema.cleanup().await.expect("drop schema");
}
