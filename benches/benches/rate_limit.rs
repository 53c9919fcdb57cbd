//! Per-call overhead of the local global rate limiter on the admitted path, beside a bare
//! service and governor's direct `check()` alone, at 1 and 2 threads.
//!
//! Run: `cargo bench -p platform-benches --bench rate_limit`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};
use platform_benches::{Echo, call_now};
use platform_core::resilience::rate_limit::{RateLimitConfig, RateLimitLayer};
use tower::Layer;

/// A quota large enough never to reject during a bench run.
fn never_rejecting() -> RateLimitLayer {
    let mut cfg = RateLimitConfig::new(1_000_000_000, Duration::from_secs(1));
    cfg.burst = Some(u32::MAX / 2);
    RateLimitLayer::from_config(cfg).expect("valid config")
}

fn governor_direct() -> RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::QuantaClock,
> {
    let burst = NonZeroU32::new(u32::MAX / 2).expect("non-zero");
    let quota = Quota::with_period(Duration::from_nanos(1)).expect("non-zero").allow_burst(burst);
    RateLimiter::direct_with_clock(quota, governor::clock::QuantaClock::default())
}

fn one_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_limit/1_thread");
    let mut bare = Echo;
    g.bench_function("bare", |b| b.iter(|| call_now(&mut bare, black_box(1))));
    let mut ours = never_rejecting().layer(Echo);
    g.bench_function("platform_rate_limit", |b| b.iter(|| call_now(&mut ours, black_box(1))));
    let gov = governor_direct();
    g.bench_function("governor_check", |b| b.iter(|| black_box(gov.check()).is_ok()));
    g.finish();
}

/// Runs `f` on two threads at once for `iters` iterations each; reports the wall time.
fn two_threads<F>(iters: u64, make: impl Fn() -> F) -> Duration
where
    F: FnMut() + Send,
{
    let mut a = make();
    let mut b = make();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| (0..iters).for_each(|_| a()));
        s.spawn(|| (0..iters).for_each(|_| b()));
    });
    start.elapsed()
}

fn two_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_limit/2_threads");
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let mut svc = Echo;
                move || {
                    let _ = call_now(&mut svc, black_box(1));
                }
            })
        });
    });
    let layer = never_rejecting();
    g.bench_function("platform_rate_limit", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let mut svc = layer.layer(Echo);
                move || {
                    let _ = call_now(&mut svc, black_box(1));
                }
            })
        });
    });
    let gov = governor_direct();
    g.bench_function("governor_check", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let gov = &gov;
                move || {
                    let _ = black_box(gov.check());
                }
            })
        });
    });
    g.finish();
}

criterion_group!(benches, one_thread, two_thread);
criterion_main!(benches);
