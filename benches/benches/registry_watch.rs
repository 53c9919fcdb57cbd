//! Watch propagation latency: the time from `set_health` on one registry handle to the
//! matching `Updated` event on another handle's watch, as p50 / p99 / max over many
//! changes. The in-memory registry is the in-process baseline; the Redis registry goes
//! through a Lua script, pub/sub and a change-log read.
//!
//! Run: `PLATFORM_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p platform-benches
//! --bench registry_watch`. Without the variable only the in-memory baseline runs. Keys
//! live under a per-run prefix, removed at the end.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use platform_core::registry::{
    Health, MemoryRegistry, RedisRegistry, RedisRegistryConfig, Registry, ServiceInstance,
    WatchEvent,
};

const CHANGES: usize = 1_000;
const WARMUP: usize = 50;

/// Flips one instance's health `WARMUP + CHANGES` times through `writer` and measures how
/// long each change takes to reach `reader`'s watch.
async fn measure(writer: &dyn Registry, reader: &dyn Registry) -> Vec<Duration> {
    let service = "bench-watch";
    let instance = ServiceInstance::new(service, "i-1", "127.0.0.1", 9000);
    let _lease = writer.register(instance, Duration::from_secs(600)).await.expect("register");
    let mut watch = reader.watch(service).await.expect("watch");
    // The first event is the initial resync.
    let _ = watch.next().await;
    let mut samples = Vec::with_capacity(CHANGES);
    for n in 0..WARMUP + CHANGES {
        let health = if n % 2 == 0 { Health::Unhealthy } else { Health::Ready };
        let start = Instant::now();
        writer.set_health(service, "i-1", health).await.expect("set health");
        loop {
            match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
                Ok(Some(WatchEvent::Updated { instance, .. })) if instance.health == health => {
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("watch ended"),
                Err(_) => panic!("no event within 10s"),
            }
        }
        if n >= WARMUP {
            samples.push(start.elapsed());
        }
    }
    samples
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "registry_watch/{name}: n={} p50={:?} p99={:?} max={:?}",
        samples.len(),
        at(0.50),
        at(0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing to run fast.
    if !std::env::args().any(|a| a == "--bench") {
        println!("registry_watch: run with `cargo bench` to measure");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let memory = MemoryRegistry::new();
        report("memory", measure(&memory, &memory).await);

        let Ok(url) = std::env::var("PLATFORM_TEST_REDIS_URL") else {
            println!("registry_watch/redis: SKIPPED (set PLATFORM_TEST_REDIS_URL)");
            return;
        };
        let prefix = format!("bench:regwatch:{}:", std::process::id());
        let config = RedisRegistryConfig::new(url.as_str()).with_prefix(prefix.as_str());
        let writer = RedisRegistry::new(config.clone()).expect("writer");
        let reader = RedisRegistry::new(config).expect("reader");
        report("redis", measure(&writer, &reader).await);

        let client = redis::Client::open(url.as_str()).expect("url");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
        platform_benches::redis_delete_prefix(&mut conn, &prefix).await;
    });
}
