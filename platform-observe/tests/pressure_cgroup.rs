//! `ResourcePressure` over cgroup fixture files: v2 with a fractional quota, v1 with
//! limits, v2 without limits (memory from the resident set), a failing sample, and the
//! exported metrics read back through a Prometheus text parser.

use std::path::{Path, PathBuf};
use std::time::Duration;

use platform_core::resilience::shed::{CgroupPressure, Pressure};
use platform_observe::metrics::MetricsRegistry;
use platform_observe::pressure::{PressureConfig, ResourcePressure};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cgroup").join(name)
}

/// Copies a fixture cgroup into a temporary directory the test may edit.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(name), dir.path());
    dir
}

fn cgroup(root: &Path) -> CgroupPressure {
    CgroupPressure::builder()
        .cgroup_root(root)
        .proc_root(fixture("proc"))
        .host_cpus(4.0)
        .build()
        .unwrap()
}

fn pressure(root: &Path) -> ResourcePressure {
    ResourcePressure::builder()
        .cgroup(cgroup(root))
        .runtime(tokio::runtime::Handle::current())
        .config(PressureConfig { interval: Duration::from_secs(1), ..Default::default() })
        .build()
}

/// The samples of one family as (labels, value) pairs, parsed by `prometheus-parse`.
fn samples(registry: &MetricsRegistry, name: &str) -> Vec<(String, f64)> {
    let text = registry.encode();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    scrape
        .samples
        .into_iter()
        .filter(|s| s.metric == name)
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("unexpected value {other:?}"),
            };
            (s.labels.get("signal").unwrap_or("").to_owned(), value)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn cgroup_v2_fractional_quota() {
    let dir = copy_fixture("v2-fractional");
    let p = pressure(dir.path());
    // 512 MiB limit, 384 MiB current of which 128 MiB inactive file cache → 0.5.
    assert_eq!(p.reading().memory, 0.5);
    assert_eq!(p.snapshot().cgroup.unwrap().cpu_limit, 1.5);

    // One second later the cgroup used 0.75 CPU-seconds of its 1.5 CPUs → 0.5.
    tokio::time::advance(Duration::from_secs(1)).await;
    std::fs::write(dir.path().join("cpu.stat"), "usage_usec 5750000\n").unwrap();
    let reading = p.sample_now();
    assert_eq!(reading.cpu, 0.5);
    assert_eq!(p.reading(), reading);
}

#[tokio::test(start_paused = true)]
async fn cgroup_v1_limits() {
    let dir = copy_fixture("v1-limited");
    let p = pressure(dir.path());
    assert_eq!(p.snapshot().cgroup.unwrap().cpu_limit, 0.5);
    assert_eq!(p.reading().memory, 0.5, "(768 MiB - 256 MiB inactive) / 1 GiB");

    tokio::time::advance(Duration::from_secs(2)).await;
    // cpuacct.usage is in nanoseconds: +0.5 s of CPU over 2 s at a 0.5 CPU quota → 0.5.
    std::fs::write(dir.path().join("cpuacct/cpuacct.usage"), "2500000000\n").unwrap();
    assert_eq!(p.sample_now().cpu, 0.5);
}

#[tokio::test(start_paused = true)]
async fn cgroup_v2_without_limits_uses_host_cpus_and_resident_set() {
    let dir = copy_fixture("v2-unlimited");
    let p = pressure(dir.path());
    let c = p.snapshot().cgroup.unwrap();
    assert_eq!(c.cpu_limit, 4.0, "no quota: the host's CPUs");
    // statm: 65536 resident pages of 4 KiB = 256 MiB over MemTotal 16 GiB.
    assert_eq!(c.memory_used, 256 << 20);
    assert_eq!(c.memory_limit, 16 << 30);
    assert_eq!(p.reading().memory, 1.0 / 64.0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_sample_is_counted_and_keeps_the_last_reading() {
    let dir = copy_fixture("v2-fractional");
    let p = pressure(dir.path());
    let registry = MetricsRegistry::new();
    registry.register(p.clone());
    std::fs::remove_file(dir.path().join("memory.current")).unwrap();
    let reading = p.sample_now();
    assert_eq!(reading.memory, 0.5, "last good value kept");
    assert_eq!(p.sample_errors(), 1);
    assert_eq!(samples(&registry, "pressure_sample_errors_total"), vec![(String::new(), 1.0)]);
}

#[tokio::test(start_paused = true)]
async fn the_sampler_publishes_and_the_registry_exports_every_signal() {
    let dir = copy_fixture("v2-fractional");
    let p = pressure(dir.path());
    let registry = MetricsRegistry::new();
    registry.register(p.clone());
    let sampler = p.spawn_sampler().unwrap();

    // The memory use doubles past the limit; within one interval the sampler sees it.
    std::fs::write(dir.path().join("memory.current"), "671088640\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(p.reading().memory, 1.0);

    let mut ratios = samples(&registry, "pressure_ratio");
    ratios.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = ratios.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["cpu", "memory", "queue"]);
    assert_eq!(ratios[1].1, 1.0);
    assert_eq!(samples(&registry, "cgroup_cpu_limit_cores"), vec![(String::new(), 1.5)]);
    assert_eq!(
        samples(&registry, "cgroup_memory_limit_bytes"),
        vec![(String::new(), 536_870_912.0)]
    );
    assert_eq!(samples(&registry, "tokio_schedule_lag_seconds").len(), 1);

    drop(sampler);
    std::fs::write(dir.path().join("memory.current"), "134217728\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(p.reading().memory, 1.0, "a dropped sampler no longer samples");
}
