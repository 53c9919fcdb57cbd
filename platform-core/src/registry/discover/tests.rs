use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tower::discover::Change;

use super::select::Selector;
use super::*;
use crate::registry::{Health, ServiceInstance, Snapshot, Watch, WatchEvent};

fn inst(id: &str) -> ServiceInstance {
    ServiceInstance::new("orders", id, "10.0.0.1", 80)
}

fn ids(selection: &[&ServiceInstance]) -> Vec<String> {
    selection.iter().map(|i| i.id.clone()).collect()
}

fn not_ready(i: &ServiceInstance) -> bool {
    !i.health.is_ready()
}

#[test]
fn filters_by_version_zone_and_metadata() {
    let all = [
        inst("a").with_version("1.4.2").with_metadata("tier", "gold"),
        inst("b").with_version("1.40.0").with_metadata("tier", "gold"),
        inst("c").with_version("1.4.7").with_metadata("tier", "silver"),
        inst("d").with_version("2.0.0").with_metadata("tier", "gold"),
    ];
    let select =
        |config: DiscoverConfig| ids(&Selector::new(&config).select(&all, not_ready).targets);
    assert_eq!(select(DiscoverConfig::default()), ["a", "b", "c", "d"]);
    assert_eq!(select(DiscoverConfig::default().with_version("1.4")), ["a", "c"]);
    assert_eq!(select(DiscoverConfig::default().with_version("1.4.7")), ["c"]);
    assert_eq!(select(DiscoverConfig::default().with_version("*")), ["a", "b", "c", "d"]);
    assert_eq!(select(DiscoverConfig::default().with_metadata("tier", "gold")), ["a", "b", "d"]);
    assert_eq!(
        select(DiscoverConfig::default().with_version("1.4").with_metadata("tier", "gold")),
        ["a"]
    );
    assert!(select(DiscoverConfig::default().with_metadata("missing", "x")).is_empty());
}

#[test]
fn zone_preference_falls_back_and_requirement_does_not() {
    let all = [
        inst("a").with_zone("z1"),
        inst("b").with_zone("z1").with_health(Health::Unhealthy),
        inst("c").with_zone("z2"),
        inst("d").with_zone("z2"),
    ];
    let select = |config: DiscoverConfig, all: &[ServiceInstance]| {
        ids(&Selector::new(&config).select(all, not_ready).targets)
    };
    let prefer = DiscoverConfig::default().with_zone("z1", ZonePolicy::Prefer);
    let require = DiscoverConfig::default().with_zone("z1", ZonePolicy::Require);
    // Local zone has a healthy instance and half out (not above 0.5): local only.
    assert_eq!(select(prefer.clone(), &all), ["a"]);
    assert_eq!(select(require.clone(), &all), ["a"]);
    // Local zone all unhealthy: prefer falls back to every zone, require panics locally.
    let mut down = all.clone();
    down[0].health = Health::Unhealthy;
    assert_eq!(select(prefer, &down), ["c", "d"]);
    assert_eq!(select(require, &down), ["a", "b"]);
}

#[test]
fn panic_threshold_routes_to_all_when_too_many_are_out() {
    let mut all: Vec<ServiceInstance> = ["a", "b", "c", "d"].into_iter().map(inst).collect();
    let selector = Selector::new(&DiscoverConfig::default());
    all[0].health = Health::Unhealthy;
    all[1].health = Health::Draining;
    let half = selector.select(&all, not_ready);
    assert!(!half.panic, "exactly half out is within a 0.5 threshold");
    assert_eq!(ids(&half.targets), ["c", "d"]);
    all[2].health = Health::Unhealthy;
    let most = selector.select(&all, not_ready);
    assert!(most.panic);
    assert_eq!((most.candidates, most.out), (4, 3));
    assert_eq!(ids(&most.targets), ["a", "b", "c", "d"]);
    // A threshold of 1.0 never panics: all out means no endpoint.
    all[3].health = Health::Unhealthy;
    let strict = Selector::new(&DiscoverConfig::default().with_panic_threshold(1.0));
    assert!(strict.select(&all, not_ready).targets.is_empty());
}

#[test]
fn invalid_config_is_rejected() {
    let bad = DiscoverConfig::default().with_panic_threshold(1.5);
    assert_eq!(bad.validate().unwrap_err().field(), "panic_threshold");
    assert_eq!(
        DiscoverConfig::default().with_version("").validate().unwrap_err().field(),
        "version"
    );
    let err = serde_json::from_str::<DiscoverConfig>(r#"{"zones": "a"}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

/// A watch fed by hand, and the adapter over it.
fn adapter(
    config: DiscoverConfig,
) -> (mpsc::UnboundedSender<WatchEvent>, RegistryDiscover<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    });
    let make = |i: &ServiceInstance| format!("{}@{}", i.id, i.authority());
    let discover =
        RegistryDiscover::from_watch("orders", Watch::new(stream), config, make).unwrap();
    (tx, discover)
}

/// The changes ready now, as `+id=endpoint` / `-id`.
fn drain(discover: &mut RegistryDiscover<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(Some(Ok(change))) = discover.next().now_or_never() {
        out.push(match change {
            Change::Insert(id, endpoint) => format!("+{id}={endpoint}"),
            Change::Remove(id) => format!("-{id}"),
        });
    }
    out
}

#[test]
fn resync_is_diffed_against_what_was_routed() {
    let (tx, mut discover) = adapter(DiscoverConfig::default());
    let first = Snapshot::new(1, vec![inst("a"), inst("b"), inst("c")]);
    tx.send(WatchEvent::Resync(first)).unwrap();
    assert_eq!(drain(&mut discover), ["+a=a@10.0.0.1:80", "+b=b@10.0.0.1:80", "+c=c@10.0.0.1:80"]);

    // After a reconnect: b is gone, c moved, d is new, a is unchanged.
    let moved = ServiceInstance::new("orders", "c", "10.0.0.9", 81);
    let second = Snapshot::new(7, vec![inst("a"), moved, inst("d")]);
    tx.send(WatchEvent::Resync(second)).unwrap();
    assert_eq!(drain(&mut discover), ["-b", "+c=c@10.0.0.9:81", "+d=d@10.0.0.1:80"]);
    assert_eq!(discover.routed().keys().collect::<Vec<_>>(), ["a", "c", "d"]);

    // A health change takes an instance out; an old event is ignored.
    let down = inst("d").with_health(Health::Unhealthy);
    tx.send(WatchEvent::Updated { version: 8, instance: down }).unwrap();
    tx.send(WatchEvent::Removed { version: 3, id: "a".into() }).unwrap();
    assert_eq!(drain(&mut discover), ["-d"]);
    assert_eq!(discover.view().version, 8);
}

#[test]
fn panic_events_are_emitted_on_entry_and_exit() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let listeners = crate::resilience::Listeners::new()
        .with(move |e: &DiscoverEvent| sink.lock().unwrap().push(e.clone()));
    let (tx, discover) = adapter(DiscoverConfig::default());
    let mut discover = discover.with_listeners(listeners);
    let sick = |id| inst(id).with_health(Health::Unhealthy);
    tx.send(WatchEvent::Resync(Snapshot::new(1, vec![inst("a"), sick("b"), sick("c")]))).unwrap();
    assert_eq!(drain(&mut discover).len(), 3, "panic routes to all three");
    assert!(discover.in_panic());
    tx.send(WatchEvent::Updated { version: 2, instance: inst("b") }).unwrap();
    assert_eq!(drain(&mut discover), ["-c"]);
    assert!(!discover.in_panic());
    let service = "orders".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            DiscoverEvent::PanicEntered { service: service.clone(), candidates: 3, out: 2 },
            DiscoverEvent::PanicExited { service, candidates: 3, out: 1 },
        ]
    );
}

#[test]
fn predicate_filters_with_the_config() {
    let (tx, discover) = adapter(DiscoverConfig::default());
    let mut discover = discover.with_predicate(|i| i.weight >= 100);
    let light = inst("b").with_weight(10);
    tx.send(WatchEvent::Resync(Snapshot::new(1, vec![inst("a"), light]))).unwrap();
    assert_eq!(drain(&mut discover), ["+a=a@10.0.0.1:80"]);
}

#[test]
fn balance_config_rejects_zero_decay() {
    let config = BalanceConfig { decay: std::time::Duration::ZERO, ..BalanceConfig::default() };
    assert_eq!(config.validate().unwrap_err().field(), "decay");
}
