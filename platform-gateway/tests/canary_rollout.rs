//! Progressive rollouts on the in-memory store, on tokio's paused clock: promotion,
//! rollback within the failing step, gradual rollback, pause / resume / retry, samples
//! too few to judge, latency regressions, two instances on one store.

mod canary_support;

use std::sync::Arc;
use std::time::Duration;

use canary_support::*;
use platform_core::BoxError;
use platform_core::classify::Outcome;
use platform_gateway::canary::{
    Action, AnalysisConfig, CanaryError, DecisionKind, MemoryRolloutStore, OnFailure, Phase,
    RolloutState, RolloutStore, Rollouts, StoredRollout, WindowSample,
};

const STEP: Duration = Duration::from_secs(61);

#[tokio::test(start_paused = true)]
async fn a_healthy_canary_is_promoted_to_all_traffic() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[5.0, 25.0, 50.0, 100.0], 20).await;
    assert_eq!(weight(&canary, NEXT), 5.0);
    let mut users = 0;
    for (step, expected) in [
        (0, DecisionKind::Advance),
        (1, DecisionKind::Advance),
        (2, DecisionKind::Advance),
        (3, DecisionKind::Promote),
    ] {
        drive(&canary, users..users + 1_000, healthy);
        users += 1_000;
        // Not yet due: the step has not run its minute.
        let early = canary.tick().await.unwrap();
        assert!(early.decision.is_none(), "{early:?}");
        assert!(early.reason.contains("has run"), "{}", early.reason);
        tokio::time::advance(STEP).await;
        let eval = canary.tick().await.unwrap();
        let decision = eval.decision.expect("a decision once the step is due");
        assert_eq!(decision.kind, expected, "step {step}: {}", decision.reason);
        assert!(decision.reason.contains("passed"), "{}", decision.reason);
    }
    let state = canary.state().unwrap().state;
    assert_eq!((state.phase, state.step), (Phase::Promoted, 3));
    assert_eq!(weight(&canary, NEXT), 100.0);
    assert_eq!(weight(&canary, STABLE), 0.0);
    let served = drive(&canary, 0..200, healthy);
    assert_eq!(served.get(NEXT), Some(&200));
    // Promoted is final: ticks decide nothing more.
    tokio::time::advance(STEP).await;
    assert!(canary.tick().await.unwrap().decision.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_failing_canary_rolls_back_within_its_step() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[10.0, 50.0, 100.0], 30).await;
    let before = drive(&canary, 0..1_000, failing_candidate);
    assert!(before[NEXT] >= 30, "{before:?}");
    tokio::time::advance(STEP).await;
    let eval = canary.tick().await.unwrap();
    let decision = eval.decision.expect("rolled back");
    assert_eq!(decision.kind, DecisionKind::Rollback);
    assert!(decision.reason.contains("step 1 failed"), "{}", decision.reason);
    assert!(decision.reason.contains("error rate"), "{}", decision.reason);
    assert!(decision.actor.starts_with("analysis@"), "{}", decision.actor);
    let state = canary.state().unwrap().state;
    assert_eq!((state.phase, state.step, state.weight_bp), (Phase::RolledBack, 0, 0));
    // The stable version serves everything afterwards, keys or not.
    let after = drive(&canary, 0..1_000, failing_candidate);
    assert_eq!(after.get(STABLE), Some(&1_000), "{after:?}");
    assert_eq!(canary.assign(&request("")), STABLE);
    // Testers still reach the candidate with the override.
    let mut forced = request("u1");
    forced.headers_mut().insert("x-canary", NEXT.parse().unwrap());
    assert_eq!(canary.assign(&forced), NEXT);
}

#[tokio::test(start_paused = true)]
async fn too_few_samples_are_not_judged() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[10.0, 100.0], 100).await;
    // Every candidate request fails, but there are too few of them to judge.
    drive(&canary, 0..300, |v, _| {
        let o = if v == NEXT { Outcome::Failure } else { Outcome::Success };
        (o, Duration::from_millis(5))
    });
    tokio::time::advance(STEP).await;
    let eval = canary.tick().await.unwrap();
    assert!(eval.decision.is_none(), "{eval:?}");
    assert!(eval.reason.contains("of the 100 requests needed"), "{}", eval.reason);
    assert_eq!(eval.phase, Phase::Progressing);
    let status = canary.status().await.unwrap();
    assert_eq!(status.last_evaluation.as_deref(), Some(eval.reason.as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_latency_regression_fails_the_step() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[20.0, 100.0], 50).await;
    drive(&canary, 0..1_000, |v, _| {
        let ms = if v == NEXT { 250 } else { 20 };
        (Outcome::Success, Duration::from_millis(ms))
    });
    tokio::time::advance(STEP).await;
    let decision = canary.tick().await.unwrap().decision.expect("decided");
    assert_eq!(decision.kind, DecisionKind::Rollback);
    assert!(decision.reason.contains("p99"), "{}", decision.reason);
}

#[tokio::test(start_paused = true)]
async fn gradual_rollback_steps_down_through_the_plan() {
    let rollouts = Rollouts::in_memory();
    let analysis = AnalysisConfig {
        on_failure: OnFailure::RollbackGradual,
        rollback_interval: Duration::from_secs(30),
        ..manual_analysis()
    };
    let canary = builder(&rollouts)
        .await
        .plan(plan(&[5.0, 25.0, 50.0, 100.0], 20))
        .analysis(analysis)
        .build()
        .await
        .unwrap();
    for users in [0..1_000, 1_000..2_000] {
        drive(&canary, users, healthy);
        tokio::time::advance(STEP).await;
        assert_eq!(canary.tick().await.unwrap().decision.unwrap().kind, DecisionKind::Advance);
    }
    assert_eq!(weight(&canary, NEXT), 50.0);
    drive(&canary, 2_000..3_000, failing_candidate);
    tokio::time::advance(STEP).await;
    let first = canary.tick().await.unwrap().decision.unwrap();
    assert_eq!(first.kind, DecisionKind::StepDown);
    let mut weights = vec![weight(&canary, NEXT)];
    // Not before the rollback interval.
    assert!(canary.tick().await.unwrap().decision.is_none());
    while canary.state().unwrap().state.phase == Phase::RollingBack {
        tokio::time::advance(Duration::from_secs(31)).await;
        canary.tick().await.unwrap().decision.expect("a step down per interval");
        weights.push(weight(&canary, NEXT));
    }
    assert_eq!(weights, [25.0, 5.0, 0.0]);
    assert_eq!(canary.state().unwrap().state.phase, Phase::RolledBack);
}

#[tokio::test(start_paused = true)]
async fn pause_on_failure_then_resume_and_retry() {
    let rollouts = Rollouts::in_memory();
    let analysis = AnalysisConfig { on_failure: OnFailure::Pause, ..manual_analysis() };
    let canary = builder(&rollouts)
        .await
        .plan(plan(&[10.0, 50.0, 100.0], 20))
        .analysis(analysis)
        .build()
        .await
        .unwrap();
    drive(&canary, 0..1_000, healthy);
    tokio::time::advance(STEP).await;
    canary.tick().await.unwrap();
    drive(&canary, 1_000..2_000, failing_candidate);
    tokio::time::advance(STEP).await;
    let paused = canary.tick().await.unwrap();
    assert_eq!(paused.decision.unwrap().kind, DecisionKind::Pause);
    assert_eq!((paused.phase, paused.step), (Phase::Paused, 1));
    assert_eq!(weight(&canary, NEXT), 50.0, "a pause holds the weights");
    tokio::time::advance(STEP).await;
    assert!(canary.tick().await.unwrap().decision.is_none(), "nothing is judged while paused");

    let resumed = canary.act(Action::Resume, "ops", Some("fixed the cache")).await.unwrap();
    assert_eq!((resumed.phase, resumed.step), (Some(Phase::Progressing), Some(1)));
    let last = resumed.last_decision.unwrap();
    assert_eq!(
        (last.kind, last.actor.as_str(), last.reason.as_str()),
        (DecisionKind::Resume, "ops", "fixed the cache")
    );
    // The resumed step is judged on a fresh window: healthy now, so it advances.
    drive(&canary, 2_000..3_000, healthy);
    tokio::time::advance(STEP).await;
    assert_eq!(canary.tick().await.unwrap().decision.unwrap().kind, DecisionKind::Advance);

    let err = canary.act(Action::Retry, "ops", None).await.unwrap_err();
    assert!(matches!(err, CanaryError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("cannot retry a rollout that is progressing"), "{err}");
    canary.act(Action::Pause, "ops", None).await.unwrap();
    let retried = canary.act(Action::Retry, "ops", None).await.unwrap();
    assert_eq!((retried.phase, retried.step), (Some(Phase::Progressing), Some(0)));
    assert_eq!(weight(&canary, NEXT), 10.0);
}

#[tokio::test(start_paused = true)]
async fn manual_promote_and_rollback() {
    let rollouts = Rollouts::in_memory();
    let canary = planned(&rollouts, &[5.0, 50.0], 20).await;
    let promoted = canary.act(Action::Promote, "alice", None).await.unwrap();
    assert_eq!(promoted.phase, Some(Phase::Promoted));
    assert_eq!(weight(&canary, NEXT), 50.0, "promotion goes to the plan's last weight");
    assert!(matches!(
        canary.act(Action::Promote, "alice", None).await,
        Err(CanaryError::Refused { .. })
    ));
    let rolled = canary.act(Action::Rollback, "bob", Some("pager")).await.unwrap();
    assert_eq!(rolled.phase, Some(Phase::RolledBack));
    assert_eq!(weight(&canary, STABLE), 100.0);
    let resumed = canary.act(Action::Resume, "bob", None).await.unwrap();
    assert_eq!((resumed.phase, resumed.step), (Some(Phase::Progressing), Some(1)));
}

#[tokio::test(start_paused = true)]
async fn two_instances_judge_the_sum_and_decide_once() {
    let store = MemoryRolloutStore::new();
    let a_rollouts = Rollouts::new(store.clone()).with_instance("a");
    let b_rollouts = Rollouts::new(store.clone()).with_instance("b");
    let a = builder(&a_rollouts).await.plan(plan(&[50.0, 100.0], 150)).analysis(manual_analysis());
    let a = a.build().await.unwrap();
    let b = builder(&b_rollouts).await.plan(plan(&[50.0, 100.0], 150)).analysis(manual_analysis());
    let b = b.build().await.unwrap();
    let start = a.state().unwrap();
    assert_eq!(b.state().unwrap().revision, start.revision, "b joined a's rollout");
    // Each instance alone sees about 100 requests per version: too few. Together, enough.
    drive(&a, 0..200, healthy);
    drive(&b, 200..400, healthy);
    tokio::time::advance(STEP).await;
    // `a` ticks first and sees only its own sample: too few.
    let ea = a.tick().await.unwrap();
    assert!(ea.decision.is_none(), "{ea:?}");
    assert!(ea.reason.contains("of the 150 requests needed"), "{}", ea.reason);
    // `b` sees both instances' samples and decides.
    let eb = b.tick().await.unwrap();
    assert_eq!(eb.decision.unwrap().kind, DecisionKind::Advance);
    a.tick().await.unwrap();
    let (sa, sb) = (a.state().unwrap(), b.state().unwrap());
    assert_eq!(sa, sb);
    assert_eq!(sa.revision, start.revision + 1);
    assert_eq!((sa.state.phase, sa.state.step), (Phase::Progressing, 1));
    assert_eq!(weight(&a, NEXT), weight(&b, NEXT));
}

/// A memory store whose saves yield first, so two instances' evaluations interleave:
/// both load the same revision before either saves.
#[derive(Debug, Clone, Default)]
struct Interleaving(MemoryRolloutStore);

#[async_trait::async_trait]
impl RolloutStore for Interleaving {
    async fn load(&self, c: &str) -> Result<Option<StoredRollout>, BoxError> {
        self.0.load(c).await
    }
    async fn save(
        &self,
        c: &str,
        expected: Option<i64>,
        s: &RolloutState,
    ) -> Result<Option<i64>, BoxError> {
        tokio::task::yield_now().await;
        self.0.save(c, expected, s).await
    }
    async fn put_sample(&self, c: &str, i: &str, w: i64, s: &WindowSample) -> Result<(), BoxError> {
        self.0.put_sample(c, i, w, s).await
    }
    async fn samples(&self, c: &str, w: i64) -> Result<Vec<(String, WindowSample)>, BoxError> {
        self.0.samples(c, w).await
    }
    async fn prune_samples(&self, c: &str, w: i64) -> Result<(), BoxError> {
        self.0.prune_samples(c, w).await
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_evaluations_commit_one_decision() {
    let store = Arc::new(Interleaving::default());
    let a_rollouts = Rollouts::from_arc(store.clone()).with_instance("a");
    let b_rollouts = Rollouts::from_arc(store.clone()).with_instance("b");
    let a =
        builder(&a_rollouts).await.plan(plan(&[20.0, 50.0, 100.0], 20)).analysis(manual_analysis());
    let a = a.build().await.unwrap();
    let b =
        builder(&b_rollouts).await.plan(plan(&[20.0, 50.0, 100.0], 20)).analysis(manual_analysis());
    let b = b.build().await.unwrap();
    let start = a.state().unwrap().revision;
    // Each instance alone has enough to judge: without compare-and-set both would
    // advance, and the rollout would skip a step.
    drive(&a, 0..1_000, healthy);
    drive(&b, 1_000..2_000, healthy);
    tokio::time::advance(STEP).await;
    let (ea, eb) = tokio::join!(a.tick(), b.tick());
    let (ea, eb) = (ea.unwrap(), eb.unwrap());
    let decided = [&ea, &eb].iter().filter(|e| e.decision.is_some()).count();
    assert_eq!(decided, 1, "{ea:?} {eb:?}");
    let loser = if ea.decision.is_some() { &eb } else { &ea };
    assert!(loser.reason.contains("another gateway instance decided first"), "{}", loser.reason);
    let (sa, sb) = (a.state().unwrap(), b.state().unwrap());
    assert_eq!(sa, sb);
    assert_eq!((sa.revision, sa.state.step), (start + 1, 1));
}

#[tokio::test(start_paused = true)]
async fn rebuilding_resumes_the_step_and_new_versions_start_over() {
    let rollouts = Rollouts::in_memory();
    let first = planned(&rollouts, &[5.0, 25.0, 100.0], 20).await;
    drive(&first, 0..1_000, healthy);
    tokio::time::advance(STEP).await;
    first.tick().await.unwrap();
    let saved = first.state().unwrap();
    drop(first);
    let again = planned(&rollouts, &[5.0, 25.0, 100.0], 20).await;
    assert_eq!(again.state().unwrap(), saved);
    assert_eq!(weight(&again, NEXT), 25.0);
    drop(again);
    let next = platform_gateway::canary::Canary::builder("users")
        .stable(version(STABLE).await)
        .candidate(version("users-v3").await)
        .plan(plan(&[5.0, 25.0, 100.0], 20))
        .analysis(manual_analysis())
        .rollouts(&rollouts)
        .build()
        .await
        .unwrap();
    let state = next.state().unwrap().state;
    assert_eq!((state.phase, state.step), (Phase::Progressing, 0));
    let start = state.last.unwrap();
    assert_eq!(start.kind, DecisionKind::Start);
    assert!(start.reason.contains("new versions"), "{}", start.reason);
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_measurements_of_the_step() {
    let rollouts = Rollouts::in_memory();
    let old = planned(&rollouts, &[10.0, 100.0], 20).await;
    drive(&old, 0..1_000, healthy);
    // A config reload builds the canary again while the old one still serves.
    let new = planned(&rollouts, &[10.0, 100.0], 20).await;
    assert_eq!(rollouts.get("users").unwrap().state(), new.state());
    drop(old);
    tokio::time::advance(STEP).await;
    let eval = new.tick().await.unwrap();
    assert_eq!(eval.decision.map(|d| d.kind), Some(DecisionKind::Advance), "{}", eval.reason);
    let status = new.status().await.unwrap();
    let served: u64 = status.versions.iter().map(|v| v.instance_total.requests).sum();
    assert_eq!(served, 1_000, "totals carried over");
}
