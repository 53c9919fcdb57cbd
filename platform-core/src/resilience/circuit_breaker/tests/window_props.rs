//! The lock-free windows agree with a naive model on any sequence of outcomes and times.

use std::collections::VecDeque;

use proptest::prelude::*;

use crate::resilience::circuit_breaker::window::{CountWindow, Sample, TimeWindow, Totals};

fn sample() -> impl Strategy<Value = Sample> {
    (any::<bool>(), any::<bool>()).prop_map(|(failure, slow)| Sample { failure, slow })
}

fn totals<'a>(samples: impl Iterator<Item = &'a Sample>) -> Totals {
    samples.fold(Totals::default(), |mut t, s| {
        t.calls += 1;
        t.failures += u64::from(s.failure);
        t.slow += u64::from(s.slow);
        t
    })
}

/// Mostly fast successes, so windows full of them (the no-write fast path) are common.
fn healthy_sample() -> impl Strategy<Value = Sample> {
    (prop::bool::weighted(0.05), prop::bool::weighted(0.05))
        .prop_map(|(failure, slow)| Sample { failure, slow })
}

/// Records `s` in the window and in its model, the last `size` samples.
fn record(w: &CountWindow, model: &mut VecDeque<Sample>, size: usize, s: Sample) {
    w.record(s);
    model.push_back(s);
    if model.len() > size {
        model.pop_front();
    }
}

proptest! {
    #[test]
    fn count_window_matches_last_n_on_a_healthy_service(size in 1usize..20, ops in prop::collection::vec(healthy_sample(), 0..400)) {
        let w = CountWindow::new(size);
        let mut model = VecDeque::new();
        for s in ops {
            record(&w, &mut model, size, s);
            prop_assert_eq!(w.totals(), totals(model.iter()));
        }
    }

    #[test]
    fn count_window_matches_last_n(size in 1usize..20, ops in prop::collection::vec((sample(), any::<u8>()), 0..200)) {
        let w = CountWindow::new(size);
        let mut model = VecDeque::new();
        for (s, clear) in ops {
            if clear == 0 {
                w.clear();
                model.clear();
            }
            record(&w, &mut model, size, s);
            prop_assert_eq!(w.totals(), totals(model.iter()));
        }
    }

    #[test]
    fn time_window_matches_bucketed_model(
        buckets in 1usize..12,
        width in 1u64..1_000,
        ops in prop::collection::vec((sample(), 0u64..2_000), 0..200),
    ) {
        let w = TimeWindow::new(buckets, width);
        let mut model: Vec<(u64, Sample)> = Vec::new();
        let mut now = 0;
        for (s, step) in ops {
            now += step;
            w.record(now, s);
            model.push((now, s));
            // In the window: samples whose bucket is one of the last `buckets` ones.
            let current = now / width;
            let kept = model.iter().filter(|(t, _)| t / width + buckets as u64 > current).map(|(_, s)| s);
            prop_assert_eq!(w.totals(now), totals(kept));
        }
    }
}
