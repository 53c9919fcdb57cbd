//! Per-call overhead of the platform-core resilience layers on the admitted path,
//! beside a bare service and peer implementations, in one run.
//!
//! Run: `cargo bench -p platform-benches --bench resilience`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use platform_benches::{Echo, call_now};
use platform_core::resilience::TimeoutLayer;
use tower::{Layer, ServiceBuilder};

fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let mut bare = Echo;
    g.bench_function("bare", |b| b.iter(|| call_now(&mut bare, black_box(1))));
    let mut limit = ServiceBuilder::new().concurrency_limit(1 << 20).service(Echo);
    g.bench_function("tower_concurrency_limit", |b| b.iter(|| call_now(&mut limit, black_box(1))));
    g.finish();
}

fn timeout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let _guard = rt.enter();
    let mut g = c.benchmark_group("timeout");
    let mut ours = TimeoutLayer::new(Duration::from_secs(10)).layer(Echo);
    g.bench_function("platform_timeout", |b| b.iter(|| call_now(&mut ours, black_box(1))));
    let mut peer = tower::timeout::TimeoutLayer::new(Duration::from_secs(10)).layer(Echo);
    g.bench_function("tower_timeout", |b| b.iter(|| call_now(&mut peer, black_box(1))));
    g.finish();
}

criterion_group!(benches, baseline, timeout);
criterion_main!(benches);
