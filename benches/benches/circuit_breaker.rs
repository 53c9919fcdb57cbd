//! Per-call overhead of the circuit breaker on the admitted (closed) path, beside a bare
//! service and the `tower-resilience` circuit breaker, at 1 and 2 threads, in one run.
//!
//! Run: `cargo bench -p platform-benches --bench circuit_breaker`.
//!
//! Every layer is built outside the timed loop. At 2 threads both threads call clones of
//! one service (so they share one breaker) and the reported time is the wall time of
//! `iters` calls on each thread: per-call latency under contention.

use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use platform_benches::{Echo, call_now};
use platform_core::resilience::circuit_breaker::CircuitBreakerLayer;
use tower::{Layer, Service};

/// Polls `svc` until ready and its future until done, with a no-op waker. Needed for
/// services whose future may be pending for a moment under contention (the peer takes an
/// async mutex per call); busy-polling keeps the measurement free of executor costs.
fn call_spin<S: Service<u64>>(svc: &mut S, req: u64) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => break,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => std::hint::spin_loop(),
        }
    }
    let mut fut = pin!(svc.call(req));
    loop {
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            return r;
        }
        std::hint::spin_loop();
    }
}

fn platform_default() -> CircuitBreakerLayer {
    CircuitBreakerLayer::default()
}

/// Every trigger on: time window, slow calls (clock reads + running-call tracking),
/// consecutive failures.
fn platform_all_triggers() -> CircuitBreakerLayer {
    CircuitBreakerLayer::builder()
        .time_window(Duration::from_secs(60), 60)
        .slow_call_rate_threshold(0.8)
        .slow_call_duration(Duration::from_secs(1))
        .consecutive_failures(10)
        .build()
        .expect("valid settings")
}

fn peer() -> tower_resilience::circuitbreaker::CircuitBreakerLayer {
    tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .expect("valid settings")
}

fn one_thread(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let _guard = rt.enter();
    let mut g = c.benchmark_group("circuit_breaker/1_thread");
    let mut bare = Echo;
    g.bench_function("bare", |b| b.iter(|| call_now(&mut bare, black_box(1))));
    let mut ours = platform_default().layer(Echo);
    g.bench_function("platform", |b| b.iter(|| call_now(&mut ours, black_box(1))));
    let mut ours_all = platform_all_triggers().layer(Echo);
    g.bench_function("platform_all_triggers", |b| {
        b.iter(|| call_now(&mut ours_all, black_box(1)));
    });
    let mut theirs = peer().layer(Echo);
    g.bench_function("tower_resilience", |b| b.iter(|| call_spin(&mut theirs, black_box(1))));
    g.finish();
}

/// Wall time for two threads to make `iters` calls each on clones of `svc`.
fn two_threads_time<S>(svc: &S, iters: u64, call: fn(&mut S, u64)) -> Duration
where
    S: Clone + Send + 'static,
{
    let start_line = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut svc = svc.clone();
            let start_line = start_line.clone();
            std::thread::spawn(move || {
                start_line.wait();
                for i in 0..iters {
                    call(&mut svc, black_box(i));
                }
            })
        })
        .collect();
    start_line.wait();
    let started = Instant::now();
    for w in workers {
        w.join().expect("bench thread");
    }
    started.elapsed()
}

fn now(svc: &mut impl Service<u64>, i: u64) {
    let _ = call_now(svc, i);
}

fn spin(svc: &mut impl Service<u64>, i: u64) {
    let _ = call_spin(svc, i);
}

fn two_threads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let _guard = rt.enter();
    let mut g = c.benchmark_group("circuit_breaker/2_threads");
    g.bench_function("bare", |b| b.iter_custom(|iters| two_threads_time(&Echo, iters, now)));
    let ours = platform_default().layer(Echo);
    g.bench_function("platform", |b| b.iter_custom(|iters| two_threads_time(&ours, iters, now)));
    let ours_all = platform_all_triggers().layer(Echo);
    g.bench_function("platform_all_triggers", |b| {
        b.iter_custom(|iters| two_threads_time(&ours_all, iters, now));
    });
    let theirs = peer().layer(Echo);
    g.bench_function("tower_resilience", |b| {
        b.iter_custom(|iters| two_threads_time(&theirs, iters, spin));
    });
    g.finish();
}

criterion_group!(benches, one_thread, two_threads);
criterion_main!(benches);
