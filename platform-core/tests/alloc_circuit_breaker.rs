//! The admitted closed-state path of the circuit breaker — `poll_ready`, `call` and the
//! response future running to completion — allocates nothing once warmed up.
//!
//! One test in this binary, and no runtime threads, so the process-wide counting allocator
//! only sees this thread's allocations.

use std::alloc::System;
use std::future::{Future, Ready, ready};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use platform_core::resilience::circuit_breaker::{CircuitBreakerLayer, CircuitState};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A zero-sized error: boxing it into a `BoxError` does not allocate.
#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

/// Answers at once; fails every call whose number is divisible by 7.
#[derive(Clone, Copy)]
struct Backend;

impl Service<u64> for Backend {
    type Response = u64;
    type Error = Failed;
    type Future = Ready<Result<u64, Failed>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Failed>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, n: u64) -> Self::Future {
        ready(if n.is_multiple_of(7) { Err(Failed) } else { Ok(n) })
    }
}

fn drive<S: Service<u64>>(svc: &mut S, n: u64) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_ready());
    let mut fut = std::pin::pin!(svc.call(n));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r.is_ok(),
        Poll::Pending => panic!("the backend answers at once"),
    }
}

fn assert_no_alloc(name: &str, layer: &CircuitBreakerLayer) {
    let mut svc = layer.layer(Backend);
    for n in 1..=1_000 {
        drive(&mut svc, n);
    }
    let region = Region::new(GLOBAL);
    let mut ok = 0;
    for n in 1..=10_000 {
        ok += u64::from(drive(&mut svc, n));
    }
    let change = region.change();
    assert_eq!(layer.handle().state(), CircuitState::Closed, "{name}: stays closed");
    assert!(ok > 8_000, "{name}: calls passed");
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "{name}: the admitted path allocated"
    );
}

fn admitted_closed_path_does_not_allocate() {
    // Defaults: count window, failure-rate trigger (1 in 7 fails, under the 50% threshold).
    assert_no_alloc("count window", &CircuitBreakerLayer::default());
    // Time window, slow-call trigger (clock reads and running-call tracking), and a
    // consecutive-failure trigger that is judged but never reached.
    let layer = CircuitBreakerLayer::builder()
        .time_window(Duration::from_secs(10), 10)
        .slow_call_rate_threshold(0.9)
        .slow_call_duration(Duration::from_millis(100))
        .consecutive_failures(3)
        .build()
        .expect("valid");
    assert_no_alloc("time window + slow calls", &layer);
}

// `harness = false` (see Cargo.toml): libtest's own threads allocate while a test runs,
// and the counting allocator is process-wide, so this binary runs its check on the main
// thread with no other thread alive.
fn main() {
    admitted_closed_path_does_not_allocate();
    println!("admitted_closed_path_does_not_allocate: ok");
}
