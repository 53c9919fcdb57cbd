//! A local cache hit (`get` and the `get_or_load` hit path, with and without
//! stale-while-revalidate) allocates nothing after warm-up.
//!
//! One test in this file: the counting allocator counts every thread, so nothing else may
//! run beside it.
#![cfg(feature = "cache")]

use std::alloc::System;
use std::convert::Infallible;
use std::time::Duration;

use futures_util::FutureExt;
use platform_core::cache::{Cache, CacheConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn hits(cache: &Cache<u64, u64>, rounds: u64) {
    for i in 0..rounds {
        let k = i % 100;
        let got = cache.get(&k).now_or_never().expect("a local hit is immediate");
        assert_eq!(got.expect("no error"), Some(k));
        let load = || async { Ok::<_, Infallible>(Some(0)) };
        let got = cache.get_or_load(&k, load).now_or_never().expect("immediate");
        assert_eq!(got.expect("no error"), Some(k));
    }
}

fn local_hits_do_not_allocate() {
    for swr in [Duration::ZERO, Duration::from_secs(60)] {
        let cfg = CacheConfig {
            ttl: Duration::from_secs(3600),
            stale_while_revalidate: swr,
            ..CacheConfig::default()
        };
        let cache: Cache<u64, u64> = Cache::local(cfg).expect("config");
        for k in 0..100 {
            cache.set(k, k).now_or_never().expect("immediate").expect("set");
        }
        hits(&cache, 1_000);
        let region = Region::new(GLOBAL);
        hits(&cache, 10_000);
        let stats = region.change();
        assert_eq!(stats.allocations, 0, "hit path allocated (swr {swr:?}): {stats:?}");
        assert_eq!(stats.reallocations, 0, "hit path reallocated (swr {swr:?}): {stats:?}");
    }
}

// `harness = false` (see Cargo.toml): libtest's own threads allocate while a test runs,
// and the counting allocator is process-wide, so this binary runs its check on the main
// thread with no other thread alive.
fn main() {
    local_hits_do_not_allocate();
    println!("local_hits_do_not_allocate: ok");
}
