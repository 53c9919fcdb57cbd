//! The platform's built-in routes through the gateway, and the admin listener's
//! operational endpoints, from a clean data directory.

mod common;

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes `request` on a fresh connection and reads the answer to its end.
async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out))
        .await
        .expect("the answer ends")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_shows_what_the_gateway_forwards() {
    let dir = tempfile::tempdir().unwrap();
    let platform = common::start(&common::config(dir.path())).await;
    let addr = platform.addresses().gateway;

    // Hop-by-hop headers (and every header `Connection` names) must not reach the upstream.
    let request = "POST /echo/some/where?a=1&b=two HTTP/1.1\r\nHost: demo.example\r\n\
        Connection: close, x-hop-secret\r\nX-Hop-Secret: 1\r\nKeep-Alive: timeout=5\r\n\
        Proxy-Authorization: Basic Zm9vOmJhcg==\r\nX-Kept: yes\r\nX-Forwarded-For: 203.0.113.9\r\n\
        Content-Length: 11\r\n\r\nhello world";
    let answer = raw(addr, request).await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    let echoed: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/echo/some/where");
    assert_eq!(echoed["query"], "a=1&b=two");
    assert_eq!(echoed["body_bytes"], 11);
    let headers = &echoed["headers"];
    assert_eq!(headers["x-kept"], "yes");
    assert_eq!(headers["host"], "demo.example", "Host is preserved");
    // The client's forged X-Forwarded-For is not trusted: the peer is the client.
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], "demo.example");
    assert!(headers["forwarded"].as_str().unwrap().contains("for=127.0.0.1"), "{headers}");
    assert!(headers["traceparent"].is_string(), "trace context propagated: {headers}");
    for hop in ["connection", "x-hop-secret", "keep-alive", "proxy-authorization"] {
        assert!(headers.get(hop).is_none(), "{hop} reached the upstream: {headers}");
    }
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_config_are_served_through_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let platform = common::start(&common::config(dir.path())).await;
    let gw = platform.gateway_url();

    let instance = json!({"instance": {"service": "orders", "id": "orders-1", "host": "127.0.0.1", "port": 9000}, "ttl": "30s"});
    let registered =
        common::json(Method::POST, &format!("{gw}/registry/orders/instances"), &instance, None)
            .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    let snapshot = common::get(&format!("{gw}/registry/orders"), None).await;
    assert_eq!(snapshot.status, StatusCode::OK);
    assert_eq!(snapshot.body["instances"][0]["id"], "orders-1", "{:?}", snapshot.body);
    // The same API at the base URL SDK clients use (`HttpRegistry::new(".../control")`).
    let via_control = common::get(&format!("{gw}/control/v1/registry/orders"), None).await;
    assert_eq!(via_control.body["instances"][0]["id"], "orders-1");

    let doc = json!({"format": "toml", "text": "workers = 4\n"});
    let put = common::json(Method::PUT, &format!("{gw}/config/billing/prod"), &doc, None).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let got = common::get(&format!("{gw}/config/billing/prod"), None).await;
    assert_eq!(got.body["version"], 1);
    assert_eq!(got.body["text"], "workers = 4\n");

    let bad = common::json(
        Method::POST,
        &format!("{gw}/registry/orders/instances"),
        &json!({"instance": {}}),
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "the control plane's own errors come back");
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_discovery_and_unknown_routes() {
    let dir = tempfile::tempdir().unwrap();
    let platform = common::start(&common::config(dir.path())).await;
    let gw = platform.gateway_url();

    let jwks = common::get(&format!("{gw}/.well-known/jwks.json"), None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let keys = jwks.body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{:?}", jwks.body);
    assert_eq!(
        (keys[0]["alg"].as_str(), keys[0]["crv"].as_str()),
        (Some("EdDSA"), Some("Ed25519"))
    );
    assert!(keys[0].get("d").is_none(), "no private part is published");

    let discovery = common::get(&format!("{gw}/.well-known/openid-configuration"), None).await;
    assert_eq!(discovery.body["issuer"], "http://platform.test");
    assert_eq!(discovery.body["token_endpoint"], "http://platform.test/oauth/token");

    let missing = common::get(&format!("{gw}/nowhere"), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"], "no_route");
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_reports_health_metrics_and_routes() {
    let dir = tempfile::tempdir().unwrap();
    let platform = common::start(&common::config(dir.path())).await;
    let admin = common::admin_url(&platform);
    let echo = common::get(&format!("{}/echo/x", platform.gateway_url()), None).await;
    assert_eq!(echo.status, StatusCode::OK);

    let ready = common::get(&format!("{admin}/health/ready"), None).await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);
    assert_eq!(ready.body["status"], "up");
    assert_eq!(ready.body["checks"]["database"]["status"], "up");
    assert_eq!(ready.body["checks"]["services"]["status"], "up");
    let live = common::get(&format!("{admin}/health/live"), None).await;
    assert_eq!(live.status, StatusCode::OK);

    let metrics = common::get(&format!("{admin}/metrics"), None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().expect("text exposition");
    assert!(
        text.contains(r#"http_server_requests_total{route="echo",method="GET",status="2xx"} 1"#),
        "RED metrics per route: {text}"
    );

    let routes = common::get(&format!("{admin}/admin/routes"), None).await;
    let listed = routes.body.to_string();
    for id in ["oauth", "well-known", "registry", "config", "control", "echo"] {
        assert!(listed.contains(&format!("\"{id}\"")), "{id} missing from {listed}");
    }
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_the_start_naming_the_key_before_any_account_exists() {
    let dir = tempfile::tempdir().unwrap();
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = common::config(dir.path());
    config.admin.listen = taken.local_addr().unwrap();
    let store = platform_examples::platform::open_store(&config).await.unwrap();
    let err = platform_examples::platform::Platform::start(&config, store, Default::default())
        .await
        .expect_err("the port is taken")
        .to_string();
    assert!(
        err.contains("admin.listen") && err.contains(&taken.local_addr().unwrap().to_string()),
        "{err}"
    );
    // Nothing was created, so the next start is still the first one.
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    let platform = common::start(&config).await;
    assert!(platform.bootstrap().is_some());
    platform.shutdown().await;
}
