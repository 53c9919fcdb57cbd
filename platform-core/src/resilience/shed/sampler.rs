//! [`CgroupPressure`]: a [`Pressure`] sampled from cgroup files by a background task.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::cgroup::{CgroupFiles, CgroupVersion, PressureError, cpu_utilisation};
use super::pressure::{ManualPressure, Pressure, PressureReading};

const TARGET: &str = "platform::resilience::shed";

/// CPU and memory pressure of this process's cgroup (v1 or v2), or of the process and
/// host when the cgroup sets no limit.
///
/// * CPU: the quota from `cpu.max` (v2) or `cpu.cfs_quota_us / cpu.cfs_period_us` (v1),
///   fractional quotas included (`150000 100000` = 1.5 CPUs); no quota (`max`, `-1`) means
///   the host's CPUs. Utilisation = Δ usage (`cpu.stat usage_usec` / `cpuacct.usage`)
///   over (Δ wall time × quota CPUs).
/// * Memory: `memory.current / memory.max` (v2) or `memory.usage_in_bytes /
///   memory.limit_in_bytes` (v1), less reclaimable page cache (`inactive_file` /
///   `total_inactive_file` from `memory.stat`); without a limit, the resident set from
///   `/proc/self/statm` over `MemTotal` in `/proc/meminfo`.
///
/// [`reading`](Pressure::reading) only loads atomics; sampling happens in
/// [`sample_now`](Self::sample_now), called by the task of
/// [`spawn_sampler`](Self::spawn_sampler). Clones share one state.
///
/// ```
/// use platform_core::resilience::shed::{CgroupPressure, Pressure};
///
/// // Tests point the sampler at fixture files; production uses `CgroupPressure::detect()`.
/// let dir = std::env::temp_dir().join(format!("cgroup-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("cgroup.controllers"), "cpu memory").unwrap();
/// std::fs::write(dir.join("cpu.max"), "150000 100000").unwrap();
/// std::fs::write(dir.join("cpu.stat"), "usage_usec 1000\n").unwrap();
/// std::fs::write(dir.join("memory.max"), "1000").unwrap();
/// std::fs::write(dir.join("memory.current"), "250").unwrap();
///
/// let pressure = CgroupPressure::builder().cgroup_root(&dir).build().unwrap();
/// assert_eq!(pressure.cpu_limit().unwrap(), 1.5);
/// let reading = pressure.sample_now().unwrap();
/// assert_eq!(reading.memory, 0.25);
/// assert_eq!(pressure.reading(), reading);
/// assert_eq!(pressure.last_sample().unwrap().memory_limit, 1000);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct CgroupPressure {
    inner: Arc<Inner>,
}

struct Inner {
    files: CgroupFiles,
    prev_cpu: Mutex<Option<(Instant, u64)>>,
    last: Mutex<Option<CgroupSample>>,
    cell: ManualPressure,
}

/// The raw figures of the latest sample, for exporting as metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CgroupSample {
    /// CPUs the cgroup may use (the quota, fractional; the host's CPUs without one).
    pub cpu_limit: f64,
    /// Cumulative CPU time used by the cgroup, microseconds.
    pub cpu_usage_usec: u64,
    /// Memory in use, bytes, less reclaimable page cache (the process's resident set
    /// when the cgroup sets no memory limit).
    pub memory_used: u64,
    /// The memory limit, bytes (the host's memory when the cgroup sets none).
    pub memory_limit: u64,
}

/// Builds a [`CgroupPressure`] with non-default paths (tests, unusual mounts).
#[derive(Debug, Clone)]
pub struct CgroupPressureBuilder {
    root: PathBuf,
    proc_root: PathBuf,
    host_cpus: Option<f64>,
    page_size: u64,
}

impl CgroupPressureBuilder {
    /// The cgroup directory of this process (default `/sys/fs/cgroup`, which is the
    /// container's own cgroup under cgroup namespaces, the default on Docker and
    /// Kubernetes).
    pub fn cgroup_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// The procfs mount (default `/proc`): `self/statm` and `meminfo` are read from it.
    pub fn proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }

    /// CPUs to assume when the cgroup sets no quota (default: the host's parallelism).
    pub fn host_cpus(mut self, cpus: f64) -> Self {
        self.host_cpus = Some(cpus);
        self
    }

    /// Page size used to turn `statm` pages into bytes (default 4096).
    pub fn page_size(mut self, bytes: u64) -> Self {
        self.page_size = bytes;
        self
    }

    /// Detects the cgroup version and takes a first sample, so that a missing or
    /// malformed file is reported now, naming the file.
    pub fn build(self) -> Result<CgroupPressure, PressureError> {
        let host_cpus = self.host_cpus.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
        });
        let mut files = CgroupFiles::detect(self.root, self.proc_root, host_cpus)?;
        files.page_size = self.page_size;
        let pressure = CgroupPressure {
            inner: Arc::new(Inner {
                files,
                prev_cpu: Mutex::new(None),
                last: Mutex::new(None),
                cell: ManualPressure::new(),
            }),
        };
        pressure.sample_now()?;
        Ok(pressure)
    }
}

impl CgroupPressure {
    /// Reads this process's cgroup at `/sys/fs/cgroup` and procfs at `/proc`.
    pub fn detect() -> Result<Self, PressureError> {
        Self::builder().build()
    }

    /// A builder with the default paths.
    pub fn builder() -> CgroupPressureBuilder {
        CgroupPressureBuilder {
            root: PathBuf::from("/sys/fs/cgroup"),
            proc_root: PathBuf::from("/proc"),
            host_cpus: None,
            page_size: 4096,
        }
    }

    /// The cgroup interface in use.
    pub fn version(&self) -> CgroupVersion {
        self.inner.files.version
    }

    /// The CPUs the process may use now (quota, or host CPUs when unlimited).
    pub fn cpu_limit(&self) -> Result<f64, PressureError> {
        Ok(self.inner.files.read()?.cpu_limit)
    }

    /// The raw figures of the latest successful sample ([`build`](CgroupPressureBuilder::build)
    /// takes the first one, so this is `Some` on a built pressure).
    pub fn last_sample(&self) -> Option<CgroupSample> {
        *self.inner.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Samples the files now, publishes the result to [`reading`](Pressure::reading)
    /// and returns it. CPU utilisation needs two samples: the first one reports the
    /// previous CPU value (zero initially).
    pub fn sample_now(&self) -> Result<PressureReading, PressureError> {
        let raw = self.inner.files.read()?;
        let now = Instant::now();
        let mut prev = self.inner.prev_cpu.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, usage)) = *prev {
            let wall =
                u64::try_from(now.saturating_duration_since(at).as_micros()).unwrap_or(u64::MAX);
            if wall > 0 {
                let cpu = cpu_utilisation(usage, raw.cpu_usage_usec, wall, raw.cpu_limit);
                self.inner.cell.set_cpu(cpu);
            }
        }
        *prev = Some((now, raw.cpu_usage_usec));
        drop(prev);
        *self.inner.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(CgroupSample {
            cpu_limit: raw.cpu_limit,
            cpu_usage_usec: raw.cpu_usage_usec,
            memory_used: raw.mem_used,
            memory_limit: raw.mem_limit,
        });
        let memory =
            if raw.mem_limit == 0 { 0.0 } else { raw.mem_used as f64 / raw.mem_limit as f64 };
        self.inner.cell.set_memory(memory);
        Ok(self.inner.cell.reading())
    }

    /// Spawns a task that samples every `interval` until the returned handle is dropped
    /// (or every clone of this pressure is). Sampling errors are logged at `warn` and the
    /// last good reading stays. Must be called inside a tokio runtime.
    pub fn spawn_sampler(&self, interval: Duration) -> SamplerHandle {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if let Err(e) = (CgroupPressure { inner }).sample_now() {
                    tracing::warn!(target: TARGET, error = %e, "pressure sampling failed");
                }
            }
        });
        SamplerHandle { task }
    }
}

impl Pressure for CgroupPressure {
    fn reading(&self) -> PressureReading {
        self.inner.cell.reading()
    }
}

impl fmt::Debug for CgroupPressure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CgroupPressure")
            .field("root", &self.inner.files.root)
            .field("version", &self.inner.files.version)
            .field("reading", &self.inner.cell.reading())
            .finish()
    }
}

/// Keeps a sampler task of [`CgroupPressure::spawn_sampler`] running; dropping it stops
/// the task.
#[derive(Debug)]
pub struct SamplerHandle {
    task: tokio::task::JoinHandle<()>,
}

impl From<tokio::task::JoinHandle<()>> for SamplerHandle {
    /// Wraps a sampling task of another [`Pressure`] source, so that dropping the handle
    /// stops it in the same way.
    fn from(task: tokio::task::JoinHandle<()>) -> Self {
        Self { task }
    }
}

impl SamplerHandle {
    /// `true` once the task has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for SamplerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
