//! Process metrics from Linux `/proc`, sampled at scrape time.
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | user + system CPU time |
//! | `process_resident_memory_bytes` | gauge | resident set size |
//! | `process_virtual_memory_bytes` | gauge | virtual memory size |
//! | `process_open_fds` | gauge | open file descriptors |
//! | `process_max_fds` | gauge | the soft limit on open file descriptors |
//! | `process_start_time_seconds` | gauge | start time, seconds since the Unix epoch |
//!
//! On other systems the collector writes nothing.

use super::encode::{Exposition, MetricType};
use super::registry::Collector;

/// Linux reports CPU times in `USER_HZ` ticks, fixed at 100 by the kernel ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Writes the `process_*` metrics of the current process.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessCollector;

/// Values read from `/proc/self/stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stat {
    pub(crate) cpu_seconds: f64,
    pub(crate) start_ticks: u64,
}

/// Parses `/proc/<pid>/stat` (the command name may hold spaces and parentheses).
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Field numbers from proc(5), minus the two before `)`, minus one for zero-based.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start_ticks = fields.get(19)?.parse().ok()?;
    #[allow(clippy::cast_precision_loss)]
    let cpu_seconds = (utime + stime) as f64 / TICKS_PER_SECOND;
    Some(Stat { cpu_seconds, start_ticks })
}

/// A `kB` value of a `/proc/<pid>/status` line, in bytes.
pub(crate) fn parse_status_kb(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    let kb: u64 = line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// The soft limit of `Max open files` in `/proc/<pid>/limits`.
pub(crate) fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_ascii_whitespace().next()?.parse().ok()
}

/// `btime` (boot time, seconds since the epoch) from `/proc/stat`.
pub(crate) fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

impl Collector for ProcessCollector {
    #[allow(clippy::cast_precision_loss)]
    fn collect(&self, out: &mut Exposition) {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        if let Some(stat) = read("/proc/self/stat").as_deref().and_then(parse_stat) {
            out.family(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                MetricType::Counter,
            );
            out.sample("process_cpu_seconds_total", &[], stat.cpu_seconds);
            if let Some(btime) = read("/proc/stat").as_deref().and_then(parse_boot_time) {
                let start = btime as f64 + stat.start_ticks as f64 / TICKS_PER_SECOND;
                out.family(
                    "process_start_time_seconds",
                    "Start time of the process since the Unix epoch in seconds.",
                    MetricType::Gauge,
                );
                out.sample("process_start_time_seconds", &[], start);
            }
        }
        if let Some(status) = read("/proc/self/status") {
            if let Some(rss) = parse_status_kb(&status, "VmRSS") {
                out.family(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    MetricType::Gauge,
                );
                out.sample("process_resident_memory_bytes", &[], rss as f64);
            }
            if let Some(vsz) = parse_status_kb(&status, "VmSize") {
                out.family(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    MetricType::Gauge,
                );
                out.sample("process_virtual_memory_bytes", &[], vsz as f64);
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // The directory handle being read is itself one of the entries.
            let n = dir.count().saturating_sub(1);
            out.family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
            out.sample("process_open_fds", &[], n as f64);
        }
        if let Some(max) = read("/proc/self/limits").as_deref().and_then(parse_max_fds) {
            out.family(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                MetricType::Gauge,
            );
            out.sample("process_max_fds", &[], max as f64);
        }
    }
}

/// Writes stable tokio runtime metrics of one runtime.
///
/// | metric | type | meaning |
/// |---|---|---|
/// | `tokio_workers` | gauge | worker threads of the runtime |
/// | `tokio_alive_tasks` | gauge | tasks spawned and not yet finished |
/// | `tokio_global_queue_depth` | gauge | tasks waiting in the runtime's global (injection) queue |
#[derive(Debug, Clone)]
pub struct RuntimeCollector {
    handle: tokio::runtime::Handle,
}

impl RuntimeCollector {
    /// Samples the runtime behind `handle`.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }

    /// Samples the current runtime; `None` outside a tokio runtime.
    pub fn current() -> Option<Self> {
        tokio::runtime::Handle::try_current().ok().map(Self::new)
    }
}

impl Collector for RuntimeCollector {
    #[allow(clippy::cast_precision_loss)]
    fn collect(&self, out: &mut Exposition) {
        let m = self.handle.metrics();
        out.family("tokio_workers", "Worker threads of the tokio runtime.", MetricType::Gauge);
        out.sample("tokio_workers", &[], m.num_workers() as f64);
        out.family("tokio_alive_tasks", "Tasks alive in the tokio runtime.", MetricType::Gauge);
        out.sample("tokio_alive_tasks", &[], m.num_alive_tasks() as f64);
        out.family(
            "tokio_global_queue_depth",
            "Tasks waiting in the tokio runtime's global queue.",
            MetricType::Gauge,
        );
        out.sample("tokio_global_queue_depth", &[], m.global_queue_depth() as f64);
    }
}
