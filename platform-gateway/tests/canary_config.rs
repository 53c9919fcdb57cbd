//! A canary route target in the TOML configuration: it builds and serves, and mistakes
//! are reported with the route and the field.

mod canary_support;
mod common;

use canary_support::config_text as config;
use common::{serve, status_upstream, who};
use platform_gateway::canary::{Phase, Rollouts};
use platform_gateway::config::{GatewayConfig, Resources};

const CANARY: &str = r#"
stable = "users-v1"
canary = "users-v2"
cohort = [{ header = "x-user-id" }, "client_address"]
override_header = "x-canary"
plan = { steps = [5, { weight = 50, min_requests = 500 }, 100], min_duration = "5m", min_requests = 200 }
analysis = { interval = "1h", max_error_rate_increase = 0.02, max_p99_ratio = 2.0, on_failure = "rollback_gradual" }
"#;

#[tokio::test]
async fn a_canary_route_builds_and_serves() {
    let stable = status_upstream("users-v1", 200).await;
    let next = status_upstream("users-v2", 200).await;
    let text = config(&stable.to_string(), &next.to_string(), CANARY);
    let config = GatewayConfig::from_toml(&text, None).unwrap();
    let spec = config.routes[0].canary.as_ref().unwrap();
    assert_eq!(spec.canary, ["users-v2"]);
    assert_eq!(spec.plan.as_ref().unwrap().steps[1].min_requests, Some(500));
    let rollouts = Rollouts::in_memory();
    let resources = Resources { rollouts: Some(rollouts.clone()), ..Resources::default() };
    let gateway = config.build(&resources).await.unwrap();
    let canary = rollouts.get("users").expect("registered under the route id");
    assert_eq!(canary.state().unwrap().state.phase, Phase::Progressing);
    assert_eq!(canary.weights()[1], ("users-v2".to_owned(), 5.0));
    let addr = serve(gateway).await;
    let (_, forced) = who(addr, "/users/1", &[("x-canary", "users-v2")]).await;
    assert_eq!(forced, "users-v2");
    let (_, stable_by_name) = who(addr, "/users/1", &[("x-canary", "users-v1")]).await;
    assert_eq!(stable_by_name, "users-v1");
}

async fn error_of(canary: &str) -> String {
    let text = config("127.0.0.1:9", "127.0.0.1:9", canary);
    match GatewayConfig::from_toml(&text, Some(std::path::Path::new("gateway.toml"))) {
        Err(e) => e.to_string(),
        Ok(c) => c
            .build(&Resources::default())
            .await
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string()),
    }
}

#[tokio::test]
async fn mistakes_name_the_file_route_and_field() {
    let cases = [
        (
            "stable = \"users-v1\"\ncanary = \"users-v2\"\nplan = { steps = [50, 25] }",
            "gateway.toml: route `users`: `canary.plan.steps[1]`: weights must increase",
        ),
        (
            "stable = \"users-v1\"\ncanary = \"users-v3\"",
            "route `users`: `canary.canary`: names upstream `users-v3`, which is not defined",
        ),
        (
            "stable = \"users-v1\"\ncanary = \"users-v2\"\nweight = 120",
            "route `users`: `canary.weight`: is 120",
        ),
        (
            "stable = \"users-v1\"\ncanary = \"users-v2\"\ncohort = [{ header = \"bad header\" }]",
            "route `users`: `canary.cohort[0]`",
        ),
        (
            "stable = \"users-v1\"\ncanary = \"users-v2\"\nanalysis = { max_p99_ratio = 0.5 }",
            "`canary.analysis.max_p99_ratio`: is 0.5",
        ),
        (
            "stable = \"users-v1\"\ncanary = \"users-v2\"\nplan = { steps = [5], min_durations = \"1m\" }",
            "`canary.plan.min_durations`",
        ),
        (
            "stable = \"users-v1\"\ncanary = [\"users-v2\", \"users-v1\"]",
            "version `users-v1` is listed twice",
        ),
    ];
    for (canary, expected) in cases {
        let message = error_of(canary).await;
        assert!(message.contains(expected), "{canary}\n => {message}\n expected {expected}");
    }
}

#[tokio::test]
async fn a_route_names_one_target_and_rollouts_are_unique() {
    let both = config("127.0.0.1:9", "127.0.0.1:9", "stable = \"users-v1\"\ncanary = \"users-v2\"")
        .replace("path_prefix = \"/users\"", "path_prefix = \"/users\"\nupstream = \"users-v1\"");
    let message = GatewayConfig::from_toml(&both, None).unwrap_err().to_string();
    assert!(message.contains("route `users`: `canary`: give one of"), "{message}");

    let mut twice = config(
        "127.0.0.1:9",
        "127.0.0.1:9",
        "name = \"shared\"\nstable = \"users-v1\"\ncanary = \"users-v2\"",
    );
    twice.push_str("\n[[routes]]\nid = \"other\"\npath_prefix = \"/other\"\n[routes.canary]\nname = \"shared\"\nstable = \"users-v1\"\ncanary = \"users-v2\"\n");
    let message = GatewayConfig::from_toml(&twice, None).unwrap_err().to_string();
    assert!(
        message.contains("route `other`: `canary.name`: rollout `shared` is used by two routes"),
        "{message}"
    );
}
