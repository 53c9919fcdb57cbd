//! Cost of reading the current configuration through `ConfigHandle`, beside a bare
//! `arc_swap::ArcSwap` load and a `RwLock<Arc<T>>` read, in one run. Target: the handle
//! read within 10 ns and comparable to the bare `ArcSwap` load.
//!
//! Run: `cargo bench -p platform-benches --bench config`.

use std::hint::black_box;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use platform_core::config::ConfigHandle;

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct App {
    port: u16,
    timeout_ms: u64,
    name: String,
}

fn value() -> App {
    App { port: 8080, timeout_ms: 250, name: "bench".into() }
}

fn read(c: &mut Criterion) {
    let mut g = c.benchmark_group("config_read");
    let handle = ConfigHandle::new(value());
    g.bench_function("config_handle_load", |b| b.iter(|| black_box(handle.load().timeout_ms)));
    g.bench_function("config_handle_load_full", |b| {
        b.iter(|| black_box(handle.load_full().timeout_ms));
    });
    let bare = ArcSwap::from_pointee(value());
    g.bench_function("arc_swap_load", |b| b.iter(|| black_box(bare.load().timeout_ms)));
    let locked = RwLock::new(Arc::new(value()));
    g.bench_function("rwlock_arc_read", |b| {
        b.iter(|| black_box(locked.read().expect("not poisoned").timeout_ms));
    });
    g.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
