use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use tokio::sync::watch;
use tower::{Service, ServiceExt, service_fn};

use super::*;
use crate::error::Overloaded;
use crate::resilience::{Listeners, Mode};

type Req = http::Request<()>;

fn ok_service() -> impl Service<
    Req,
    Response = &'static str,
    Error = Infallible,
    Future = std::future::Ready<Result<&'static str, Infallible>>,
> + Clone {
    service_fn(|_: Req| std::future::ready(Ok::<_, Infallible>("ok")))
}

fn request(c: Criticality) -> Req {
    let mut req = http::Request::new(());
    req.extensions_mut().insert(c);
    req
}

/// Sends `n` requests of criticality `c` through one service; returns how many were shed.
async fn count_shed(layer: &LoadShedLayer, c: Criticality, n: usize) -> usize {
    let mut svc = tower_layer::Layer::layer(layer, ok_service());
    let mut shed = 0;
    for _ in 0..n {
        match svc.ready().await.expect("ready").call(request(c)).await {
            Ok(_) => {}
            Err(e) => {
                assert!(e.downcast_ref::<Overloaded>().is_some(), "{e}");
                shed += 1;
            }
        }
    }
    shed
}

fn layer_at(cpu: f64, seed: u64) -> LoadShedLayer {
    LoadShedLayer::new(ManualPressure::from_reading(PressureReading::new(cpu, 0.0))).seed(seed)
}

#[tokio::test]
async fn shed_share_follows_the_ramp() {
    // Default ramp 0.75 → 0.95: at 0.85 half of the default traffic is shed.
    let layer = layer_at(0.85, 7);
    let shed = count_shed(&layer, Criticality::Default, 4000).await;
    assert!((1800..=2200).contains(&shed), "shed {shed} of 4000 at p = 0.5");
    // At 0.80 the probability is 0.25.
    let shed = count_shed(&layer_at(0.80, 7), Criticality::Default, 4000).await;
    assert!((850..=1150).contains(&shed), "shed {shed} of 4000 at p = 0.25");
    // Below the ramp nothing, above it everything.
    assert_eq!(count_shed(&layer_at(0.74, 7), Criticality::Default, 500).await, 0);
    assert_eq!(count_shed(&layer_at(0.96, 7), Criticality::Default, 500).await, 500);
}

#[tokio::test]
async fn same_seed_same_decisions() {
    let a = count_shed(&layer_at(0.85, 99), Criticality::Default, 1000).await;
    let b = count_shed(&layer_at(0.85, 99), Criticality::Default, 1000).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn clones_do_not_replay_the_same_draw() {
    // Clone-per-request routers call a fresh clone every time; each must draw anew.
    let layer = layer_at(0.85, 3);
    let svc = tower_layer::Layer::layer(&layer, ok_service());
    let mut shed = 0;
    for _ in 0..2000 {
        if svc.clone().oneshot(request(Criticality::Default)).await.is_err() {
            shed += 1;
        }
    }
    assert!((800..=1200).contains(&shed), "shed {shed} of 2000 at p = 0.5");
}

#[tokio::test]
async fn critical_traffic_is_shed_last() {
    // At 0.80: sheddable p = 0.8, default p = 0.25, critical p = 0.
    let layer = layer_at(0.80, 11);
    let sheddable = count_shed(&layer, Criticality::Sheddable, 2000).await;
    let default = count_shed(&layer, Criticality::Default, 2000).await;
    let critical = count_shed(&layer, Criticality::Critical, 2000).await;
    assert!((1500..=1700).contains(&sheddable), "sheddable {sheddable}");
    assert!((400..=600).contains(&default), "default {default}");
    assert_eq!(critical, 0);
}

#[tokio::test]
async fn header_and_missing_criticality() {
    let layer = layer_at(0.86, 1); // sheddable: always shed; default: 55%
    let svc = tower_layer::Layer::layer(&layer, ok_service());
    let req = http::Request::builder().header("x-criticality", "Sheddable").body(()).expect("req");
    assert!(svc.clone().oneshot(req).await.is_err());
    let req = http::Request::builder().header("x-criticality", "bogus").body(()).expect("req");
    let _ = svc.clone().oneshot(req).await; // unknown value → default criticality, no panic
    let layer = layer_at(0.86, 1).criticality(FixedCriticality(Criticality::Critical));
    let svc = tower_layer::Layer::layer(
        &layer,
        service_fn(|x: u8| async move { Ok::<_, Infallible>(x) }),
    );
    assert_eq!(svc.oneshot(5).await.expect("critical passes"), 5);
}

#[tokio::test]
async fn reason_names_the_dominant_signal_and_disabled_signals_are_ignored() {
    let pressure = Arc::new(ManualPressure::from_reading(PressureReading::new(0.1, 0.99)));
    let layer = LoadShedLayer::new(pressure.clone()).seed(1);
    let err = tower_layer::Layer::layer(&layer, ok_service())
        .oneshot(request(Criticality::Default))
        .await
        .expect_err("memory at 99% sheds default traffic");
    assert_eq!(
        err.downcast_ref::<Overloaded>().expect("Overloaded").reason(),
        "shed: memory pressure"
    );

    pressure.set_queue(Some(2.0));
    let err = tower_layer::Layer::layer(&layer, ok_service())
        .oneshot(request(Criticality::Default))
        .await
        .expect_err("queue sheds");
    assert_eq!(
        err.downcast_ref::<Overloaded>().expect("Overloaded").reason(),
        "shed: queue pressure"
    );

    let cfg = LoadShedConfig::default().with_signals(ShedSignals {
        cpu: true,
        memory: false,
        queue: false,
    });
    layer.reconfigure(&cfg).expect("valid");
    assert_eq!(count_shed(&layer, Criticality::Default, 200).await, 0);
}

#[tokio::test]
async fn shadow_mode_reports_and_lets_everything_through() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let cfg = LoadShedConfig::default().with_mode(Mode::Shadow);
    let layer = LoadShedLayer::from_config(
        ManualPressure::from_reading(PressureReading::new(0.9, 0.0)),
        cfg,
    )
    .expect("valid")
    .with_listeners(Listeners::new().with(move |e: &ShedEvent| {
        sink.lock().expect("lock").push(e.clone());
    }))
    .seed(5);
    assert_eq!(count_shed(&layer, Criticality::Sheddable, 100).await, 0);
    let events = events.lock().expect("lock");
    assert_eq!(events.len(), 100, "every would-be shed is reported");
    assert!(events.iter().all(|e| matches!(
        e,
        ShedEvent::Shed { shadow: true, criticality: Criticality::Sheddable, signal: Signal::Cpu, probability, .. } if *probability == 1.0
    )));
}

#[tokio::test]
async fn live_reconfiguration() {
    let (tx, rx) = watch::channel(LoadShedConfig::default());
    let layer = layer_at(0.80, 2).watch_config(rx);
    assert_eq!(count_shed(&layer, Criticality::Critical, 100).await, 0);
    tx.send(LoadShedConfig::default().with_thresholds(Criticality::Critical, 0.7, 0.8))
        .expect("send");
    tokio::task::yield_now().await;
    // That critical ramp starts below the default one: invalid, skipped, the old config stays.
    assert_eq!(layer.config(), LoadShedConfig::default());
    let cfg = LoadShedConfig::default()
        .with_thresholds(Criticality::Sheddable, 0.5, 0.6)
        .with_thresholds(Criticality::Default, 0.6, 0.7)
        .with_thresholds(Criticality::Critical, 0.7, 0.8);
    tx.send(cfg.clone()).expect("send");
    tokio::task::yield_now().await;
    assert_eq!(layer.config(), cfg);
    assert_eq!(count_shed(&layer, Criticality::Critical, 100).await, 100);
}

#[test]
fn validation_names_the_field() {
    let err = LoadShedConfig::default()
        .with_thresholds(Criticality::Default, 0.9, 0.8)
        .validate()
        .expect_err("start above full");
    assert_eq!(err.field(), "default");
    let err = LoadShedConfig::default()
        .with_thresholds(Criticality::Critical, 0.5, 1.2)
        .validate()
        .expect_err("critical starts before default");
    assert_eq!(err.field(), "critical");
    assert!(err.problem().contains("shed last"), "{err}");
    let err = serde_json::from_str::<LoadShedConfig>(r#"{"defualt":{"start":0.1,"full":0.2}}"#)
        .expect_err("typo");
    assert!(err.to_string().contains("defualt"), "{err}");
}

#[test]
fn criticality_parses_case_insensitively() {
    assert_eq!("CRITICAL".parse::<Criticality>(), Ok(Criticality::Critical));
    assert_eq!("sheddable".parse::<Criticality>(), Ok(Criticality::Sheddable));
    assert!("urgent".parse::<Criticality>().is_err());
    assert!(
        Criticality::Sheddable < Criticality::Default
            && Criticality::Default < Criticality::Critical
    );
}

#[test]
fn manual_pressure_round_trips() {
    let p = ManualPressure::new();
    p.set(PressureReading::new(0.3, 0.4).with_queue(0.5));
    assert_eq!(p.reading(), PressureReading::new(0.3, 0.4).with_queue(0.5));
    p.set_queue(None);
    assert_eq!(p.reading().queue, None);
    assert_eq!(p.reading().highest(|_| true), (0.4, Signal::Memory));
    assert_eq!(p.reading().highest(|s| s == Signal::Cpu), (0.3, Signal::Cpu));
}

proptest! {
    #[test]
    fn probability_is_a_monotone_ramp(start in 0.0f64..2.0, width in 0.001f64..2.0, a in -1.0f64..4.0, b in -1.0f64..4.0) {
        let t = ShedThresholds::new(start, start + width);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (p_lo, p_hi) = (t.probability(lo), t.probability(hi));
        prop_assert!((0.0..=1.0).contains(&p_lo) && (0.0..=1.0).contains(&p_hi));
        prop_assert!(p_lo <= p_hi);
    }

    #[test]
    fn valid_configs_order_criticalities(level in 0.0f64..1.5, s in 0.0f64..0.5, d in 0.0f64..0.3, c in 0.0f64..0.3, w in 0.05f64..0.5) {
        let cfg = LoadShedConfig::default()
            .with_thresholds(Criticality::Sheddable, s, s + w)
            .with_thresholds(Criticality::Default, s + d, s + d + w)
            .with_thresholds(Criticality::Critical, s + d + c, s + d + c + w);
        prop_assert!(cfg.validate().is_ok());
        let p = |k| cfg.thresholds(k).probability(level);
        prop_assert!(p(Criticality::Sheddable) >= p(Criticality::Default));
        prop_assert!(p(Criticality::Default) >= p(Criticality::Critical));
    }
}
