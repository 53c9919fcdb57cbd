//! Outbox relay throughput: messages per second from a PostgreSQL outbox to a publisher.
//!
//! Each iteration commits `BATCH` messages (100 keys, so per-key ordering allows full
//! batches) outside the timed section, then times relays draining them: claim with
//! `FOR UPDATE SKIP LOCKED`, publish, delete. One relay and two concurrent relays.
//!
//! Two publishers: the Redis Streams backend (PostgreSQL → Redis, the deployment the
//! issue names; needs `PLATFORM_TEST_REDIS_URL`) and the in-memory broker (its capacity
//! raised to hold every message), which isolates the PostgreSQL side of the relay.
//!
//! Needs PostgreSQL: `PLATFORM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
//! PLATFORM_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p platform-benches --bench
//! outbox`. Without the PostgreSQL variable it prints a notice and measures nothing; without
//! the Redis one it measures the in-memory publisher only. Each run works in its own schema
//! and Redis prefix, both removed at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use platform_core::messaging::{
    MemoryBroker, MemoryConfig, OutgoingMessage, Publisher, RedisStreams, RedisStreamsConfig,
};
use platform_core::store::{Store, StoreConfig};
use platform_core::tx::{Outbox, RelayConfig, StoreTx};

const BATCH: usize = 2_000;
const KEYS: usize = 100;

async fn fill(outbox: &Outbox) {
    let mut tx = StoreTx::begin(outbox.store()).await.expect("begin");
    let msgs = (0..BATCH)
        .map(|i| OutgoingMessage::new("bench.outbox", vec![0u8; 128]).key(format!("k{}", i % KEYS)))
        .collect();
    outbox.enqueue(&mut tx, msgs).await.expect("enqueue");
    tx.commit().await.expect("commit");
}

async fn drain(outbox: &Outbox, publisher: Arc<dyn Publisher>, relays: usize) {
    let cfg = RelayConfig::default().batch_size(256);
    let runs = (0..relays).map(|_| {
        let relay = outbox.relay(publisher.clone()).config(cfg);
        async move { while relay.relay_once().await.expect("relay") > 0 {} }
    });
    futures_util::future::join_all(runs).await;
}

fn relay(c: &mut Criterion) {
    let Ok(url) = std::env::var("PLATFORM_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED outbox bench: set PLATFORM_TEST_POSTGRES_URL to run it");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let schema = format!("bench_outbox_{}", std::process::id());
    let cfg = StoreConfig::new(url).with_schema(schema.as_str());
    let (store, outbox) = rt.block_on(async {
        let store = Store::from_config(&cfg).await.expect("connect");
        let outbox = Outbox::new(store.clone()).await.expect("outbox");
        (store, outbox)
    });
    let mut g = c.benchmark_group("outbox_relay_postgres");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for relays in [1usize, 2] {
        g.bench_function(format!("to_memory_{relays}_relays"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut mem = MemoryConfig::default();
                        mem.capacity = BATCH * 2;
                        let broker = MemoryBroker::new(mem);
                        fill(&outbox).await;
                        let start = Instant::now();
                        drain(&outbox, Arc::new(broker), relays).await;
                        total += start.elapsed();
                    }
                    total
                })
            });
        });
    }
    if let Ok(redis_url) = std::env::var("PLATFORM_TEST_REDIS_URL") {
        let prefix = format!("bench:outbox:{}:", std::process::id());
        let config = RedisStreamsConfig::new(&redis_url).prefix(&prefix).max_len(Some(100_000));
        let streams: Arc<dyn Publisher> =
            Arc::new(RedisStreams::new(config).expect("redis streams config"));
        for relays in [1usize, 2] {
            g.bench_function(format!("to_redis_{relays}_relays"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            fill(&outbox).await;
                            let start = Instant::now();
                            drain(&outbox, streams.clone(), relays).await;
                            total += start.elapsed();
                        }
                        total
                    })
                });
            });
        }
        rt.block_on(async {
            let client = redis::Client::open(redis_url.as_str()).expect("redis url");
            let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
            platform_benches::redis_delete_prefix(&mut conn, &prefix).await;
        });
    } else {
        eprintln!("outbox bench: set PLATFORM_TEST_REDIS_URL to also relay into Redis Streams");
    }
    g.finish();
    rt.block_on(async {
        let drop_schema = format!("DROP SCHEMA \"{schema}\" CASCADE");
        if let Some(pool) = store.as_postgres() {
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop_schema)).execute(pool).await;
        }
        store.close().await;
    });
}

criterion_group!(benches, relay);
criterion_main!(benches);
