use std::time::{Duration, Instant};

use super::encode::{valid_label_name, valid_metric_name};
use super::family::Family;
use super::primitives::CounterCell;
use super::process::{parse_boot_time, parse_max_fds, parse_stat, parse_status_kb};
use super::*;

#[test]
fn exposition_escapes_help_and_label_values() {
    let mut out = Exposition::new();
    out.family("x_total", "a \\ b\nc", MetricType::Counter);
    out.sample("x_total", &[("k", "q\"\\\n")], 1.0);
    assert_eq!(
        out.into_string(),
        "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{k=\"q\\\"\\\\\\n\"} 1\n"
    );
}

#[test]
fn names_are_checked() {
    assert!(valid_metric_name("http_requests_total"));
    assert!(valid_metric_name("ns:sub_metric"));
    assert!(!valid_metric_name("1abc"));
    assert!(!valid_metric_name("a-b"));
    assert!(valid_label_name("route"));
    assert!(!valid_label_name("__reserved"));
    assert!(!valid_label_name("a:b"));
    let r = MetricsRegistry::new();
    assert_eq!(
        r.counter("jobs", "x", ["q"], FamilyLimits::default()).unwrap_err(),
        MetricError::CounterSuffix("jobs".into())
    );
    r.counter("jobs_total", "x", ["q"], FamilyLimits::default()).unwrap();
    assert_eq!(
        r.gauge("jobs_total", "x", ["q"], FamilyLimits::default()).unwrap_err(),
        MetricError::Duplicate("jobs_total".into())
    );
    assert!(matches!(
        r.gauge("g", "x", ["bad-label"], FamilyLimits::default()),
        Err(MetricError::InvalidName(_))
    ));
}

#[test]
fn family_folds_label_sets_beyond_the_cap_into_overflow() {
    let limits = FamilyLimits { max_series: 2, idle_timeout: None };
    let f: Family<CounterCell, 2> =
        Family::new("t_total", [false, true], limits, CounterCell::default);
    let now = Instant::now();
    for route in ["/a", "/b", "/c", "/d"] {
        f.with([route, "GET"], now, |c| c.add(1));
    }
    f.with(["/a", "GET"], now, |c| c.add(1));
    let mut seen = Vec::new();
    f.collect(now, |_| true, |k, c| seen.push((k[0].to_string(), k[1].to_string(), c.get())));
    assert_eq!(
        seen,
        vec![
            ("/a".into(), "GET".into(), 2),
            ("/b".into(), "GET".into(), 1),
            (OVERFLOW.into(), "GET".into(), 2),
        ]
    );
}

#[test]
fn family_evicts_idle_series_only_when_allowed() {
    let limits = FamilyLimits { max_series: 10, idle_timeout: Some(Duration::from_secs(60)) };
    let f: Family<CounterCell, 1> = Family::new("t_total", [false], limits, CounterCell::default);
    let t0 = Instant::now();
    f.with(["old"], t0, |c| c.add(1));
    f.with(["kept"], t0, |c| c.add(5));
    f.with(["fresh"], t0 + Duration::from_secs(50), |c| c.add(1));
    let mut seen = Vec::new();
    f.collect(t0 + Duration::from_secs(90), |c| c.get() != 5, |k, _| seen.push(k[0].to_string()));
    assert_eq!(seen, vec!["fresh".to_string(), "kept".to_string()]);
    assert_eq!(f.len(), 2);
}

#[test]
fn counter_and_gauge_families_encode() {
    let r = MetricsRegistry::new();
    let c = r.counter("jobs_total", "Jobs.", ["queue"], FamilyLimits::default()).unwrap();
    let g = r.gauge("depth", "Depth.", ["queue"], FamilyLimits::default()).unwrap();
    c.inc(["a"]);
    c.add(["a"], 2);
    g.set(["a"], 7);
    g.add(["a"], -2);
    let text = r.encode();
    assert!(text.contains("jobs_total{queue=\"a\"} 3\n"), "{text}");
    assert!(text.contains("# TYPE depth gauge\ndepth{queue=\"a\"} 5\n"), "{text}");
}

#[test]
fn proc_parsers_read_fixtures() {
    let stat = "1234 (my (weird) proc) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 150 0 0 20 0 4 0 98765 1000000 300 18446744073709551615";
    let s = parse_stat(stat).unwrap();
    assert!((s.cpu_seconds - 4.0).abs() < 1e-9);
    assert_eq!(s.start_ticks, 98765);
    let status = "Name:\tx\nVmSize:\t  20480 kB\nVmRSS:\t    1024 kB\n";
    assert_eq!(parse_status_kb(status, "VmRSS"), Some(1024 * 1024));
    assert_eq!(parse_status_kb(status, "VmSize"), Some(20480 * 1024));
    assert_eq!(parse_status_kb(status, "VmSwap"), None);
    let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
    assert_eq!(parse_max_fds(limits), Some(1024));
    assert_eq!(parse_boot_time("cpu 1 2 3\nbtime 1700000000\n"), Some(1_700_000_000));
    assert_eq!(parse_stat("garbage"), None);
}

#[cfg(target_os = "linux")]
#[test]
fn process_collector_reports_this_process() {
    let r = MetricsRegistry::new();
    r.register(ProcessCollector);
    let text = r.encode();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
    ] {
        assert!(text.contains(&format!("\n{name} ")), "{name} missing in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_collector_reports_workers() {
    let r = MetricsRegistry::new();
    r.register(RuntimeCollector::current().unwrap());
    assert!(r.encode().contains("\ntokio_workers 2\n"));
}

#[test]
fn runtime_collector_is_absent_outside_a_runtime() {
    assert!(RuntimeCollector::current().is_none());
}

#[test]
fn histogram_family_encodes_cumulative_buckets() {
    let r = MetricsRegistry::new();
    let h = r
        .histogram("job_seconds", "Job time.", ["queue"], &[0.1, 1.0], FamilyLimits::default())
        .unwrap();
    h.observe(["a"], Duration::from_millis(50));
    h.observe(["a"], Duration::from_millis(500));
    h.observe(["a"], Duration::from_secs(5));
    let text = r.encode();
    for line in [
        "job_seconds_bucket{queue=\"a\",le=\"0.1\"} 1\n",
        "job_seconds_bucket{queue=\"a\",le=\"1\"} 2\n",
        "job_seconds_bucket{queue=\"a\",le=\"+Inf\"} 3\n",
        "job_seconds_count{queue=\"a\"} 3\n",
        "job_seconds_sum{queue=\"a\"} 5.55\n",
    ] {
        assert!(text.contains(line), "{line} missing in {text}");
    }
}
