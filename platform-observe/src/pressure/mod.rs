//! Resource pressure: cgroup CPU and memory plus tokio runtime signals, as one
//! [`Pressure`] source for platform-core's load-shedding layer, exported as metrics.
//!
//! [`ResourcePressure`] combines
//!
//! * a [`CgroupPressure`] (cgroup v1 or v2, fractional CPU quotas, `memory.max` or the
//!   resident set when there is no limit) for the `cpu` and `memory` signals, and
//! * the tokio runtime for the `queue` signal: the **scheduling lag** (how late the
//!   sampler's own timer tick ran, i.e. how long a ready task waits for a worker) over
//!   a tolerated lag, and the global queue depth over a tolerated depth, whichever is
//!   higher. Lag is the signal that matters to callers: a runtime at 100 % busy that
//!   still runs every task promptly is not overloaded, one whose tasks wait is.
//!
//! A background task ([`ResourcePressure::spawn_sampler`]) samples at an interval;
//! [`reading`](Pressure::reading) only loads atomics, so the shedding layer can ask on
//! every request. Registering the pressure with a
//! [`MetricsRegistry`](crate::metrics::MetricsRegistry) exports what it sees:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `pressure_ratio{signal}` | gauge | the reading the shedder sees, per signal (`cpu`, `memory`, `queue`); `1` = at the limit |
//! | `cgroup_cpu_limit_cores` | gauge | CPUs the cgroup may use (quota, or host CPUs) |
//! | `cgroup_memory_limit_bytes` | gauge | memory limit (host memory when unlimited) |
//! | `cgroup_memory_used_bytes` | gauge | memory used less reclaimable page cache |
//! | `tokio_busy_ratio` | gauge | share of worker time spent running tasks since the previous sample |
//! | `tokio_schedule_lag_seconds` | gauge | how late the latest sampler tick ran |
//! | `pressure_sample_errors_total` | counter | samples that failed (the last good reading stays) |
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use platform_core::resilience::shed::{CgroupPressure, LoadShedLayer, Pressure};
//! use platform_observe::metrics::MetricsRegistry;
//! use platform_observe::pressure::{PressureConfig, ResourcePressure};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let dir = std::env::temp_dir().join(format!("pressure-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # std::fs::write(dir.join("cgroup.controllers"), "cpu memory").unwrap();
//! # std::fs::write(dir.join("cpu.max"), "50000 100000").unwrap();
//! # std::fs::write(dir.join("cpu.stat"), "usage_usec 0\n").unwrap();
//! # std::fs::write(dir.join("memory.max"), "1000").unwrap();
//! # std::fs::write(dir.join("memory.current"), "600").unwrap();
//! // Production: `CgroupPressure::detect()`; here a fixture directory.
//! let cgroup = CgroupPressure::builder().cgroup_root(&dir).build().unwrap();
//! let pressure = ResourcePressure::builder()
//!     .cgroup(cgroup)
//!     .runtime(tokio::runtime::Handle::current())
//!     .config(PressureConfig { interval: Duration::from_millis(250), ..Default::default() })
//!     .build();
//! let _sampling = pressure.spawn_sampler().unwrap(); // keep it alive
//!
//! let registry = MetricsRegistry::new();
//! registry.register(pressure.clone());
//! assert_eq!(pressure.reading().memory, 0.6);
//! assert!(registry.encode().contains(r#"pressure_ratio{signal="memory"} 0.6"#));
//!
//! let _shed = LoadShedLayer::new(pressure); // the shedding layer reads the same signal
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! ```

mod collector;
mod config;
mod resource;
mod runtime;

pub use config::PressureConfig;
pub use resource::{PressureSnapshot, ResourcePressure, ResourcePressureBuilder, SpawnError};

#[doc(no_inline)]
pub use platform_core::resilience::shed::{
    CgroupPressure, CgroupSample, Pressure, PressureReading, SamplerHandle,
};

#[cfg(test)]
mod tests;
