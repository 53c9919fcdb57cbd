//! Property tests of the GCRA decisions of the local rate limiter: over random arrival
//! sequences it agrees with a simple reference model, and no window ever admits more than
//! `burst + window / emission_interval` requests.

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use platform_core::resilience::rate_limit::{ManualClock, RateLimitConfig, RateLimitLayer};
use proptest::prelude::*;
use tower::{Layer, Service, service_fn};

/// The textbook GCRA over integer nanoseconds.
struct Model {
    t: u128,
    tau: u128,
    tat: Option<u128>,
}

impl Model {
    fn admit(&mut self, now: u128) -> bool {
        let tat = self.tat.unwrap_or(now).max(now);
        if now + self.tau < tat {
            return false;
        }
        self.tat = Some(tat + self.t);
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn agrees_with_model_and_bounds_every_window(
        rate in 1u32..50,
        burst in 1u32..8,
        gaps_ms in proptest::collection::vec(0u64..200, 1..120),
    ) {
        let cfg = RateLimitConfig::builder()
            .rate(rate, Duration::from_secs(1))
            .burst(burst)
            .build()
            .expect("valid");
        let t = cfg.quota().emission_interval().as_nanos();
        let mut model = Model { t, tau: t * u128::from(burst - 1), tat: None };
        let clock = ManualClock::new();
        let layer = RateLimitLayer::from_config(cfg).expect("layer").with_clock(clock.clone().into());
        let mut svc = layer.layer(service_fn(|x: u32| std::future::ready(Ok::<_, std::convert::Infallible>(x))));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);

        let mut now: u128 = 0;
        let mut admitted_at = Vec::new();
        for gap in gaps_ms {
            clock.advance(Duration::from_millis(gap));
            now += u128::from(gap) * 1_000_000;
            prop_assert!(matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))));
            let ours = svc.call(0).now_or_never().expect("completes at once").is_ok();
            prop_assert_eq!(ours, model.admit(now), "at {}ns", now);
            if ours {
                admitted_at.push(now);
            }
        }
        // Any window [a, a + w] holds at most burst + floor(w / t) admissions.
        for (i, &a) in admitted_at.iter().enumerate() {
            for (j, &b) in admitted_at.iter().enumerate().skip(i) {
                let count = (j - i + 1) as u128;
                prop_assert!(count <= u128::from(burst) + (b - a) / t,
                    "{} admitted within {}ns (burst {}, interval {}ns)", count, b - a, burst, t);
            }
        }
    }
}
