//! Sagas survive crashes: a property test crashes the coordinators at every step boundary
//! (before and after a step's effect, in actions and in compensations) and checks that
//! every saga ends completed or fully compensated, never half-done, and that no step ever
//! ran twice at the same time. Two coordinators share the store in every round; a crash
//! drops both (their futures, mid-step) and a fresh pair resumes after the leases expire.
#![cfg(all(feature = "tx", feature = "test-util"))]

mod tx_support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_core::resilience::retry::BackoffConfig;
use platform_core::store::Store;
use platform_core::tx::saga::{Abort, StepStatus};
use platform_core::tx::{
    Clock, Coordinator, CoordinatorConfig, RetryPolicy, Saga, SagaId, SagaStatus, Step,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::sync::Notify;

const STEPS: usize = 3;
const LEASE: Duration = Duration::from_secs(60);

/// Where to crash: the n-th action/compensation call, before or after its effect.
#[derive(Debug, Clone)]
struct Plan {
    /// Per saga: the step that always fails (then the saga must compensate), and
    /// whether it fails with `Abort` (no retries).
    sagas: Vec<(Option<usize>, bool)>,
    crashes: Vec<(usize, bool)>,
    /// Calls that fail once with a transient error.
    transient: Vec<usize>,
}

#[derive(Default)]
struct World {
    plan: Mutex<Option<Plan>>,
    calls: AtomicUsize,
    /// Idempotency keys whose effect is applied (an idempotent downstream service).
    effects: Mutex<HashSet<String>>,
    /// Steps executing right now, and how often one started while already running.
    running: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
    crash: Notify,
}

/// Marks a step as running for as long as it lives (also when its future is dropped).
struct Running(Arc<World>, String);

impl Running {
    fn enter(world: &Arc<World>, what: String) -> Self {
        if !world.running.lock().unwrap().insert(what.clone()) {
            world.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        Self(world.clone(), what)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.lock().unwrap().remove(&self.1);
    }
}

impl World {
    /// Crashes (never returns) when the plan says so for `call` and `after`.
    async fn maybe_crash(&self, call: usize, after: bool) {
        let hit = self.plan.lock().unwrap().as_ref().unwrap().crashes.contains(&(call, after));
        if hit {
            self.crash.notify_one();
            std::future::pending::<()>().await;
        }
    }

    fn transient(&self, call: usize) -> bool {
        self.plan.lock().unwrap().as_ref().unwrap().transient.contains(&call)
    }
}

fn policy() -> RetryPolicy {
    let mut backoff = BackoffConfig::default();
    backoff.min_delay = Duration::from_millis(1);
    backoff.max_delay = Duration::from_millis(1);
    backoff.jitter = false;
    RetryPolicy::attempts(8).backoff(backoff)
}

fn definition(world: &Arc<World>) -> Saga {
    let mut b = Saga::builder("crashy");
    for idx in 0..STEPS {
        let (w1, w2) = (world.clone(), world.clone());
        let step = Step::new(format!("s{idx}"), move |ctx| {
            let w = w1.clone();
            async move {
                let _guard = Running::enter(&w, format!("{}:{}", ctx.saga_id, ctx.step));
                let call = w.calls.fetch_add(1, Ordering::SeqCst);
                w.maybe_crash(call, false).await;
                let fail_at = ctx.input["fail_at"].as_u64().map(|v| v as usize);
                if fail_at == Some(idx) {
                    if ctx.input["abort"].as_bool() == Some(true) {
                        return Err(Abort("planned".into()).into());
                    }
                    return Err("planned failure".into());
                }
                if w.transient(call) {
                    return Err("transient".into());
                }
                w.effects.lock().unwrap().insert(ctx.idempotency_key.clone());
                w.maybe_crash(call, true).await;
                Ok(json!({ "step": idx }))
            }
        })
        .compensate(move |ctx| {
            let w = w2.clone();
            async move {
                let _guard = Running::enter(&w, format!("{}:{}:undo", ctx.saga_id, ctx.step));
                let call = w.calls.fetch_add(1, Ordering::SeqCst);
                w.maybe_crash(call, false).await;
                if w.transient(call) {
                    return Err("transient".into());
                }
                let action_key = ctx.idempotency_key.trim_end_matches(":compensate").to_owned();
                w.effects.lock().unwrap().remove(&action_key);
                w.maybe_crash(call, true).await;
                Ok(Value::Null)
            }
        })
        .retry(policy());
        b = b.step(step);
    }
    b.build().unwrap()
}

async fn coordinator(store: &Store, world: &Arc<World>, clock: &Clock) -> Coordinator {
    let cfg = CoordinatorConfig::default().lease(LEASE);
    Coordinator::with_config(store.clone(), cfg)
        .await
        .unwrap()
        .clock(clock.clone())
        .register(definition(world))
        .unwrap()
}

async fn run_scenario(store: Store, plan: Plan) {
    let world = Arc::new(World::default());
    *world.plan.lock().unwrap() = Some(plan.clone());
    let clock = Clock::manual(Clock::system().now_ms());
    let first = coordinator(&store, &world, &clock).await;
    let mut ids = Vec::new();
    for (i, (fail_at, abort)) in plan.sagas.iter().enumerate() {
        let input = json!({ "n": i, "fail_at": fail_at, "abort": abort });
        ids.push(first.start("crashy", input).await.unwrap());
    }
    drop(first);
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 40, "sagas never settled: {plan:?}");
        let (a, b) =
            (coordinator(&store, &world, &clock).await, coordinator(&store, &world, &clock).await);
        let crashed = tokio::select! {
            (ra, rb) = async { tokio::join!(a.drive_ready(), b.drive_ready()) } => {
                ra.unwrap();
                rb.unwrap();
                false
            }
            () = world.crash.notified() => true,
        };
        if crashed {
            clock.advance(LEASE + Duration::from_secs(1));
            continue;
        }
        // A round without a crash can still end with a saga not yet claimable: a dropped
        // coordinator's PostgreSQL transaction may hold the row lock until the server has
        // rolled it back (the claim skips locked rows), or a write it had already sent may
        // have renewed the lease. A coordinator in production polls again later; here time
        // moves on by one lease. Done only when every saga is terminal.
        let probe = coordinator(&store, &world, &clock).await;
        let mut settled = true;
        for id in &ids {
            let state = probe.saga(id).await.unwrap().expect("saga exists");
            settled &=
                matches!(state.summary.status, SagaStatus::Completed | SagaStatus::Compensated);
        }
        if settled {
            break;
        }
        // Give the server a moment to finish rolling back the dropped transaction.
        tokio::time::sleep(Duration::from_millis(20)).await;
        clock.advance(LEASE + Duration::from_secs(1));
    }
    let reader = coordinator(&store, &world, &clock).await;
    let effects = world.effects.lock().unwrap().clone();
    for (id, (fail_at, _)) in ids.iter().zip(&plan.sagas) {
        check_saga(&reader, id, *fail_at, &effects).await;
    }
    assert_eq!(world.overlaps.load(Ordering::SeqCst), 0, "a step ran twice at the same time");
}

async fn check_saga(
    c: &Coordinator,
    id: &SagaId,
    fail_at: Option<usize>,
    effects: &HashSet<String>,
) {
    let state = c.saga(id).await.unwrap().expect("saga exists");
    let mine: Vec<&String> = effects.iter().filter(|k| k.starts_with(&format!("{id}:"))).collect();
    let statuses: HashMap<usize, StepStatus> =
        state.steps.iter().map(|s| (s.index as usize, s.status)).collect();
    match fail_at {
        None => {
            assert_eq!(state.summary.status, SagaStatus::Completed, "{state:#?}");
            assert_eq!(mine.len(), STEPS, "every step's effect is in place: {state:#?}");
            assert!(statuses.values().all(|s| *s == StepStatus::Completed));
        }
        Some(f) => {
            assert_eq!(state.summary.status, SagaStatus::Compensated, "{state:#?}");
            assert!(mine.is_empty(), "left-over effects {mine:?}: {state:#?}");
            assert_eq!(statuses.get(&f), Some(&StepStatus::Failed), "{state:#?}");
            for i in 0..f {
                assert_eq!(statuses.get(&i), Some(&StepStatus::Compensated), "{state:#?}");
            }
            assert!(statuses.keys().all(|i| *i <= f), "no step after the failed one ran");
        }
    }
}

fn plans() -> impl Strategy<Value = Plan> {
    let saga = (prop::option::of(0..STEPS), any::<bool>());
    (
        prop::collection::vec(saga, 1..=3),
        prop::collection::vec((0usize..24, any::<bool>()), 0..=3),
        prop::collection::vec(0usize..24, 0..=2),
    )
        .prop_map(|(sagas, crashes, transient)| Plan { sagas, crashes, transient })
}

/// A SQLite file in a fresh temporary directory (kept alive by the returned guard).
///
/// Not `sqlite::memory:`: a simulated crash drops futures mid-query, sqlx then discards
/// that connection, and an in-memory database disappears with its last connection. A
/// crashed process's database survives on disk, so the scenario needs a file too.
async fn sqlite_file() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("sagas.db").display());
    (Store::connect(&url).await.expect("sqlite file"), dir)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_sagas_end_completed_or_compensated(plan in plans()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (store, _dir) = sqlite_file().await;
            run_scenario(store, plan).await;
        });
    }
}

/// Every crash point of one saga that fails at its last step (so every action and every
/// compensation runs), crashing before and after each effect.
#[tokio::test]
async fn sqlite_every_boundary_of_one_saga() {
    // 3 actions + 2 compensations = 5 calls, plus re-runs after a crash.
    for call in 0..6 {
        for after in [false, true] {
            let plan = Plan {
                sagas: vec![(Some(2), true)],
                crashes: vec![(call, after)],
                transient: vec![],
            };
            let (store, _dir) = sqlite_file().await;
            run_scenario(store, plan).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sagas_survive_crashes() {
    let Some((store, schema)) = tx_support::postgres("tx_saga_crash").await else { return };
    let plan = Plan {
        sagas: vec![(None, false), (Some(2), false), (Some(1), true)],
        crashes: vec![(1, true), (5, false), (9, true)],
        transient: vec![3, 11],
    };
    run_scenario(store.clone(), plan).await;
    store.close().await;
    schema.cleanup().await.unwrap();
}
