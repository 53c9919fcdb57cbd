//! Cost of looking up a service's instances: a `MemoryRegistry::instances` snapshot
//! (clones the instance list), a lookup by id in the discovery adapter's local view
//! (what a router holding the adapter pays per request), and a bare `BTreeMap` lookup
//! as the baseline, for 10 and 100 instances in one run.
//!
//! Run: `cargo bench -p platform-benches --bench registry`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_util::{FutureExt, StreamExt};
use platform_core::registry::discover::{DiscoverConfig, RegistryDiscover};
use platform_core::registry::{Lease, MemoryRegistry, Registry, ServiceInstance};

fn instance(n: usize) -> ServiceInstance {
    ServiceInstance::new("orders", format!("orders-{n:03}"), "10.0.0.1", 8000 + n as u16)
        .with_zone("a")
        .with_version("1.4.2")
}

async fn populated(n: usize) -> (MemoryRegistry, Vec<Lease>) {
    let registry = MemoryRegistry::new();
    let mut leases = Vec::with_capacity(n);
    for i in 0..n {
        let lease = registry.register(instance(i), Duration::from_secs(3600)).await;
        leases.push(lease.expect("valid instance"));
    }
    (registry, leases)
}

fn lookup(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let _entered = runtime.enter();
    let mut g = c.benchmark_group("registry_lookup");
    for n in [10, 100] {
        let (registry, _leases) = runtime.block_on(populated(n));
        let probe = format!("orders-{:03}", n / 2);

        g.bench_with_input(BenchmarkId::new("memory_instances", n), &n, |b, _| {
            b.iter(|| {
                let snapshot = registry.instances("orders").now_or_never().expect("ready");
                black_box(snapshot.expect("listed").instances.len())
            });
        });

        let mut discover = runtime
            .block_on(RegistryDiscover::new(
                &registry,
                "orders",
                DiscoverConfig::default().with_version("1.4"),
                |i: &ServiceInstance| i.port,
            ))
            .expect("watch");
        // Apply the initial resync.
        while let Some(Some(_)) = discover.next().now_or_never() {}
        assert_eq!(discover.routed().len(), n);
        g.bench_with_input(BenchmarkId::new("adapter_view_get", n), &n, |b, _| {
            b.iter(|| black_box(discover.view().get(black_box(&probe)).map(|i| i.port)));
        });
        g.bench_with_input(BenchmarkId::new("adapter_routed_get", n), &n, |b, _| {
            b.iter(|| black_box(discover.routed().get(black_box(probe.as_str())).map(|i| i.port)));
        });

        let map: BTreeMap<String, ServiceInstance> =
            (0..n).map(|i| (instance(i).id.clone(), instance(i))).collect();
        g.bench_with_input(BenchmarkId::new("btreemap_get", n), &n, |b, _| {
            b.iter(|| black_box(map.get(black_box(probe.as_str())).map(|i| i.port)));
        });
    }
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
