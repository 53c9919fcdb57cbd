//! The admin listener: metrics, health probes (readiness down on shutdown), routes,
//! upstreams, the configuration status and explanations.

mod common;

use std::net::SocketAddr;

use common::{echo_upstream, get, serve};
use platform_gateway::Shutdown;
use platform_gateway::admin::Admin;
use platform_gateway::config::Resources;
use platform_gateway::reload::LiveConfig;
use platform_observe::metrics::MetricsRegistry;
use serde_json::Value;
use tokio::net::TcpListener;

async fn admin(admin: Admin) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(admin.serve(listener, std::future::pending()));
    addr
}

#[tokio::test]
async fn admin_endpoints_describe_the_running_gateway() {
    let users = echo_upstream("users").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    let text = format!(
        "[upstreams.users]\nendpoints = [\"{users}\"]\n\n[upstreams.empty]\nregistry_service = \"none\"\n\n\
         [[routes]]\nid = \"admin-only\"\npriority = 10\npath_prefix = \"/users\"\nmethods = [\"DELETE\"]\nupstream = \"users\"\n\n\
         [[routes]]\nid = \"users\"\npath_template = \"/users/{{id}}\"\nheaders = {{ x-env = \"beta\" }}\nupstream = \"users\"\n"
    );
    std::fs::write(&file, text).unwrap();
    let metrics = MetricsRegistry::new();
    let registry = std::sync::Arc::new(platform_core::registry::MemoryRegistry::new());
    let resources = Resources {
        metrics: Some(metrics.clone()),
        registry: Some(registry),
        ..Resources::default()
    };
    let live = LiveConfig::load(&file, resources).await.unwrap();
    let gw = serve(live.gateway().clone()).await;
    let shutdown = Shutdown::new();
    let admin =
        admin(Admin::new(live.gateway()).metrics(&metrics).live_config(&live).shutdown(&shutdown))
            .await;

    let (status, routes) = get(admin, "/admin/routes").await;
    assert_eq!(status, 200);
    assert_eq!(routes[0]["id"], "admin-only");
    assert_eq!(
        routes[1]["predicates"],
        serde_json::json!(["path like /users/{id}", "header x-env = \"beta\""])
    );
    assert_eq!(routes[1]["upstreams"], serde_json::json!(["users"]));

    let (_, ups) = get(admin, "/admin/upstreams").await;
    let by_name =
        |n: &str| ups.as_array().unwrap().iter().find(|u| u["name"] == n).unwrap().clone();
    let u = by_name("users");
    assert_eq!(u["endpoints"][0]["address"], users.to_string());
    assert_eq!(u["balance"], "peak_ewma");
    assert_eq!(u["serving"], true);
    assert_eq!(by_name("empty")["serving"], false);

    let (_, config) = get(admin, "/admin/config").await;
    assert_eq!(config["version"], 1);
    assert_eq!(config["hash"].as_str().unwrap().len(), 64);
    assert_eq!(config["last_attempt_ok"], true);

    // Explain: the priority route is passed over (method), the template route matches
    // only with the header.
    let (_, why) = get(admin, "/admin/explain?path=/users/42&header=x-env:%20beta").await;
    assert_eq!(why["matched"]["route"], "users", "{why}");
    assert_eq!(why["matched"]["captures"]["id"], "42");
    assert_eq!(why["matched"]["endpoint"], users.to_string());
    assert_eq!(why["skipped"][0]["route"], "admin-only");
    assert_eq!(why["skipped"][0]["failed"][0], "method GET is not DELETE");
    let (_, why) = get(admin, "/admin/explain?method=get&path=/users/42").await;
    assert_eq!(why["matched"], Value::Null);
    assert_eq!(why["skipped"][1]["failed"], serde_json::json!(["header x-env is not = \"beta\""]));
    let (_, why) = get(admin, "/admin/explain?path=/users/x/..//42&header=x-env:beta").await;
    assert_eq!(why["request"]["path"], "/users/42", "routes see the normalized path");
    assert_eq!(why["matched"]["route"], "users", "{why}");
    let (_, why) = get(admin, "/admin/explain?path=/a%252Fb").await;
    assert!(why["refused"].as_str().unwrap().starts_with("400"), "{why}");
    let (status, why) = get(admin, "/admin/explain?method=G%20T").await;
    assert_eq!(status, 400, "{why}");

    // Metrics: the request through the gateway shows up by route.
    let req = http::Request::get(format!("http://{gw}/users/1"))
        .header("x-env", "beta")
        .body(http_body_util::Full::default())
        .unwrap();
    assert_eq!(common::send(req).await.0, 200);
    let (status, text) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    let text = text.as_str().unwrap();
    assert!(text.contains("route=\"users\""), "{text}");
    assert!(text.contains("gateway_config_version 1"), "{text}");

    // Health: live; ready but degraded (an upstream without endpoints); down once the
    // shutdown begins.
    assert_eq!(get(admin, "/health/live").await.0, 200);
    let (status, ready) = get(admin, "/health/ready").await;
    assert_eq!(status, 200);
    assert_eq!(ready["status"], "degraded", "{ready}");
    shutdown.trigger();
    let (status, ready) = get(admin, "/health/ready").await;
    assert_eq!(status, 503, "{ready}");
}
