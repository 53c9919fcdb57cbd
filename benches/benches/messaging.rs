//! Messaging throughput in one run: the in-memory bus (publish + consume + ack), and
//! Redis Streams publish (one batch per iteration) and consume + ack through the SDK
//! beside a raw redis-rs loop sending the same commands (an `XADD` pipeline in
//! `MULTI`/`EXEC`; `XREADGROUP` then pipelined `XACK`s). Targets: SDK ≥ 0.7× raw,
//! ≥ 100k msgs/s batched publish.
//!
//! The Redis groups need a server: set `PLATFORM_BENCH_REDIS_URL` (or
//! `PLATFORM_TEST_REDIS_URL`); without one they are skipped with a notice.
//!
//! Run: `cargo bench -p platform-benches --bench messaging`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use platform_core::messaging::{
    MemoryBroker, OutgoingMessage, Publisher, RedisStreams, RedisStreamsConfig, SubscribeOptions,
    Subscriber, Subscription,
};
use redis::aio::MultiplexedConnection;
use tokio::runtime::Runtime;

/// Messages per timed iteration.
const BATCH: usize = 1000;
/// Deliveries fetched per `XREADGROUP` (SDK prefetch and raw `COUNT`).
const READ_COUNT: usize = 100;
const PAYLOAD: &[u8] = &[b'x'; 128];

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn batch(topic: &str) -> Vec<OutgoingMessage> {
    (0..BATCH).map(|i| OutgoingMessage::new(topic, PAYLOAD).key(format!("k{}", i % 16))).collect()
}

async fn take(sub: &mut Subscription, n: usize) -> Vec<platform_core::messaging::Delivery> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.push(sub.next().await.expect("open").expect("delivery"));
    }
    out
}

/// Consumes `BATCH` deliveries, acking each group of `READ_COUNT` concurrently.
async fn consume_and_ack(sub: &mut Subscription) {
    let mut left = BATCH;
    while left > 0 {
        let n = left.min(READ_COUNT);
        let acks = take(sub, n).await.into_iter().map(|d| d.ack());
        for r in futures_util::future::join_all(acks).await {
            r.expect("ack");
        }
        left -= n;
    }
}

fn memory(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("messaging_memory");
    g.throughput(Throughput::Elements(BATCH as u64));
    let broker = MemoryBroker::default();
    let options = SubscribeOptions::default().prefetch(READ_COUNT);
    let mut sub = rt.block_on(broker.subscribe("bench", "g", options)).expect("subscribe");
    g.bench_function("publish_consume_ack", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    broker.publish(batch("bench")).await.expect("publish");
                    consume_and_ack(&mut sub).await;
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

fn redis_url() -> Option<String> {
    let url = std::env::var("PLATFORM_BENCH_REDIS_URL")
        .or_else(|_| std::env::var("PLATFORM_TEST_REDIS_URL"))
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!(
            "messaging bench: Redis groups skipped; set PLATFORM_BENCH_REDIS_URL (or \
             PLATFORM_TEST_REDIS_URL) to run them"
        );
    }
    url
}

struct RedisBench {
    streams: RedisStreams,
    conn: MultiplexedConnection,
    prefix: String,
}

impl RedisBench {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The same `XADD … MAXLEN ~` commands the SDK sends, in one `MULTI`/`EXEC`.
    async fn raw_publish(&mut self, stream: &str) {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for i in 0..BATCH {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(1_000_000)
                .arg("*")
                .arg("id")
                .arg(format!("{i:032x}"))
                .arg("ts")
                .arg(0)
                .arg("k")
                .arg(format!("k{}", i % 16))
                .arg("p")
                .arg(PAYLOAD)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn).await.expect("raw publish");
    }

    /// `XREADGROUP COUNT n` then one pipeline of `XACK`s, until `BATCH` are acked.
    async fn raw_consume(&mut self, stream: &str) {
        let mut left = BATCH;
        while left > 0 {
            let reply: redis::Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg("g")
                .arg("raw")
                .arg("COUNT")
                .arg(left.min(READ_COUNT))
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(stream)
                .arg(">")
                .query_async(&mut self.conn)
                .await
                .expect("xreadgroup");
            let ids = entry_ids(&reply);
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("XACK").arg(stream).arg("g").arg(id).ignore();
            }
            pipe.query_async::<()>(&mut self.conn).await.expect("xack");
            left -= ids.len();
        }
    }
}

fn entry_ids(reply: &redis::Value) -> Vec<Vec<u8>> {
    let items = |v: &redis::Value| match v {
        redis::Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    let mut ids = Vec::new();
    for stream in items(reply) {
        if let [_, entries] = items(&stream).as_slice() {
            for e in items(entries) {
                if let Some(redis::Value::BulkString(id)) = items(&e).first() {
                    ids.push(id.clone());
                }
            }
        }
    }
    ids
}

fn redis_streams(c: &mut Criterion) {
    let Some(url) = redis_url() else { return };
    let rt = runtime();
    let prefix = format!("bench:msg:{}:", std::process::id());
    let config = RedisStreamsConfig::new(&url).prefix(&prefix).block(Duration::from_millis(100));
    let streams = RedisStreams::new(config).expect("config");
    let client = redis::Client::open(url.as_str()).expect("url");
    let conn = rt.block_on(client.get_multiplexed_async_connection()).expect("connect");
    let mut bench = RedisBench { streams, conn, prefix };

    let mut g = c.benchmark_group("messaging_redis_publish");
    g.throughput(Throughput::Elements(BATCH as u64));
    let sdk_topic = "pub-sdk";
    g.bench_function("sdk_batch", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    bench.streams.publish(batch(sdk_topic)).await.expect("publish");
                }
                start.elapsed()
            })
        });
    });
    let raw_stream = bench.key("pub-raw");
    g.bench_function("raw_pipeline", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    bench.raw_publish(&raw_stream).await;
                }
                start.elapsed()
            })
        });
    });
    g.finish();

    let mut g = c.benchmark_group("messaging_redis_consume_ack");
    g.throughput(Throughput::Elements(BATCH as u64));
    let options = SubscribeOptions::default().prefetch(READ_COUNT);
    let mut sub = rt.block_on(bench.streams.subscribe("con-sdk", "g", options)).expect("subscribe");
    let sdk_stream = bench.streams.stream_key("con-sdk");
    g.bench_function("sdk", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    bench.raw_publish(&sdk_stream).await;
                    let start = Instant::now();
                    consume_and_ack(&mut sub).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });
    let raw_stream = bench.key("con-raw");
    rt.block_on(async {
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&raw_stream)
            .arg("g")
            .arg("$")
            .arg("MKSTREAM")
            .query_async::<()>(&mut bench.conn)
            .await
            .expect("group");
    });
    g.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    bench.raw_publish(&raw_stream).await;
                    let start = Instant::now();
                    bench.raw_consume(&raw_stream).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });
    g.finish();
    drop(sub);

    rt.block_on(platform_benches::redis_delete_prefix(&mut bench.conn, &bench.prefix));
}

criterion_group!(benches, memory, redis_streams);
criterion_main!(benches);
