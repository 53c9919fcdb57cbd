//! The admitted path of the local global rate limiter (`poll_ready` + `call` + the
//! response future) allocates nothing after warm-up.
//!
//! One test in this file: the counting allocator counts every thread, so nothing else may
//! run beside it.

use std::alloc::System;
use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use platform_core::resilience::rate_limit::{RateLimitConfig, RateLimitLayer};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service, service_fn};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn admit_once<S: Service<u64, Response = u64>>(svc: &mut S, cx: &mut Context<'_>)
where
    S::Error: std::fmt::Debug,
{
    match svc.poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("not ready"),
    }
    let mut fut = std::pin::pin!(svc.call(7));
    match fut.as_mut().poll(cx) {
        Poll::Ready(Ok(7)) => {}
        _ => panic!("not admitted at once"),
    }
}

fn admitted_path_does_not_allocate() {
    // A quota large enough never to reject.
    let mut cfg = RateLimitConfig::new(1_000_000_000, Duration::from_secs(1));
    cfg.burst = Some(1_000_000_000);
    let layer = RateLimitLayer::from_config(cfg).expect("layer");
    let inner = service_fn(|x: u64| std::future::ready(Ok::<_, std::convert::Infallible>(x)));
    let mut svc = layer.layer(inner);
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..100 {
        admit_once(&mut svc, &mut cx);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..10_000 {
        admit_once(&mut svc, &mut cx);
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "admitted path allocated: {stats:?}");
    assert_eq!(stats.reallocations, 0, "admitted path reallocated: {stats:?}");
}

// `harness = false` (see Cargo.toml): libtest's own threads allocate while a test runs,
// and the counting allocator is process-wide, so this binary runs its check on the main
// thread with no other thread alive.
fn main() {
    admitted_path_does_not_allocate();
    println!("admitted_path_does_not_allocate: ok");
}
