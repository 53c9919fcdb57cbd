//! The rollout stores: one conformance suite (memory, SQLite, PostgreSQL), a restart in
//! the middle of a rollout resuming at the same step, and two gateway instances on one
//! database agreeing on the step. PostgreSQL runs when `PLATFORM_TEST_POSTGRES_URL` is
//! set (see docs/testing.md).

mod canary_support;

use std::time::Duration;

use canary_support::*;
use platform_core::store::Store;
use platform_core::test_util::{PgSchema, Service};
use platform_gateway::canary::{
    Action, Canary, DecisionKind, MemoryRolloutStore, Phase, RolloutPlan, RolloutState,
    RolloutStore, Rollouts, SqlRolloutStore, WindowSample, migrate,
};

/// A SQL database for one test, and how to open a second pool on it.
struct Db {
    name: &'static str,
    store: Store,
    _dir: Option<tempfile::TempDir>,
    schema: Option<PgSchema>,
}

impl Db {
    /// Another pool on the same database: what a restarted or second instance opens.
    async fn reopen(&self) -> Store {
        let store = match &self.store {
            Store::Sqlite(pool) => {
                let file = pool.connect_options().get_filename().display().to_string();
                Store::connect(&format!("sqlite://{file}")).await.expect("sqlite")
            }
            Store::Postgres(_) => {
                let schema = self.schema.as_ref().expect("schema");
                Store::Postgres(schema.open_pool().await.expect("pg"))
            }
            _ => unreachable!("SQLite or PostgreSQL"),
        };
        migrate(&store).await.expect("migrate");
        store
    }

    async fn cleanup(self) {
        match self.schema {
            Some(s) => s.cleanup().await.expect("drop schema"),
            None => self.store.close().await,
        }
    }
}

/// A migrated SQLite file and, when configured, a PostgreSQL schema.
async fn databases(test: &str) -> Vec<Db> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("canary.db").display());
    let sqlite = Store::connect(&url).await.expect("sqlite");
    migrate(&sqlite).await.expect("migrate");
    // Migrating again is a no-op.
    migrate(&sqlite).await.expect("migrate twice");
    let mut out = vec![Db { name: "sqlite", store: sqlite, _dir: Some(dir), schema: None }];
    if let Some(url) = Service::Postgres.url_or_skip(test).await {
        let schema = PgSchema::create(&url, test).await.expect("schema");
        let store = Store::Postgres(schema.pool().clone());
        migrate(&store).await.expect("migrate");
        out.push(Db { name: "postgres", store, _dir: None, schema: Some(schema) });
    }
    out
}

fn state(step: usize) -> RolloutState {
    let mut s = RolloutState {
        versions: vec![STABLE.into(), NEXT.into()],
        phase: Phase::Progressing,
        step,
        weight_bp: 500,
        window: 1,
        since_ms: 1_700_000_000_000,
        baseline: Default::default(),
        last: None,
    };
    s.window += step as i64;
    s
}

async fn conformance(name: &str, store: &dyn RolloutStore) {
    assert_eq!(store.load("users").await.unwrap(), None, "{name}");
    assert_eq!(store.save("users", None, &state(0)).await.unwrap(), Some(1), "{name}");
    assert_eq!(store.save("users", None, &state(0)).await.unwrap(), None, "{name}: exists");
    assert_eq!(store.save("users", Some(1), &state(1)).await.unwrap(), Some(2), "{name}");
    assert_eq!(store.save("users", Some(1), &state(2)).await.unwrap(), None, "{name}: stale");
    let loaded = store.load("users").await.unwrap().unwrap();
    assert_eq!((loaded.revision, loaded.state), (2, state(1)), "{name}");
    assert_eq!(store.load("orders").await.unwrap(), None, "{name}: rollouts are separate");

    let mut sample = WindowSample::default();
    sample.versions.insert(STABLE.into(), Default::default());
    store.put_sample("users", "a", 2, &sample).await.unwrap();
    store.put_sample("users", "b", 2, &WindowSample::default()).await.unwrap();
    store.put_sample("users", "a", 1, &WindowSample::default()).await.unwrap();
    // Replacing: one sample per instance and window.
    store.put_sample("users", "a", 2, &sample).await.unwrap();
    let mut got = store.samples("users", 2).await.unwrap();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        got,
        [("a".into(), sample.clone()), ("b".into(), WindowSample::default())],
        "{name}"
    );
    store.prune_samples("users", 2).await.unwrap();
    assert!(store.samples("users", 1).await.unwrap().is_empty(), "{name}: pruned");
    assert_eq!(store.samples("users", 2).await.unwrap().len(), 2, "{name}: kept");
    assert!(store.samples("orders", 2).await.unwrap().is_empty(), "{name}");
}

#[tokio::test]
async fn every_store_passes_the_conformance_suite() {
    conformance("memory", &MemoryRolloutStore::new()).await;
    for db in databases("canary_store_conformance").await {
        conformance(db.name, &SqlRolloutStore::new(db.store.clone())).await;
        db.cleanup().await;
    }
}

/// Judged as soon as each version has 20 requests.
fn quick_plan() -> RolloutPlan {
    RolloutPlan::steps([10.0, 50.0, 100.0]).min_duration(Duration::ZERO).min_requests(20)
}

async fn canary_on(store: Store, instance: &str) -> Canary {
    let rollouts = Rollouts::new(SqlRolloutStore::new(store)).with_instance(instance);
    builder(&rollouts).await.plan(quick_plan()).analysis(manual_analysis()).build().await.unwrap()
}

#[tokio::test]
async fn a_restart_mid_rollout_resumes_at_the_same_step() {
    for db in databases("canary_store_restart").await {
        let canary = canary_on(db.reopen().await, "before").await;
        drive(&canary, 0..1_000, healthy);
        let eval = canary.tick().await.unwrap();
        assert_eq!(eval.decision.unwrap().kind, DecisionKind::Advance, "{}", db.name);
        let saved = canary.state().unwrap();
        assert_eq!(saved.state.step, 1);
        // The process goes away: canary, pools and all.
        drop(canary);

        let canary = canary_on(db.reopen().await, "after").await;
        assert_eq!(canary.state().unwrap(), saved, "{}: same state after the restart", db.name);
        assert_eq!(weight(&canary, NEXT), 50.0, "{}", db.name);
        // And it carries on from there.
        drive(&canary, 0..1_000, healthy);
        let eval = canary.tick().await.unwrap();
        assert_eq!(
            (eval.phase, eval.step),
            (Phase::Progressing, 2),
            "{}: {}",
            db.name,
            eval.reason
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_instances_on_one_store_agree() {
    for db in databases("canary_store_two_instances").await {
        let a = canary_on(db.reopen().await, "a").await;
        let b = canary_on(db.reopen().await, "b").await;
        let start = a.state().unwrap().revision;
        assert_eq!(b.state().unwrap().revision, start, "{}", db.name);
        drive(&a, 0..1_000, healthy);
        drive(&b, 1_000..2_000, healthy);
        let (ea, eb) = tokio::join!(a.tick(), b.tick());
        let (ea, eb) = (ea.unwrap(), eb.unwrap());
        let decided = [&ea, &eb].iter().filter(|e| e.decision.is_some()).count();
        assert_eq!(decided, 1, "{}: {ea:?} {eb:?}", db.name);
        let (sa, sb) = (a.state().unwrap(), b.state().unwrap());
        assert_eq!(sa, sb, "{}", db.name);
        assert_eq!((sa.revision, sa.state.step), (start + 1, 1), "{}", db.name);

        // A manual action on one instance is followed by the other on its next tick.
        a.act(Action::Pause, "ops", None).await.unwrap();
        let followed = b.tick().await.unwrap();
        assert_eq!(followed.phase, Phase::Paused, "{}", db.name);
        assert_eq!(weight(&b, NEXT), weight(&a, NEXT), "{}", db.name);
        // Status shows the window summed over both instances.
        a.act(Action::Resume, "ops", None).await.unwrap();
        b.tick().await.unwrap();
        drive(&a, 0..100, healthy);
        drive(&b, 0..100, healthy);
        // Reading b's status publishes its measurements, as its ticks do.
        b.status().await.unwrap();
        let status = a.status().await.unwrap();
        let total: u64 = status.versions.iter().map(|v| v.window.requests).sum();
        assert_eq!(total, 200, "{}: {status:?}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_background_task_follows_and_decides() {
    let dbs = databases("canary_store_background").await;
    let db = &dbs[0];
    let rollouts = Rollouts::new(SqlRolloutStore::new(db.reopen().await));
    let analysis = platform_gateway::canary::AnalysisConfig {
        interval: Duration::from_millis(20),
        ..Default::default()
    };
    let canary =
        builder(&rollouts).await.plan(quick_plan()).analysis(analysis).build().await.unwrap();
    drive(&canary, 0..1_000, failing_candidate);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while canary.state().unwrap().state.phase != Phase::RolledBack {
        assert!(tokio::time::Instant::now() < deadline, "no rollback: {:?}", canary.state());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rollouts.get("users").map(|c| c.name().to_owned()).as_deref(), Some("users"));
    for db in dbs {
        db.cleanup().await;
    }
}
