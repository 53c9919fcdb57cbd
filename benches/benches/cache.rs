//! Cost of a cache hit through the SDK's moka-backed `Cache` (`get` and the
//! `get_or_load` hit path, with and without stale-while-revalidate) beside a direct
//! `moka::sync::Cache::get` (with a global TTL, and with per-entry expiry like the SDK's
//! local level), in one run. Target: the SDK hit within 1.2× of moka's.
//!
//! Run: `cargo bench -p platform-benches --bench cache`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use platform_core::cache::{Cache, CacheConfig};

const KEYS: u64 = 1_000;

fn config(swr: Duration) -> CacheConfig {
    CacheConfig {
        name: "bench".into(),
        ttl: Duration::from_secs(3600),
        stale_while_revalidate: swr,
        max_entries: 10_000,
        ..CacheConfig::default()
    }
}

fn sdk_cache(swr: Duration) -> Cache<u64, u64> {
    let cache = Cache::local(config(swr)).expect("valid config");
    for k in 0..KEYS {
        cache.set(k, k * 2).now_or_never().expect("local set is immediate").expect("set");
    }
    cache
}

/// Per-entry expiry with a fixed TTL, like the SDK's local level without jitter.
struct FixedExpiry(Duration);

impl moka::Expiry<u64, u64> for FixedExpiry {
    fn expire_after_create(&self, _key: &u64, _value: &u64, _now: Instant) -> Option<Duration> {
        Some(self.0)
    }
}

fn hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("cache_hit");

    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(Duration::from_secs(3600))
        .build();
    for k in 0..KEYS {
        moka.insert(k, k * 2);
    }
    let mut i = 0u64;
    g.bench_function("moka_get", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(moka.get(&i))
        });
    });

    // The SDK's local level gives every entry its own (jittered) TTL through moka's
    // per-entry `Expiry`; this baseline pays for the same policy, so the ratio against it
    // is the SDK front's own overhead.
    let per_entry: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder()
        .max_capacity(10_000)
        .expire_after(FixedExpiry(Duration::from_secs(3600)))
        .build();
    for k in 0..KEYS {
        per_entry.insert(k, k * 2);
    }
    g.bench_function("moka_get_per_entry_expiry", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(per_entry.get(&i))
        });
    });

    let sdk = sdk_cache(Duration::ZERO);
    g.bench_function("sdk_get", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(sdk.get(&i).now_or_never())
        });
    });
    g.bench_function("sdk_get_or_load_hit", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let load = || async { Ok::<_, Infallible>(Some(0)) };
            black_box(sdk.get_or_load(&i, load).now_or_never())
        });
    });

    // With a grace window the hit path also reads the clock to tell fresh from stale.
    let swr = sdk_cache(Duration::from_secs(60));
    g.bench_function("sdk_get_or_load_hit_swr", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            let load = || async { Ok::<_, Infallible>(Some(0)) };
            black_box(swr.get_or_load(&i, load).now_or_never())
        });
    });
    g.finish();
}

criterion_group!(benches, hit);
criterion_main!(benches);
