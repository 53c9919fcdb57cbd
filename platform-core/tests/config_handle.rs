//! `ConfigHandle`: last good value, restart-required keys, versions, subscriptions.
#![cfg(feature = "config")]

use platform_core::config::{ConfigEvent, ConfigHandle, Origin, UpdateError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct App {
    port: u16,
    workers: u32,
    http: Http,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Http {
    timeout_ms: u64,
}

fn app(port: u16, workers: u32, timeout_ms: u64) -> App {
    App { port, workers, http: Http { timeout_ms } }
}

fn handle() -> ConfigHandle<App> {
    ConfigHandle::builder()
        .validate(|c: &App| match c.workers {
            0 => Err("workers must be at least 1".into()),
            _ => Ok(()),
        })
        .restart_required(["port"])
        .build(app(80, 4, 100))
        .unwrap()
}

#[test]
fn invalid_initial_value_is_refused() {
    let err = ConfigHandle::builder()
        .validate(|c: &App| if c.workers == 0 { Err("no workers".into()) } else { Ok(()) })
        .build(app(80, 0, 1))
        .unwrap_err();
    assert!(err.to_string().contains("no workers"), "{err}");
}

#[test]
fn invalid_update_keeps_last_good_value_and_says_why() {
    let h = handle();
    let mut events = h.events();
    let err = h.update_from(Origin::Remote("test".into()), app(80, 0, 200)).unwrap_err();
    assert!(
        matches!(&err, UpdateError::Invalid { reason, .. } if reason == "workers must be at least 1")
    );
    assert!(err.to_string().contains("remote source test"), "{err}");
    assert_eq!(*h.load_full(), app(80, 4, 100));
    assert_eq!(h.version(), 1);
    match events.try_recv().unwrap() {
        ConfigEvent::Rejected { origin, reason } => {
            assert_eq!(origin, Origin::Remote("test".into()));
            assert_eq!(reason, "workers must be at least 1");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn restart_required_key_is_reported_and_not_applied() {
    let h = handle();
    let mut events = h.events();
    let outcome = h.update(app(81, 8, 100)).unwrap();
    assert_eq!(outcome.restart_required, vec!["port"]);
    assert!(outcome.applied);
    // The rest of the update applies; the port keeps its running value.
    assert_eq!(*h.load_full(), app(80, 8, 100));
    assert_eq!(h.pending_restart(), vec!["port"]);
    assert!(
        matches!(events.try_recv().unwrap(), ConfigEvent::RestartRequired { keys, .. } if keys == ["port"])
    );
    assert!(matches!(events.try_recv().unwrap(), ConfigEvent::Applied { version: 2, .. }));

    // Only the restart-required key differs: nothing to apply, still reported.
    let outcome = h.update(app(81, 8, 100)).unwrap();
    assert!(!outcome.applied);
    assert_eq!(h.version(), 2);
    assert!(matches!(events.try_recv().unwrap(), ConfigEvent::RestartRequired { .. }));
    assert!(matches!(events.try_recv().unwrap(), ConfigEvent::Unchanged { .. }));

    // Reverting the port clears the pending restart.
    h.update(app(80, 8, 100)).unwrap();
    assert!(h.pending_restart().is_empty());
}

#[test]
fn version_counts_applied_updates_only() {
    let h = handle();
    assert_eq!(h.version(), 1);
    assert_eq!(h.update(app(80, 5, 100)).unwrap().version, 2);
    assert!(h.update(app(80, 0, 100)).is_err()); // rejected
    assert!(!h.update(app(80, 5, 100)).unwrap().applied); // unchanged
    assert_eq!(h.version(), 2);
    assert_eq!(h.update(app(80, 6, 100)).unwrap().version, 3);
    assert_eq!(h.version(), 3);
}

#[test]
fn subscribers_see_old_and_new_values() {
    let h = handle();
    let mut rx = h.subscribe();
    assert!(!rx.has_changed().unwrap(), "the current value starts as seen");
    h.update(app(80, 5, 100)).unwrap();
    assert!(rx.has_changed().unwrap());
    let change = rx.borrow_and_update().clone();
    assert_eq!(*change.old, app(80, 4, 100));
    assert_eq!(*change.new, app(80, 5, 100));
    assert_eq!(change.version, 2);
    assert_eq!(change.origin, Origin::Update);
    // A rejected update notifies nobody.
    let _ = h.update(app(80, 0, 100));
    assert!(!rx.has_changed().unwrap());
}

#[test]
fn section_channel_follows_only_its_section() {
    let h = handle();
    let mut http = h.watch_section(|c: &App| c.http.clone());
    assert_eq!(http.borrow().timeout_ms, 100);
    h.update(app(80, 5, 100)).unwrap();
    assert!(!http.has_changed().unwrap(), "workers changed, not http");
    h.update(app(80, 5, 250)).unwrap();
    assert!(http.has_changed().unwrap());
    assert_eq!(http.borrow_and_update().timeout_ms, 250);
    // Dropped receivers are forgotten on the next update.
    drop(http);
    h.update(app(80, 5, 300)).unwrap();
}

#[test]
fn clones_share_one_value() {
    let h = handle();
    let other = h.clone();
    h.update(app(80, 9, 100)).unwrap();
    assert_eq!(other.load().workers, 9);
    assert_eq!(other.version(), 2);
}

#[cfg(feature = "resilience")]
#[tokio::test]
async fn resilience_layer_follows_its_section() {
    use platform_core::resilience::{TimeoutConfig, TimeoutLayer};
    use std::time::Duration;

    #[derive(Clone, Default, Serialize, Deserialize)]
    struct WithTimeout {
        timeout: TimeoutConfig,
    }
    let h = ConfigHandle::new(WithTimeout::default());
    let rx = h.watch_section(|c: &WithTimeout| c.timeout.clone());
    let _layer = TimeoutLayer::new(Duration::from_secs(1)).watch_config(rx.clone());
    h.update(WithTimeout { timeout: TimeoutConfig::new(Duration::from_millis(5)) }).unwrap();
    assert_eq!(rx.borrow().timeout, Duration::from_millis(5));
}
