//! [`ResourcePressure`]: cgroup and runtime signals combined, sampled in the background.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use platform_core::resilience::shed::{
    CgroupPressure, CgroupSample, ManualPressure, Pressure, PressureError, PressureReading,
    SamplerHandle,
};

use super::config::PressureConfig;
use super::runtime::{RuntimeProbe, queue_signal};

const TARGET: &str = "platform::observe::pressure";

/// CPU, memory and runtime pressure of this process as one [`Pressure`] source.
///
/// Clones share one state. See the [module docs](super) for the signals and metrics.
#[derive(Clone)]
pub struct ResourcePressure {
    inner: Arc<Inner>,
}

struct Inner {
    cgroup: Option<CgroupPressure>,
    config: PressureConfig,
    cell: ManualPressure,
    state: Mutex<State>,
    errors: AtomicU64,
}

struct State {
    runtime: Option<RuntimeProbe>,
    snapshot: PressureSnapshot,
}

/// Everything the latest sample measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct PressureSnapshot {
    /// The reading [`Pressure::reading`] returns.
    pub reading: PressureReading,
    /// The cgroup figures, when a cgroup source is configured.
    pub cgroup: Option<CgroupSample>,
    /// Share of worker time spent busy since the previous sample (from the second sample on).
    pub busy_ratio: Option<f64>,
    /// How late the sampler's latest tick ran (only the background sampler measures it).
    pub schedule_lag: Option<Duration>,
    /// Tasks waiting in the runtime's global queue.
    pub global_queue_depth: Option<usize>,
}

/// Setting up a [`ResourcePressure`] or its sampler failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A configuration value is out of range; the message names the field.
    #[error("invalid pressure configuration: {0}")]
    Config(&'static str),
    /// [`spawn_sampler`](ResourcePressure::spawn_sampler) found no runtime: none was given
    /// to the builder and it was not called inside one.
    #[error(
        "no tokio runtime to run the pressure sampler on: call spawn_sampler inside a runtime or pass one with ResourcePressureBuilder::runtime"
    )]
    NoRuntime,
    /// Reading the cgroup failed (the message names the file).
    #[error(transparent)]
    Cgroup(#[from] PressureError),
}

/// Builds a [`ResourcePressure`].
#[derive(Debug, Default)]
pub struct ResourcePressureBuilder {
    cgroup: Option<CgroupPressure>,
    runtime: Option<tokio::runtime::Handle>,
    config: PressureConfig,
}

impl ResourcePressureBuilder {
    /// The CPU and memory source. Without one, `cpu` and `memory` read `0`.
    pub fn cgroup(mut self, cgroup: CgroupPressure) -> Self {
        self.cgroup = Some(cgroup);
        self
    }

    /// The runtime whose signals feed `queue` and on which the sampler runs. Without one,
    /// the reading has no queue signal and the sampler runs on the runtime it is spawned in.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Interval and tolerances.
    pub fn config(mut self, config: PressureConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds the source after checking the configuration.
    pub fn try_build(self) -> Result<ResourcePressure, SpawnError> {
        self.config.validate().map_err(SpawnError::Config)?;
        let pressure = ResourcePressure {
            inner: Arc::new(Inner {
                cgroup: self.cgroup,
                config: self.config,
                cell: ManualPressure::new(),
                state: Mutex::new(State {
                    runtime: self.runtime.map(RuntimeProbe::new),
                    snapshot: PressureSnapshot::default(),
                }),
                errors: AtomicU64::new(0),
            }),
        };
        pressure.sample(None);
        Ok(pressure)
    }

    /// Builds the source.
    ///
    /// # Panics
    ///
    /// When the configuration is invalid (zero interval or tolerance); use
    /// [`try_build`](Self::try_build) for configuration read at run time.
    pub fn build(self) -> ResourcePressure {
        match self.try_build() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }
}

impl ResourcePressure {
    /// A builder with the default configuration and no sources.
    pub fn builder() -> ResourcePressureBuilder {
        ResourcePressureBuilder::default()
    }

    /// This process's cgroup (`/sys/fs/cgroup`, `/proc`) and, when called inside one, the
    /// current tokio runtime, with `config`.
    pub fn detect(config: PressureConfig) -> Result<Self, SpawnError> {
        let mut builder = Self::builder().cgroup(CgroupPressure::detect()?).config(config);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            builder = builder.runtime(handle);
        }
        builder.try_build()
    }

    /// The configuration in use.
    pub fn config(&self) -> &PressureConfig {
        &self.inner.config
    }

    /// Everything the latest sample measured.
    pub fn snapshot(&self) -> PressureSnapshot {
        self.state().snapshot
    }

    /// Samples that failed so far (the last good values stay in the reading).
    pub fn sample_errors(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    /// Samples now and publishes the result. The scheduling lag is the one the background
    /// sampler measured last (none before it runs).
    pub fn sample_now(&self) -> PressureReading {
        self.sample(None)
    }

    /// One sample; `lag` is the sampler tick's lateness when the sampler calls.
    pub(super) fn sample(&self, lag: Option<Duration>) -> PressureReading {
        let inner = &*self.inner;
        let mut state = self.state();
        let mut snap = state.snapshot;
        if let Some(cgroup) = &inner.cgroup {
            match cgroup.sample_now() {
                Ok(r) => {
                    snap.reading.cpu = r.cpu;
                    snap.reading.memory = r.memory;
                    snap.cgroup = cgroup.last_sample();
                }
                Err(e) => {
                    inner.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(target: TARGET, error = %e, "pressure sampling failed; keeping the last reading");
                }
            }
        }
        if lag.is_some() {
            snap.schedule_lag = lag;
        }
        if let Some(probe) = &mut state.runtime {
            let rt = probe.sample();
            if rt.busy_ratio.is_some() {
                snap.busy_ratio = rt.busy_ratio;
            }
            snap.global_queue_depth = Some(rt.global_queue_depth);
            let cfg = &inner.config;
            snap.reading.queue = Some(queue_signal(
                snap.schedule_lag.unwrap_or_default(),
                cfg.lag_tolerance,
                rt.global_queue_depth,
                cfg.queue_tolerance,
            ));
        }
        state.snapshot = snap;
        inner.cell.set(snap.reading);
        snap.reading
    }

    /// Spawns the sampling task on the builder's runtime (or the current one). It stops
    /// when the returned [`SamplerHandle`] is dropped or every clone of this pressure is.
    pub fn spawn_sampler(&self) -> Result<SamplerHandle, SpawnError> {
        let handle = match self.state().runtime.as_ref().map(|p| p.handle().clone()) {
            Some(h) => h,
            None => tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?,
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.config.interval;
        let task = handle.spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let due = ticks.tick().await;
                let lag = tokio::time::Instant::now().saturating_duration_since(due);
                let Some(inner) = weak.upgrade() else { break };
                ResourcePressure { inner }.sample(Some(lag));
            }
        });
        Ok(SamplerHandle::from(task))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Pressure for ResourcePressure {
    fn reading(&self) -> PressureReading {
        self.inner.cell.reading()
    }
}

impl fmt::Debug for ResourcePressure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourcePressure")
            .field("cgroup", &self.inner.cgroup)
            .field("config", &self.inner.config)
            .field("snapshot", &self.snapshot())
            .finish_non_exhaustive()
    }
}
