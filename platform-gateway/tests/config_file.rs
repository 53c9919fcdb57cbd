//! A TOML file builds the same gateway as the builder API, and its errors name the
//! file, route and field.

mod common;

use std::io::Write;

use common::{echo_upstream, get, serve};
use http::StatusCode;
use platform_gateway::config::{GatewayConfig, Resources};

#[tokio::test]
async fn a_config_file_serves_its_routes() {
    let a = echo_upstream("a").await;
    let b = echo_upstream("b").await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        r#"
[upstreams.users]
endpoints = ["{a}", "{b}"]
balance = {{ policy = "round_robin" }}

[[routes]]
id = "users"
path_template = "/api/users/{{id}}"
rewrite_path = "/users/{{id}}"
upstream = "users"
response_headers = {{ set = {{ "x-gateway" = "platform" }} }}

[[routes]]
id = "health"
path = "/health"
priority = 5
upstream = "users"
"#
    )
    .unwrap();
    let config = GatewayConfig::load(file.path()).unwrap();
    let gateway = config.build(&Resources::default()).await.unwrap();
    assert_eq!(gateway.routes().ids().collect::<Vec<_>>(), ["health", "users"]);
    let gw = serve(gateway).await;
    let (status, first) = get(gw, "/api/users/7").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["uri"], "/users/7");
    let (_, second) = get(gw, "/api/users/8").await;
    assert_ne!(first["upstream"], second["upstream"], "round robin over both endpoints");
    assert_eq!(get(gw, "/api/other").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bad_file_names_file_route_and_field() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "[upstreams.u]\nendpoints = [\"127.0.0.1:1\"]\n\n[[routes]]\nid = \"orders\"\nupstream = \"u\"\ntimeout = \"soon\"\n").unwrap();
    let err = GatewayConfig::load(file.path()).unwrap_err().to_string();
    let expected = format!("{}:7: route `orders`: `timeout`:", file.path().display());
    assert!(err.starts_with(&expected), "{err}");

    let missing = GatewayConfig::load("/nonexistent/gateway.toml").unwrap_err().to_string();
    assert!(missing.starts_with("/nonexistent/gateway.toml: cannot read the file"), "{missing}");
}

#[tokio::test]
async fn a_registry_upstream_needs_a_registry() {
    let config = GatewayConfig::from_toml(
        "[upstreams.u]\nregistry_service = \"users\"\n[[routes]]\nid = \"r\"\nupstream = \"u\"\n",
        None,
    )
    .unwrap();
    let err = config.build(&Resources::default()).await.unwrap_err().to_string();
    assert!(err.starts_with("upstream `u`: `registry_service`:"), "{err}");
}
