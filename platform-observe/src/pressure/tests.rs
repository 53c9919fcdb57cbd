use std::time::Duration;

use platform_core::resilience::shed::Pressure;

use super::runtime::{busy_ratio, queue_signal};
use super::{PressureConfig, ResourcePressure, SpawnError};

#[test]
fn busy_ratio_is_busy_time_over_worker_time() {
    let s = Duration::from_secs;
    assert_eq!(busy_ratio(s(1), s(2), 1), 0.5);
    assert_eq!(busy_ratio(s(1), s(1), 2), 0.5);
    assert_eq!(busy_ratio(s(3), s(1), 2), 1.0, "clamped");
    assert_eq!(busy_ratio(s(1), Duration::ZERO, 2), 0.0, "no wall time");
}

#[test]
fn queue_signal_takes_the_higher_of_lag_and_depth() {
    let ms = Duration::from_millis;
    assert_eq!(queue_signal(ms(25), ms(50), 0, 100), 0.5);
    assert_eq!(queue_signal(ms(0), ms(50), 150, 100), 1.5);
    assert_eq!(queue_signal(ms(100), ms(50), 10, 100), 2.0);
}

#[test]
fn invalid_config_is_refused_naming_the_field() {
    let cfg = PressureConfig { lag_tolerance: Duration::ZERO, ..Default::default() };
    let err = ResourcePressure::builder().config(cfg).try_build().unwrap_err();
    assert!(err.to_string().contains("lag_tolerance"), "{err}");
    let cfg = PressureConfig { queue_tolerance: 0, ..Default::default() };
    let err = ResourcePressure::builder().config(cfg).try_build().unwrap_err();
    assert!(err.to_string().contains("queue_tolerance"), "{err}");
}

#[test]
fn without_sources_the_reading_is_calm_and_has_no_queue_signal() {
    let p = ResourcePressure::builder().build();
    let r = p.sample_now();
    assert_eq!((r.cpu, r.memory, r.queue), (0.0, 0.0, None));
    assert!(matches!(p.spawn_sampler(), Err(SpawnError::NoRuntime)));
}

#[test]
fn a_blocked_runtime_raises_the_queue_signal_through_scheduling_lag() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let cfg = PressureConfig {
        interval: Duration::from_millis(10),
        lag_tolerance: Duration::from_millis(50),
        ..Default::default()
    };
    let pressure = ResourcePressure::builder().runtime(rt.handle().clone()).config(cfg).build();
    assert_eq!(pressure.reading().queue, Some(0.0));
    rt.block_on(async {
        let _sampler = pressure.spawn_sampler().unwrap();
        // Let the sampler run once, then hog the only worker for 300 ms: the next tick is
        // due after 10 ms but can only run when the hog yields.
        tokio::time::sleep(Duration::from_millis(30)).await;
        std::thread::sleep(Duration::from_millis(300));
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    });
    let snap = pressure.snapshot();
    let lag = snap.schedule_lag.expect("the sampler measured a lag");
    assert!(lag >= Duration::from_millis(100), "lag {lag:?}");
    assert!(pressure.reading().queue.unwrap() >= 2.0, "{:?}", pressure.reading());
}

#[test]
fn busy_ratio_reflects_a_busy_worker() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    let pressure = ResourcePressure::builder().runtime(rt.handle().clone()).build();
    pressure.sample_now();
    rt.block_on(async {
        tokio::spawn(async { std::thread::sleep(Duration::from_millis(200)) }).await.unwrap();
    });
    // The worker adds its busy time when it parks; give it a moment to do so.
    std::thread::sleep(Duration::from_millis(20));
    pressure.sample_now();
    let busy = pressure.snapshot().busy_ratio.expect("second sample has a ratio");
    assert!(busy > 0.3, "busy ratio {busy}");
}
