//! Every rollout decision reaches platform-observe's audit trail (through its
//! `AuditLayer`) with its reason.
//!
//! The only test in this binary: it installs a thread-local subscriber, and tracing
//! caches each event's interest per callsite, process-wide; another test emitting the
//! same events on another thread at the same moment could make this one miss some.

mod canary_support;

use std::time::Duration;

use canary_support::*;
use platform_core::store::Store;
use platform_gateway::canary::{Action, RolloutPlan, Rollouts};
use platform_observe::audit::{AuditLayer, AuditLayerConfig, AuditLog, AuditQuery, Order};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn decisions_are_audited_with_their_reason() {
    let log = AuditLog::new(Store::connect("sqlite::memory:").await.unwrap()).await.unwrap();
    let (layer, writer) = AuditLayer::new(log.clone(), AuditLayerConfig::default()).unwrap();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let rollouts = Rollouts::in_memory().with_instance("gw-1");
    let quick = RolloutPlan::steps([10.0, 100.0]).min_duration(Duration::ZERO).min_requests(20);
    let canary =
        builder(&rollouts).await.plan(quick).analysis(manual_analysis()).build().await.unwrap();
    drive(&canary, 0..1_000, failing_candidate);
    canary.tick().await.unwrap();
    canary.act(Action::Retry, "carol", Some("fixed")).await.unwrap();
    writer.flush().await.unwrap();

    let page = log.query(&AuditQuery::new().order(Order::Asc)).await.unwrap();
    let records: Vec<_> = page.entries.iter().map(|e| &e.record).collect();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["canary_start", "canary_rollback", "canary_retry"], "{records:#?}");
    let rollback = records[1];
    assert_eq!(rollback.resource.as_deref(), Some("canary/users"));
    assert_eq!(rollback.actor.as_deref(), Some("analysis@gw-1"));
    assert_eq!(rollback.outcome.as_str(), "success");
    let reason = rollback.reason.as_deref().unwrap();
    assert!(reason.contains("step 1 failed") && reason.contains("error rate"), "{reason}");
    assert_eq!(records[2].actor.as_deref(), Some("carol"));
    assert_eq!(records[2].reason.as_deref(), Some("fixed"));
}
