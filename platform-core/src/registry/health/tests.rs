use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tower::{Layer, Service, ServiceExt, service_fn};

use super::*;
use crate::BoxError;
use crate::classify::ResultClassifier;
use crate::error::Overloaded;
use crate::resilience::Listeners;

const OK: u8 = 0;
const FAIL: u8 = 1;
const REJECT: u8 = 2;

/// An endpoint whose answer is set by `mode`, wrapped for outlier detection.
fn endpoint(
    detector: &OutlierDetector,
    id: &str,
    mode: Arc<AtomicU8>,
) -> impl Service<(), Response = (), Error = BoxError> {
    let inner = service_fn(move |()| {
        let mode = mode.load(Ordering::SeqCst);
        async move {
            match mode {
                OK => Ok(()),
                FAIL => Err::<(), BoxError>("connection reset".into()),
                _ => Err(Overloaded::new("bulkhead full").into()),
            }
        }
    });
    detector.layer(id, ResultClassifier).layer(inner)
}

fn recording() -> (Listeners<OutlierEvent>, Arc<Mutex<Vec<OutlierEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (Listeners::new().with(move |e: &OutlierEvent| sink.lock().unwrap().push(e.clone())), seen)
}

fn config() -> OutlierConfig {
    OutlierConfig {
        consecutive_failures: 3,
        base_ejection: Duration::from_secs(10),
        multiplier: 2.0,
        max_ejection: Duration::from_secs(35),
        max_ejected_share: 0.5,
    }
}

async fn call_n(svc: &mut (impl Service<(), Response = (), Error = BoxError> + Send), n: usize) {
    for _ in 0..n {
        let _ = svc.ready().await.unwrap().call(()).await;
    }
}

#[tokio::test(start_paused = true)]
async fn ejects_after_consecutive_failures_and_readmits_with_growing_backoff() {
    let (listeners, seen) = recording();
    let detector = OutlierDetector::new("orders", config()).unwrap().with_listeners(listeners);
    detector.sync_hosts(["a", "b", "c"].into_iter());
    let mode = Arc::new(AtomicU8::new(FAIL));
    let mut a = endpoint(&detector, "a", Arc::clone(&mode));

    call_n(&mut a, 2).await;
    assert!(!detector.is_ejected("a"), "two failures are below the threshold");
    call_n(&mut a, 1).await;
    assert_eq!(detector.ejected(), ["a"]);

    // First ejection: 10 s.
    tokio::time::sleep(Duration::from_millis(9_900)).await;
    assert!(detector.is_ejected("a"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!detector.is_ejected("a"));

    // Second in a row: 20 s; third: 40 s capped to 35 s.
    for expected in [20, 35] {
        call_n(&mut a, 3).await;
        assert!(detector.is_ejected("a"));
        tokio::time::sleep(Duration::from_secs(expected) - Duration::from_millis(100)).await;
        assert!(detector.is_ejected("a"), "still ejected before {expected} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!detector.is_ejected("a"), "readmitted after {expected} s");
    }

    let durations: Vec<(u32, Duration)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            OutlierEvent::Ejected {
                ejections,
                duration,
                consecutive_failures: 3,
                last_error,
                ..
            } => {
                assert_eq!(last_error.as_deref(), Some("connection reset"));
                Some((*ejections, *duration))
            }
            _ => None,
        })
        .collect();
    let secs = Duration::from_secs;
    assert_eq!(durations, [(1, secs(10)), (2, secs(20)), (3, secs(35))]);

    // Staying in rotation for max_ejection starts the backoff over.
    tokio::time::sleep(secs(36)).await;
    call_n(&mut a, 3).await;
    assert!(matches!(
        seen.lock().unwrap().last(),
        Some(OutlierEvent::Ejected { ejections: 1, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn successes_reset_the_count_and_rejections_do_not_count() {
    let detector = OutlierDetector::new("orders", config()).unwrap();
    detector.sync_hosts(["a", "b"].into_iter());
    let mode = Arc::new(AtomicU8::new(FAIL));
    let mut a = endpoint(&detector, "a", Arc::clone(&mode));
    call_n(&mut a, 2).await;
    mode.store(OK, Ordering::SeqCst);
    call_n(&mut a, 1).await;
    mode.store(FAIL, Ordering::SeqCst);
    call_n(&mut a, 2).await;
    mode.store(REJECT, Ordering::SeqCst);
    call_n(&mut a, 10).await;
    assert!(!detector.is_ejected("a"), "2 + 2 failures split by a success, rejections ignored");
    mode.store(FAIL, Ordering::SeqCst);
    call_n(&mut a, 1).await;
    assert!(detector.is_ejected("a"), "rejections did not reset the count");
}

#[tokio::test(start_paused = true)]
async fn never_ejects_more_than_the_share() {
    let (listeners, seen) = recording();
    let detector = OutlierDetector::new("orders", config()).unwrap().with_listeners(listeners);
    detector.sync_hosts(["a", "b", "c"].into_iter());
    let failing = Arc::new(AtomicU8::new(FAIL));
    for id in ["a", "b", "c"] {
        call_n(&mut endpoint(&detector, id, Arc::clone(&failing)), 3).await;
    }
    assert_eq!(detector.ejected(), ["a"], "one of three is the most a 0.5 share allows");
    let capped = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, OutlierEvent::EjectionCapped { ejected: 1, hosts: 3, .. }))
        .count();
    assert_eq!(capped, 2);
    // Hosts that left the service are forgotten, and their endpoints no longer eject.
    let mut b = endpoint(&detector, "b", Arc::clone(&failing));
    detector.sync_hosts(["c", "d"].into_iter());
    assert!(detector.ejected().is_empty());
    call_n(&mut b, 3).await;
    assert!(detector.ejected().is_empty());
}

#[test]
fn configs_validate_and_parse() {
    assert_eq!(
        OutlierConfig { multiplier: 0.5, ..config() }.validate().unwrap_err().field(),
        "multiplier"
    );
    assert_eq!(
        OutlierConfig { max_ejection: Duration::from_secs(1), ..config() }
            .validate()
            .unwrap_err()
            .field(),
        "max_ejection"
    );
    assert_eq!(
        ProbeConfig::default().with_thresholds(0, 1).validate().unwrap_err().field(),
        "healthy_after"
    );
    let bad_path =
        ProbeCheck::Http { path: "health".into(), expected_status: StatusRange::default() };
    assert_eq!(
        ProbeConfig::default().with_check(bad_path).validate().unwrap_err().field(),
        "check.path"
    );
    assert_eq!(StatusRange::try_from("204".to_owned()).unwrap(), StatusRange::new(204, 204));
    assert_eq!(StatusRange::try_from(" 200 - 399".to_owned()).unwrap(), StatusRange::new(200, 399));
    assert!(StatusRange::try_from("299-200".to_owned()).is_err());
    assert!(StatusRange::try_from("ok".to_owned()).is_err());
    let tcp: ProbeConfig = serde_json::from_str(r#"{"check": {"kind": "tcp"}}"#).unwrap();
    assert_eq!(tcp.check, ProbeCheck::Tcp);
    assert_eq!(serde_json::to_string(&StatusRange::new(200, 299)).unwrap(), r#""200-299""#);
}

proptest! {
    #[test]
    fn ejection_duration_grows_and_is_capped(
        base_ms in 1u64..100_000,
        multiplier in 1.0f64..10.0,
        extra_ms in 0u64..1_000_000,
        k in 0u32..200,
    ) {
        let config = OutlierConfig {
            base_ejection: Duration::from_millis(base_ms),
            multiplier,
            max_ejection: Duration::from_millis(base_ms + extra_ms),
            ..OutlierConfig::default()
        };
        prop_assert!(config.validate().is_ok());
        let d = config.ejection_duration(k);
        prop_assert!(d >= config.base_ejection);
        prop_assert!(d <= config.max_ejection);
        prop_assert!(config.ejection_duration(k + 1) >= d);
        prop_assert_eq!(config.ejection_duration(0), config.base_ejection);
    }

    #[test]
    fn probe_jitter_stays_in_its_band(jitter in 0.0f64..=0.9, secs in 1u64..3600) {
        let config = ProbeConfig { jitter, interval: Duration::from_secs(secs), ..ProbeConfig::default() };
        let next = config.next_interval().as_secs_f64();
        let base = secs as f64;
        prop_assert!(next >= base * (1.0 - jitter) - 1e-6 && next <= base * (1.0 + jitter) + 1e-6);
    }
}
