//! Reading CPU and memory limits and usage from cgroup v1 / v2 files and `/proc`.

use std::path::{Path, PathBuf};

/// Reading the cgroup or `/proc` files failed. The message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PressureError {
    /// Neither cgroup v2 (`cgroup.controllers` / `cpu.stat`) nor v1 (`cpuacct/`) files
    /// were found under the root.
    #[error(
        "no cgroup found under {root}: expected cgroup v2 files (cgroup.controllers, cpu.stat) or cgroup v1 directories (cpu/, cpuacct/, memory/); pass the right root or use ManualPressure"
    )]
    NoCgroup {
        /// The cgroup root that was searched.
        root: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content was not what the kernel writes.
    #[error("cannot parse {path}: {problem} (content: {content:?})")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        problem: &'static str,
        /// The content read (trimmed).
        content: String,
    },
}

/// The cgroup interface that was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupVersion {
    /// Unified hierarchy (`cpu.max`, `cpu.stat`, `memory.max`, `memory.current`).
    V2,
    /// Legacy per-controller hierarchies (`cpu/`, `cpuacct/`, `memory/`).
    V1,
}

/// One raw sample: cumulative CPU time and the memory figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RawSample {
    /// Cumulative CPU time used by the cgroup, microseconds.
    pub(super) cpu_usage_usec: u64,
    /// CPUs the cgroup may use (fractional quotas allowed).
    pub(super) cpu_limit: f64,
    /// Memory used, bytes.
    pub(super) mem_used: u64,
    /// Memory limit, bytes.
    pub(super) mem_limit: u64,
}

/// Where to read from; every path is injectable for tests.
#[derive(Debug, Clone)]
pub(super) struct CgroupFiles {
    pub(super) root: PathBuf,
    pub(super) proc_root: PathBuf,
    pub(super) host_cpus: f64,
    pub(super) page_size: u64,
    pub(super) version: CgroupVersion,
}

impl CgroupFiles {
    pub(super) fn detect(
        root: PathBuf,
        proc_root: PathBuf,
        host_cpus: f64,
    ) -> Result<Self, PressureError> {
        let version = if root.join("cgroup.controllers").exists() || root.join("cpu.stat").exists()
        {
            CgroupVersion::V2
        } else if root.join("cpuacct").exists() || root.join("cpu,cpuacct").exists() {
            CgroupVersion::V1
        } else {
            return Err(PressureError::NoCgroup { root });
        };
        Ok(Self { root, proc_root, host_cpus, page_size: 4096, version })
    }

    pub(super) fn read(&self) -> Result<RawSample, PressureError> {
        let (cpu_usage_usec, cpu_limit, mem) = match self.version {
            CgroupVersion::V2 => (self.v2_cpu_usage()?, self.v2_cpu_limit()?, self.v2_memory()?),
            CgroupVersion::V1 => (self.v1_cpu_usage()?, self.v1_cpu_limit()?, self.v1_memory()?),
        };
        let (mem_used, mem_limit) = match mem {
            Some(m) => m,
            None => self.process_memory()?,
        };
        Ok(RawSample { cpu_usage_usec, cpu_limit, mem_used, mem_limit })
    }

    fn v2_cpu_usage(&self) -> Result<u64, PressureError> {
        let path = self.root.join("cpu.stat");
        let text = read(&path)?;
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .ok_or_else(|| parse_err(&path, "no `usage_usec` line", &text))?;
        parse_u64(&path, value)
    }

    /// `cpu.max` is `"<quota> <period>"` or `"max <period>"`; a missing file (the root
    /// cgroup has none) means no quota.
    fn v2_cpu_limit(&self) -> Result<f64, PressureError> {
        let path = self.root.join("cpu.max");
        let Some(text) = read_optional(&path)? else { return Ok(self.host_cpus) };
        let mut parts = text.split_whitespace();
        let (Some(quota), Some(period)) = (parts.next(), parts.next()) else {
            return Err(parse_err(&path, "expected `<quota> <period>`", &text));
        };
        if quota == "max" {
            return Ok(self.host_cpus);
        }
        self.quota_cpus(&path, parse_u64(&path, quota)? as f64, parse_u64(&path, period)?)
    }

    /// `Some((used, limit))` when `memory.max` sets a limit, `None` when unlimited.
    fn v2_memory(&self) -> Result<Option<(u64, u64)>, PressureError> {
        let path = self.root.join("memory.max");
        let Some(text) = read_optional(&path)? else { return Ok(None) };
        if text == "max" {
            return Ok(None);
        }
        let limit = parse_u64(&path, &text)?;
        let used_path = self.root.join("memory.current");
        let used = parse_u64(&used_path, &read(&used_path)?)?;
        let reclaimable = stat_value(&self.root.join("memory.stat"), "inactive_file")?;
        Ok(Some((used.saturating_sub(reclaimable), limit)))
    }

    fn v1_dir(&self, names: &[&str]) -> PathBuf {
        names
            .iter()
            .map(|n| self.root.join(n))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| self.root.join(names[0]))
    }

    fn v1_cpu_usage(&self) -> Result<u64, PressureError> {
        let path = self.v1_dir(&["cpuacct", "cpu,cpuacct"]).join("cpuacct.usage");
        Ok(parse_u64(&path, &read(&path)?)? / 1_000)
    }

    fn v1_cpu_limit(&self) -> Result<f64, PressureError> {
        let dir = self.v1_dir(&["cpu", "cpu,cpuacct"]);
        let quota_path = dir.join("cpu.cfs_quota_us");
        let quota_text = read(&quota_path)?;
        let quota: i64 = quota_text
            .parse()
            .map_err(|_| parse_err(&quota_path, "expected an integer", &quota_text))?;
        if quota <= 0 {
            return Ok(self.host_cpus);
        }
        let period_path = dir.join("cpu.cfs_period_us");
        let period = parse_u64(&period_path, &read(&period_path)?)?;
        self.quota_cpus(&period_path, quota as f64, period)
    }

    fn v1_memory(&self) -> Result<Option<(u64, u64)>, PressureError> {
        let dir = self.root.join("memory");
        let limit_path = dir.join("memory.limit_in_bytes");
        let Some(text) = read_optional(&limit_path)? else { return Ok(None) };
        let limit = parse_u64(&limit_path, &text)?;
        // "No limit" is written as a huge page-aligned number (e.g. 9223372036854771712).
        if limit >= self.host_memory()? {
            return Ok(None);
        }
        let used_path = dir.join("memory.usage_in_bytes");
        let used = parse_u64(&used_path, &read(&used_path)?)?;
        let reclaimable = stat_value(&dir.join("memory.stat"), "total_inactive_file")?;
        Ok(Some((used.saturating_sub(reclaimable), limit)))
    }

    fn quota_cpus(&self, path: &Path, quota: f64, period: u64) -> Result<f64, PressureError> {
        if period == 0 {
            return Err(parse_err(path, "period is zero", "0"));
        }
        Ok(quota / period as f64)
    }

    /// Without a cgroup memory limit: the process's resident set over the host's memory.
    fn process_memory(&self) -> Result<(u64, u64), PressureError> {
        let statm = self.proc_root.join("self/statm");
        let text = read(&statm)?;
        let resident = text
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| parse_err(&statm, "expected `size resident ...`", &text))?;
        let used = parse_u64(&statm, resident)?.saturating_mul(self.page_size);
        Ok((used, self.host_memory()?))
    }

    fn host_memory(&self) -> Result<u64, PressureError> {
        let path = self.proc_root.join("meminfo");
        let text = read(&path)?;
        let kib = text
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| parse_err(&path, "no `MemTotal:` line", &text))?;
        Ok(parse_u64(&path, kib)?.saturating_mul(1024))
    }
}

fn read(path: &Path) -> Result<String, PressureError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| PressureError::Read { path: path.to_owned(), source })
}

fn read_optional(path: &Path) -> Result<Option<String>, PressureError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PressureError::Read { path: path.to_owned(), source }),
    }
}

/// A `key value` line of a stat file; a missing file or key counts as zero.
fn stat_value(path: &Path, key: &str) -> Result<u64, PressureError> {
    let Some(text) = read_optional(path)? else { return Ok(0) };
    let value = text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then_some(v)
    });
    value.map_or(Ok(0), |v| parse_u64(path, v))
}

fn parse_u64(path: &Path, text: &str) -> Result<u64, PressureError> {
    text.trim().parse().map_err(|_| parse_err(path, "expected an unsigned integer", text))
}

fn parse_err(path: &Path, problem: &'static str, content: &str) -> PressureError {
    let content = content.trim().chars().take(200).collect();
    PressureError::Parse { path: path.to_owned(), problem, content }
}

/// CPU utilisation between two samples: CPU time used over CPU time allowed.
pub(super) fn cpu_utilisation(prev_usec: u64, now_usec: u64, wall_usec: u64, cpus: f64) -> f64 {
    if wall_usec == 0 || cpus <= 0.0 {
        return 0.0;
    }
    now_usec.saturating_sub(prev_usec) as f64 / (wall_usec as f64 * cpus)
}
