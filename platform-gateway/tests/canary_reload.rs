//! Hot reload of a gateway serving a canary route: a reload never restarts the rollout.
//! Routes and upstreams the canary does not use can change around it; a change to the
//! canary route (or its versions' upstreams) rebuilds it with its step, weights and
//! measurements; a plan whose current step has another weight moves the step to it.

mod canary_support;

use canary_support::{config_text, drive, healthy};
use platform_gateway::canary::{Canary, DecisionKind, Phase, RolloutStatus, Rollouts};
use platform_gateway::config::{GatewayConfig, Resources};
use platform_gateway::reload::LiveConfig;

/// The configuration: `v2` is the candidate's endpoint, `plan` and `analysis` its
/// tables, `extra` anything appended.
fn config(v2: &str, plan: &str, analysis: &str, extra: &str) -> GatewayConfig {
    let canary = format!(
        "stable = \"users-v1\"\ncanary = \"users-v2\"\ncohort = [{{ header = \"x-user-id\" }}]\n\
         plan = {plan}\nanalysis = {analysis}\n{extra}"
    );
    let text = config_text("127.0.0.1:9", v2, &canary);
    GatewayConfig::from_toml(&text, None).expect("valid configuration")
}

const PLAN: &str = r#"{ steps = [10, 50, 100], min_duration = "1m", min_requests = 20 }"#;
/// Judged only when the test ticks.
const ANALYSIS: &str = r#"{ interval = "1h" }"#;
const OTHER_ROUTE: &str =
    "\n[[routes]]\nid = \"other\"\npath_prefix = \"/other\"\nupstream = \"users-v1\"\n";

async fn status(canary: &Canary) -> RolloutStatus {
    canary.status().await.expect("status")
}

fn window_requests(status: &RolloutStatus) -> u64 {
    status.versions.iter().map(|v| v.window.requests).sum()
}

/// A live configuration whose `users` rollout has passed step 1 on 1 000 requests.
async fn at_step_two() -> (LiveConfig, Rollouts) {
    let rollouts = Rollouts::in_memory();
    let resources = Resources { rollouts: Some(rollouts.clone()), ..Resources::default() };
    let live = LiveConfig::new(config("127.0.0.1:9", PLAN, ANALYSIS, ""), resources)
        .await
        .expect("live configuration");
    let canary = rollouts.get("users").expect("the canary is listed");
    drive(&canary, 0..1_000, healthy);
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    let eval = canary.tick().await.expect("tick");
    assert_eq!(eval.decision.map(|d| d.kind), Some(DecisionKind::Advance), "{}", eval.reason);
    (live, rollouts)
}

#[tokio::test(start_paused = true)]
async fn a_reload_mid_rollout_keeps_the_step_and_its_measurements() {
    let (live, rollouts) = at_step_two().await;
    let canary = rollouts.get("users").expect("the canary is listed");
    drive(&canary, 1_000..1_400, healthy);
    let before = status(&canary).await;
    assert_eq!((before.step, before.versions[1].weight_percent), (Some(1), 50.0));
    assert_eq!(window_requests(&before), 400);
    drop(canary);

    // Another route added around it: the canary route is not rebuilt at all.
    let diff = live.apply(config("127.0.0.1:9", PLAN, ANALYSIS, OTHER_ROUTE)).await.unwrap();
    assert_eq!(diff.routes_added, ["other"]);
    let canary = rollouts.get("users").expect("still listed");
    let kept = status(&canary).await;
    assert_eq!(
        (kept.step, kept.revision, kept.window),
        (before.step, before.revision, before.window)
    );
    assert_eq!(window_requests(&kept), 400, "the step's measurements are kept");
    drop(canary);

    // The canary route changes (thresholds, and the later steps' request minimum):
    // rebuilt, and the new canary takes over the step, its window and measurements.
    let stricter_plan = r#"{ steps = [10, 50, 100], min_duration = "1m", min_requests = 30 }"#;
    let stricter = r#"{ interval = "1h", max_p99_ratio = 3.0 }"#;
    let diff =
        live.apply(config("127.0.0.1:9", stricter_plan, stricter, OTHER_ROUTE)).await.unwrap();
    assert_eq!(diff.routes_changed, ["users"]);
    let canary = rollouts.get("users").expect("the rebuilt canary is listed");
    let rebuilt = status(&canary).await;
    assert_eq!(
        (rebuilt.step, rebuilt.revision, rebuilt.window),
        (before.step, before.revision, before.window)
    );
    assert_eq!(window_requests(&rebuilt), 400);
    let served: u64 = rebuilt.versions.iter().map(|v| v.instance_total.requests).sum();
    assert_eq!(served, 1_400, "this instance's totals are carried over");
    drop(canary);

    // The candidate's upstream changes: the route is rebuilt on the new upstream.
    let moved = config("127.0.0.1:10", stricter_plan, stricter, OTHER_ROUTE);
    let diff = live.apply(moved).await.unwrap();
    assert_eq!(diff.upstreams_changed, ["users-v2"]);
    let canary = rollouts.get("users").expect("listed");
    let authority = canary.versions()[1].endpoints()[0].authority().to_string();
    assert_eq!(authority, "127.0.0.1:10", "the canary serves the new endpoints");
    let after = status(&canary).await;
    assert_eq!((after.step, after.window), (before.step, before.window));
    assert_eq!(window_requests(&after), 400);
}

#[tokio::test(start_paused = true)]
async fn a_plan_giving_the_step_another_weight_moves_it_there() {
    let (live, rollouts) = at_step_two().await;
    let canary = rollouts.get("users").expect("listed");
    let before = status(&canary).await;
    assert_eq!(before.step, Some(1));
    drop(canary);

    // Slower: step 2 is 25 % now. The rollout stays at step 2, at the new weight, in a
    // new window (the old one's traffic saw other weights).
    let slower = r#"{ steps = [10, 25, 50, 100], min_duration = "1m", min_requests = 20 }"#;
    live.apply(config("127.0.0.1:9", slower, ANALYSIS, "")).await.unwrap();
    let canary = rollouts.get("users").expect("listed");
    let replanned = status(&canary).await;
    assert_eq!(replanned.phase, Some(Phase::Progressing));
    assert_eq!((replanned.step, replanned.versions[1].weight_percent), (Some(1), 25.0));
    assert_eq!(replanned.window, before.window.map(|w| w + 1));
    assert_eq!(window_requests(&replanned), 0);
    let decision = replanned.last_decision.expect("a decision");
    assert_eq!(decision.kind, DecisionKind::Replan);
    assert!(decision.actor.starts_with("config@"), "{}", decision.actor);
    assert!(
        decision.reason.contains("step 2 runs at 25% (was step 2 at 50%)"),
        "{}",
        decision.reason
    );

    // A plan shorter than the step: its last step.
    drop(canary);
    let short = r#"{ steps = [20], min_duration = "1m", min_requests = 20 }"#;
    live.apply(config("127.0.0.1:9", short, ANALYSIS, "")).await.unwrap();
    let canary = rollouts.get("users").expect("listed");
    let clamped = status(&canary).await;
    assert_eq!((clamped.step, clamped.versions[1].weight_percent), (Some(0), 20.0));
}
