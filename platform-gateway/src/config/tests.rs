use std::path::Path;

use super::*;

fn err(text: &str) -> String {
    GatewayConfig::from_toml(text, Some(Path::new("gw.toml"))).unwrap_err().to_string()
}

#[cfg(feature = "cors")]
#[test]
fn a_full_file_parses() {
    let c = GatewayConfig::from_toml(
        r#"
        [proxy]
        max_body_bytes = 1024
        [proxy.path]
        encoded_slash = "decode"
        [server]
        header_read_timeout = "3s"
        [upstreams.a]
        endpoints = ["127.0.0.1:1"]
        balance = { policy = "consistent_hash", key = { header = "x-user" }, load_factor = 1.5 }
        [upstreams.b]
        registry_service = "b"
        outlier = { consecutive_failures = 3 }
        [[routes]]
        id = "r"
        methods = ["get", "POST"]
        hosts = ["*.example.com"]
        path_template = "/u/{id}"
        rewrite_path = "/users/{id}"
        headers = { "x-env" = "beta", "x-debug" = { present = true } }
        cookies = { canary = { prefix = "1" } }
        upstreams = { a = 9, b = 1 }
        host_header = { set = "internal" }
        request_headers = { set = { "x-a" = "1" }, remove = ["x-b"] }
        rate_limit = { rate = 10, period = "1s" }
        rate_limit_key = { header = "x-api-key" }
        circuit_breaker = { failure_rate_threshold = 0.5 }
        cors = { allow_origins = ["https://app.example"], max_age = "10m" }
        "#,
        None,
    )
    .unwrap();
    assert_eq!(c.proxy.max_body_bytes, 1024);
    assert_eq!(c.server.header_read_timeout, std::time::Duration::from_secs(3));
    assert_eq!(c.upstreams["b"].registry_service.as_deref(), Some("b"));
    assert_eq!(c.upstreams["b"].config.outlier.consecutive_failures, 3);
    assert_eq!(c.routes[0].upstreams.len(), 2);
}

#[test]
fn route_errors_name_file_line_route_and_field() {
    let e = err(
        "[upstreams.a]\nendpoints = [\"127.0.0.1:1\"]\n\n[[routes]]\nid = \"users\"\nupstream = \"a\"\nretry = { max_attempts = \"three\" }\n",
    );
    assert!(e.starts_with("gw.toml:7: route `users`: `retry.max_attempts`:"), "{e}");

    let e = err("[[routes]]\nid = \"users\"\nupstream = \"nope\"\n");
    assert_eq!(
        e,
        "gw.toml: route `users`: `upstream`: names upstream `nope`, which is not defined under [upstreams]"
    );

    let e = err(
        "[[routes]]\nid = \"users\"\nupstream = \"a\"\npath_template = \"/u/{}\"\n[upstreams.a]\nendpoints = [\"127.0.0.1:1\"]\n",
    );
    assert!(e.starts_with("gw.toml: route `users`: `path_template`:"), "{e}");

    let e = err("[[routes]]\nid = \"users\"\nupstraem = \"a\"\n");
    assert!(e.contains("route `users`") && e.contains("upstraem"), "{e}");
}

#[test]
fn upstream_errors_name_the_upstream_and_field() {
    let e = err("[upstreams.users]\nendpoints = [\"127.0.0.1:1\"]\nconect_timeout = \"1s\"\n");
    assert!(e.starts_with("gw.toml: upstream `users`: "), "{e}");
    assert!(e.contains("conect_timeout"), "{e}");

    let e = err(
        "[upstreams.users]\nendpoints = [\"127.0.0.1:1\"]\nbalance = { policy = \"consistent_hash\", key = \"client_address\", load_factor = 0.5 }\n",
    );
    assert!(e.contains("upstream `users`: `balance.load_factor`: is 0.5"), "{e}");

    let e = err("[upstreams.users]\nconnect_timeout = \"1s\"\n");
    assert!(e.contains("`endpoints`: give `endpoints` or `registry_service`"), "{e}");
}

#[test]
fn server_workers_is_a_count_of_at_least_one() {
    let c = GatewayConfig::from_toml("[server]\nworkers = 3\n", None).unwrap();
    assert_eq!(c.server.worker_count(), 3);
    let e = err("[server]\nworkers = 0\n");
    assert!(e.starts_with("gw.toml:2: ") && e.contains("server.workers"), "{e}");
    assert!(e.contains("nonzero"), "{e}");
}

#[test]
fn server_yield_after_is_a_duration() {
    let c = GatewayConfig::from_toml("[server]\nyield_after = \"500us\"\n", None).unwrap();
    assert_eq!(c.server.yield_after, std::time::Duration::from_micros(500));
    let c = GatewayConfig::from_toml("[server]\nworkers = 2\n", None).unwrap();
    assert_eq!(c.server.yield_after, std::time::Duration::from_millis(1), "the default");
    let e = err("[server]\nyield_after = \"soon\"\n");
    assert!(e.starts_with("gw.toml:2: ") && e.contains("server.yield_after"), "{e}");
}

#[test]
fn syntax_errors_give_the_line() {
    let e = err("[proxy]\nmax_headers = \n");
    assert!(e.starts_with("gw.toml:2: "), "{e}");
}

#[cfg(feature = "canary")]
#[test]
fn canaries_built_from_one_set_of_resources_share_one_rollout_store() {
    let own = Resources::default().with_own_rollouts();
    let store = own.rollouts.as_ref().expect("a store of its own").store().clone();
    let again = own.with_own_rollouts();
    let kept = again.rollouts.expect("kept").store().clone();
    assert!(std::sync::Arc::ptr_eq(&store, &kept), "filled once, then kept");
}
