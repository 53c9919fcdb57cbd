//! Centralized logs, in one run:
//!
//! * `log_store` — `SqlLogStore::append` of 512- and 2048-record batches into a SQLite
//!   file (one transaction, multi-row inserts, FTS5 index); throughput in records/s
//!   (target ≥ 100 000 records/s);
//! * `log_ship` — end to end: 10 000 `tracing` events through `LogShipLayer`, batched by
//!   the shipping task (on another thread, `batch_size` 512 and 2048) into the same kind
//!   of SQLite store, until `flush` returns; records/s;
//! * `log_event` — the cost of one `info!` with two fields inside a request span, on the
//!   emitting thread: a bare registry (no layer), the `fmt` layer writing to a sink, and
//!   `LogShipLayer` (the shipping task drains into SQLite on another thread; the timed
//!   loops emit at most one buffer's worth before an untimed flush, so nothing is dropped
//!   and the cheaper drop path is never measured);
//! * `span` — creating, entering and closing a span through the subscriber
//!   `platform_observe::telemetry` builds, without and with OTLP export (towards a closed
//!   port: spans are queued, batched and the export fails fast — the whole in-process
//!   cost).
//!
//! Run: `cargo bench -p platform-benches --bench logs`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use platform_benches::telemetry_to_sink;
use platform_core::store::Store;
use platform_observe::logs::{
    LogLevel, LogRecord, LogShipConfig, LogShipper, LogStore, SqlLogStore,
};
use tokio::runtime::Runtime;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

const BATCH: usize = 512;
/// A larger batch, as a deployment shipping into a local SQL store would configure.
const BIG_BATCH: usize = 2048;
const SHIPPED: usize = 10_000;
const BUFFER: usize = 16_384;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A fresh SQLite-file log store in `dir`.
fn sqlite_store(rt: &Runtime, dir: &tempfile::TempDir, name: &str) -> SqlLogStore {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    rt.block_on(async { SqlLogStore::new(Store::connect(&url).await.unwrap()).await.unwrap() })
}

fn record(i: usize) -> LogRecord {
    let mut r = LogRecord::new(
        LogLevel::Info,
        "orders",
        "orders::payment",
        format!("payment {i} accepted for customer"),
    );
    r.time = SystemTime::now();
    r.fields.insert("order_id".into(), (i as u64).into());
    r.fields.insert("user".into(), "alice".into());
    r
}

fn log_store(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let logs = sqlite_store(&rt, &dir, "store.db");
    let mut g = c.benchmark_group("log_store");
    // Each batch is stamped when it is built, as shipped logs are: times increase, so the
    // time indexes grow at their end. (Re-inserting one batch with fixed times would
    // scatter writes over the indexes and measure a case logs do not have.)
    for size in [BATCH, BIG_BATCH] {
        g.throughput(Throughput::Elements(size as u64));
        g.bench_function(format!("sqlite_append_{size}"), |b| {
            b.iter_batched(
                || (0..size).map(record).collect::<Vec<_>>(),
                |batch| rt.block_on(logs.append(black_box(&batch))).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

/// A shipper for `service` with its layer installed in a bare registry.
fn shipper(service: &str, batch_size: usize) -> (LogShipper, Dispatch) {
    let cfg = LogShipConfig { buffer: BUFFER, batch_size, ..LogShipConfig::new(service) };
    let shipper = LogShipper::new(cfg).unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(shipper.layer()));
    (shipper, dispatch)
}

fn emit(i: usize) {
    tracing::info!(order_id = i, user = "alice", "payment accepted for customer");
}

fn log_ship(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("log_ship");
    g.throughput(Throughput::Elements(SHIPPED as u64));
    for size in [BATCH, BIG_BATCH] {
        let dir = tempfile::tempdir().unwrap();
        let logs = sqlite_store(&rt, &dir, "ship.db");
        let (shipper, dispatch) = shipper("orders", size);
        shipper.start_on(rt.handle(), Arc::new(logs)).unwrap();
        g.bench_function(format!("events_to_sqlite_10k_batch_{size}"), |b| {
            b.iter(|| {
                tracing::dispatcher::with_default(&dispatch, || (0..SHIPPED).for_each(emit));
                rt.block_on(shipper.flush()).unwrap();
            });
        });
        let stats = shipper.stats();
        eprintln!("log_ship (batch {size}): {stats:?}");
        assert_eq!(stats.dropped(), 0, "the end-to-end bench must not drop records");
    }
    g.finish();
}

/// One request-shaped event: inside a span carrying a trace id, two fields.
fn event_in_span(dispatch: &Dispatch, iters: u64, flush: &mut dyn FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    tracing::dispatcher::with_default(dispatch, || {
        let span =
            tracing::info_span!("http.request", trace_id = "4bf92f3577b34da6a3ce929d0e0e4736");
        while left > 0 {
            let n = left.min(BUFFER as u64 / 2);
            let entered = span.enter();
            let start = Instant::now();
            for i in 0..n {
                tracing::info!(order_id = i, user = "alice", "payment accepted for customer");
            }
            total += start.elapsed();
            left -= n;
            drop(entered);
            flush();
        }
    });
    total
}

fn log_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_event");
    let bare = Dispatch::new(tracing_subscriber::registry());
    g.bench_function("no_layer", |b| b.iter_custom(|n| event_in_span(&bare, n, &mut || ())));
    let fmt = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink).with_ansi(false)),
    );
    g.bench_function("fmt_to_sink", |b| b.iter_custom(|n| event_in_span(&fmt, n, &mut || ())));

    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let logs = sqlite_store(&rt, &dir, "event.db");
    let (shipper, ship) = shipper("orders", BATCH);
    shipper.start_on(rt.handle(), Arc::new(logs)).unwrap();
    let mut flush = || rt.block_on(shipper.flush()).unwrap();
    g.bench_function("log_ship_layer", |b| b.iter_custom(|n| event_in_span(&ship, n, &mut flush)));
    g.finish();
    let stats = shipper.stats();
    eprintln!("log_event: {stats:?}");
    assert_eq!(stats.dropped(), 0, "the emit-cost bench must not take the drop path");
}

fn span(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");
    for (name, otel) in [("without_otel", false), ("with_otel_export", true)] {
        let (dispatch, guard) = telemetry_to_sink(otel);
        tracing::dispatcher::with_default(&dispatch, || {
            g.bench_function(name, |b| {
                b.iter(|| {
                    let span = tracing::info_span!("bench.span", n = 1);
                    let _entered = span.enter();
                });
            });
        });
        drop(guard);
    }
    g.finish();
}

criterion_group!(benches, log_store, log_ship, log_event, span);
criterion_main!(benches);
