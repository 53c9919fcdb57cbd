//! Saga behaviour on SQLite: ordering of compensations, retries, timeouts, aborts, the
//! query API and definition checks. (Crash safety: `tests/tx_saga_crash.rs`.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::saga::{Abort, StepStatus};
use super::*;
use crate::resilience::retry::BackoffConfig;
use crate::store::Store;

fn quick(attempts: u32) -> RetryPolicy {
    let b = BackoffConfig {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        jitter: false,
        ..BackoffConfig::default()
    };
    RetryPolicy::attempts(attempts).backoff(b)
}

type Journal = Arc<Mutex<Vec<String>>>;

/// A step that journals `do:<name>` / `undo:<name>` and succeeds.
fn journaled(name: &str, journal: &Journal) -> Step {
    let (j1, j2) = (journal.clone(), journal.clone());
    Step::new(name, move |ctx: StepContext| {
        let j = j1.clone();
        async move {
            j.lock().unwrap().push(format!("do:{}", ctx.step));
            Ok(json!({ "key": ctx.idempotency_key }))
        }
    })
    .compensate(move |ctx: StepContext| {
        let j = j2.clone();
        async move {
            assert!(ctx.output.is_some(), "a compensation sees its step's output");
            j.lock().unwrap().push(format!("undo:{}", ctx.step));
            Ok(Value::Null)
        }
    })
    .retry(quick(3))
}

async fn coordinator(saga: Saga) -> Coordinator {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    Coordinator::new(store).await.unwrap().register(saga).unwrap()
}

#[tokio::test]
async fn completes_and_reports_state() {
    let journal = Journal::default();
    let saga = Saga::builder("order")
        .step(journaled("reserve", &journal))
        .step(journaled("charge", &journal))
        .build()
        .unwrap();
    let c = coordinator(saga).await;
    let id = c.start("order", json!({ "order": 7 })).await.unwrap();
    assert_eq!(c.drive_ready().await.unwrap(), 1);
    assert_eq!(*journal.lock().unwrap(), ["do:reserve", "do:charge"]);
    let state = c.saga(&id).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Completed);
    assert_eq!(state.input, json!({ "order": 7 }));
    assert_eq!(state.steps.len(), 2);
    assert_eq!(state.steps[1].idempotency_key, format!("{id}:charge"));
    assert_eq!(state.steps[1].output, Some(json!({ "key": format!("{id}:charge") })));
    let done = c.list(SagaStatus::Completed, 10).await.unwrap();
    assert_eq!(done.iter().map(|s| &s.id).collect::<Vec<_>>(), [&id]);
    assert!(c.list(SagaStatus::Running, 10).await.unwrap().is_empty());
    assert_eq!(c.drive_ready().await.unwrap(), 0, "nothing left to run");
}

#[tokio::test]
async fn a_failed_step_compensates_completed_steps_in_reverse() {
    let journal = Journal::default();
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let saga = Saga::builder("order")
        .step(journaled("a", &journal))
        .step(journaled("b", &journal))
        .step(
            Step::new("c", move |_| {
                let n = counted.clone();
                async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    Err::<Value, _>("card declined".into())
                }
            })
            .retry(quick(3)),
        )
        .step(journaled("d", &journal))
        .build()
        .unwrap();
    let c = coordinator(saga).await;
    let id = c.start("order", json!({})).await.unwrap();
    c.drive_ready().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "retried up to max_attempts");
    assert_eq!(*journal.lock().unwrap(), ["do:a", "do:b", "undo:b", "undo:a"]);
    let state = c.saga(&id).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Compensated);
    assert!(state.summary.error.as_deref().unwrap().contains("card declined"));
    let statuses: Vec<_> = state.steps.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [StepStatus::Compensated, StepStatus::Compensated, StepStatus::Failed]);
    assert_eq!(state.steps[2].attempts, 3);
}

#[tokio::test]
async fn retries_then_succeeds_and_abort_skips_retries() {
    let saga = Saga::builder("flaky")
        .step(
            Step::new("once-flaky", |ctx: StepContext| async move {
                // The first attempt of each instance fails.
                if ctx.attempt == 1 {
                    return Err("blip".into());
                }
                Ok(Value::Null)
            })
            .retry(quick(5)),
        )
        .step(
            Step::new("aborts", |ctx: StepContext| async move {
                if ctx.input["abort"] == json!(true) {
                    return Err(Abort("invalid order".into()).into());
                }
                Ok(Value::Null)
            })
            .retry(quick(5)),
        )
        .build()
        .unwrap();
    let c = coordinator(saga).await;
    let ok = c.start("flaky", json!({ "abort": false })).await.unwrap();
    c.drive_ready().await.unwrap();
    let state = c.saga(&ok).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Completed);
    assert_eq!(state.steps[0].attempts, 2);
    let aborted = c.start("flaky", json!({ "abort": true })).await.unwrap();
    c.drive_ready().await.unwrap();
    let state = c.saga(&aborted).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Compensated);
    assert_eq!(state.steps[1].attempts, 1, "an Abort is not retried");
}

#[tokio::test]
async fn a_step_that_hangs_times_out() {
    let saga = Saga::builder("slow")
        .step(
            Step::new("hangs", |_| std::future::pending::<Result<Value, crate::BoxError>>())
                .timeout(Duration::from_millis(20))
                .retry(quick(2)),
        )
        .build()
        .unwrap();
    let c = coordinator(saga).await;
    let id = c.start("slow", Value::Null).await.unwrap();
    c.drive_ready().await.unwrap();
    let state = c.saga(&id).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Compensated);
    assert!(state.steps[0].error.as_deref().unwrap().contains("timed out"), "{state:?}");
}

#[tokio::test]
async fn a_failing_compensation_is_retried_later_never_given_up() {
    let undo_ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = undo_ok.clone();
    let saga =
        Saga::builder("stuck")
            .step(
                Step::new("a", |_| async { Ok(Value::Null) })
                    .compensate(move |_| {
                        let ok = flag.load(Ordering::SeqCst);
                        async move {
                            if ok { Ok(Value::Null) } else { Err("refund service down".into()) }
                        }
                    })
                    .retry(quick(2)),
            )
            .step(Step::new("b", |_| async { Err::<Value, _>(Abort("no".into()).into()) }))
            .build()
            .unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let clock = Clock::manual(Clock::system().now_ms());
    let cfg = CoordinatorConfig::default().compensation_retry_delay(Duration::from_secs(30));
    let c = Coordinator::with_config(store, cfg).await.unwrap().clock(clock.clone());
    let c = c.register(saga).unwrap();
    let id = c.start("stuck", Value::Null).await.unwrap();
    c.drive_ready().await.unwrap();
    let state = c.saga(&id).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Compensating);
    assert_eq!(state.steps[0].status, StepStatus::Compensating);
    assert_eq!(state.steps[0].compensation_attempts, 2);
    assert_eq!(c.drive_ready().await.unwrap(), 0, "not due before the retry delay");
    undo_ok.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(30));
    assert_eq!(c.drive_ready().await.unwrap(), 1);
    let state = c.saga(&id).await.unwrap().unwrap();
    assert_eq!(state.summary.status, SagaStatus::Compensated);
}

#[tokio::test]
async fn starting_is_idempotent_and_names_are_checked() {
    let journal = Journal::default();
    let saga = Saga::builder("order").step(journaled("a", &journal)).build().unwrap();
    let c = coordinator(saga).await;
    let id = SagaId::new("order-42");
    assert!(c.start_with_id(id.clone(), "order", json!(1)).await.unwrap());
    assert!(!c.start_with_id(id.clone(), "order", json!(2)).await.unwrap());
    assert_eq!(c.saga(&id).await.unwrap().unwrap().input, json!(1));
    let err = c.start("nope", Value::Null).await.unwrap_err();
    assert!(matches!(err, TxError::UnknownSaga(_)), "{err}");
    assert!(c.saga(&SagaId::new("missing")).await.unwrap().is_none());
}

#[tokio::test]
async fn definitions_are_validated() {
    let ok = || Step::new("a", |_| async { Ok(Value::Null) });
    let err = |b: SagaBuilder| b.build().unwrap_err().to_string();
    assert!(err(Saga::builder("s")).contains("has no steps"));
    assert!(err(Saga::builder("s").step(ok()).step(ok())).contains("used twice"));
    assert!(
        err(Saga::builder("s").step(ok().retry(RetryPolicy::attempts(0)))).contains("max_attempts")
    );
    assert!(err(Saga::builder("s").step(ok().timeout(Duration::ZERO))).contains("timeout"));
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let cfg = CoordinatorConfig::default().lease(Duration::from_secs(10));
    let c = Coordinator::with_config(store, cfg).await.unwrap();
    let long = Saga::builder("s").step(ok().timeout(Duration::from_secs(9))).build().unwrap();
    let e = c.register(long).unwrap_err().to_string();
    assert!(e.contains("exceeds 80% of the coordinator lease"), "{e}");
}

use super::saga::SagaBuilder;
