//! Routes of one's own (`gateway.routes_file`): an upstream that follows the platform's
//! registry, and reloads of the file while the platform runs.

mod common;

use std::time::Duration;

use common::eventually;
use http::{Method, StatusCode};
use serde_json::json;

const ROUTES: &str = "[upstreams.demo]\nregistry_service = \"demo\"\n\n\
    [[routes]]\nid = \"demo\"\npath_prefix = \"/demo\"\nupstream = \"demo\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_routes_follow_the_registry_and_reload_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let routes_file = dir.path().join("routes.toml");
    std::fs::write(&routes_file, ROUTES).unwrap();
    let mut config = common::config(dir.path());
    config.gateway.routes_file = Some(routes_file.clone());
    let platform = common::start(&config).await;
    let gw = platform.gateway_url();

    // No instance registered yet: the route exists, its upstream has no endpoint.
    let empty = common::get(&format!("{gw}/demo/x"), None).await;
    assert_eq!(empty.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", empty.body);

    // Register the echo service as `demo` through the gateway's registry API: the
    // gateway's upstream follows the same registry.
    let echo = platform.addresses().services.echo;
    let instance = json!({"instance": {"service": "demo", "id": "demo-1", "host": echo.ip().to_string(), "port": echo.port()}, "ttl": "60s"});
    let registered =
        common::json(Method::POST, &format!("{gw}/registry/demo/instances"), &instance, None).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    eventually("routing to the registered instance", || async {
        let answer = common::get(&format!("{gw}/demo/x"), None).await;
        answer.status == StatusCode::OK && answer.body["path"] == "/demo/x"
    })
    .await;

    // A new route in the file is applied while the platform runs.
    let more = format!(
        "{ROUTES}\n[[routes]]\nid = \"demo-v2\"\npath_prefix = \"/v2\"\nstrip_prefix = \"/v2\"\nupstream = \"demo\"\n"
    );
    std::fs::write(&routes_file, more).unwrap();
    eventually("the new route", || async {
        let answer = common::get(&format!("{gw}/v2/hello"), None).await;
        answer.status == StatusCode::OK && answer.body["path"] == "/hello"
    })
    .await;
    assert!(platform.gateway().routes().ids().any(|id| id == "echo"), "built-in routes are kept");

    // A broken file is refused: the configuration in force stays.
    std::fs::write(&routes_file, "[[routes]]\nid = \"broken\"\ntimeout = \"soon\"\n").unwrap();
    let status_before = platform.live_config().status().version;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(platform.live_config().status().version, status_before, "nothing applied");
    assert_eq!(common::get(&format!("{gw}/v2/hello"), None).await.status, StatusCode::OK);

    // A file naming a built-in upstream is refused too.
    std::fs::write(&routes_file, "[upstreams.platform-echo]\nendpoints = [\"127.0.0.1:1\"]\n")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(common::get(&format!("{gw}/echo/still"), None).await.status, StatusCode::OK);
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_routes_file_fails_the_start_before_any_account_exists() {
    let dir = tempfile::tempdir().unwrap();
    let routes_file = dir.path().join("routes.toml");
    std::fs::write(&routes_file, "[listen]\naddress = \"127.0.0.1:1\"\n").unwrap();
    let mut config = common::config(dir.path());
    config.gateway.routes_file = Some(routes_file.clone());
    let store = platform_examples::platform::open_store(&config).await.unwrap();
    let err = platform_examples::platform::Platform::start(&config, store, Default::default())
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.contains("routes.toml") && err.contains("gateway.listen"), "{err}");

    std::fs::write(&routes_file, ROUTES).unwrap();
    let platform = common::start(&config).await;
    assert!(platform.bootstrap().is_some(), "the failed start created no account");
    platform.shutdown().await;
}
