//! Per-version canary metrics in a platform-observe registry.

mod canary_support;

use std::time::Duration;

use canary_support::*;
use platform_gateway::canary::{CanaryMetrics, RolloutPlan, Rollouts};
use platform_observe::metrics::MetricsRegistry;

#[tokio::test]
async fn metrics_per_version_and_decision() {
    let registry = MetricsRegistry::new();
    let metrics = CanaryMetrics::new(&registry).unwrap();
    assert!(CanaryMetrics::new(&registry).is_err(), "registered once per registry");
    let rollouts = Rollouts::in_memory().with_metrics(metrics);
    let quick = RolloutPlan::steps([10.0, 100.0]).min_duration(Duration::ZERO).min_requests(20);
    let canary =
        builder(&rollouts).await.plan(quick).analysis(manual_analysis()).build().await.unwrap();
    drive(&canary, 0..1_000, failing_candidate);
    canary.tick().await.unwrap();
    let text = registry.encode();
    for line in [
        r#"gateway_canary_requests_total{canary="users",version="users-v2",outcome="failure"}"#,
        r#"gateway_canary_requests_total{canary="users",version="users-v1",outcome="success"}"#,
        r#"gateway_canary_request_duration_seconds_count{canary="users",version="users-v2"}"#,
        r#"gateway_canary_weight_basis_points{canary="users",version="users-v1"} 10000"#,
        r#"gateway_canary_phase{canary="users",phase="rolled_back"} 1"#,
        r#"gateway_canary_decisions_total{canary="users",decision="rollback"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}
