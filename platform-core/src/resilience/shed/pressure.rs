//! The [`Pressure`] signal and a settable [`ManualPressure`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How loaded the process is, as fractions of what it is allowed to use.
///
/// Every field is a ratio where `1.0` means "at the limit": `cpu` is CPU time used over
/// CPU time allowed by the quota (or by the host's cores when there is no quota), `memory`
/// is memory used over the memory limit. Values slightly above `1.0` are possible (sampling
/// jitter, memory over a soft limit).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct PressureReading {
    /// CPU utilisation of the allowed quota, `0.0..=1.0` (may briefly exceed `1.0`).
    pub cpu: f64,
    /// Memory used over the memory limit, `0.0..=1.0`.
    pub memory: f64,
    /// An optional scheduler signal (e.g. a runtime's run-queue depth over what the
    /// service tolerates), `0.0..=1.0`; `None` when the source does not measure one.
    pub queue: Option<f64>,
}

/// Which part of a [`PressureReading`] is the highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// CPU utilisation.
    Cpu,
    /// Memory use.
    Memory,
    /// The runtime queue signal.
    Queue,
}

impl Signal {
    /// The short lowercase name used in events and configs (`cpu`, `memory`, `queue`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Queue => "queue",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PressureReading {
    /// A reading with the given CPU and memory fractions and no queue signal.
    pub fn new(cpu: f64, memory: f64) -> Self {
        Self { cpu, memory, queue: None }
    }

    /// The same reading with a queue signal.
    pub fn with_queue(mut self, queue: f64) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The highest of the signals for which `enabled` returns `true`, and which one it was.
    /// NaN values count as zero. Returns `(0.0, Signal::Cpu)` when nothing is enabled.
    pub fn highest(&self, enabled: impl Fn(Signal) -> bool) -> (f64, Signal) {
        let mut best = (0.0, Signal::Cpu);
        let candidates = [
            (Signal::Cpu, Some(self.cpu)),
            (Signal::Memory, Some(self.memory)),
            (Signal::Queue, self.queue),
        ];
        for (signal, value) in candidates {
            if let Some(v) = value.filter(|v| !v.is_nan())
                && enabled(signal)
                && v > best.0
            {
                best = (v, signal);
            }
        }
        best
    }
}

/// A source of the current [`PressureReading`].
///
/// Load shedding asks for a reading on **every request**, so implementations must be
/// cheap: return a value cached in atomics and do the measuring elsewhere (a sampler
/// task such as [`CgroupPressure::spawn_sampler`](super::CgroupPressure::spawn_sampler)).
/// The trait is object safe; layers hold an `Arc<dyn Pressure>`.
///
/// ```
/// use platform_core::resilience::shed::{Pressure, PressureReading};
///
/// #[derive(Debug)]
/// struct AlwaysCalm;
/// impl Pressure for AlwaysCalm {
///     fn reading(&self) -> PressureReading {
///         PressureReading::new(0.1, 0.2)
///     }
/// }
/// let p: std::sync::Arc<dyn Pressure> = std::sync::Arc::new(AlwaysCalm);
/// assert_eq!(p.reading().cpu, 0.1);
/// ```
pub trait Pressure: Send + Sync + fmt::Debug {
    /// The latest reading. Must not block or do I/O.
    fn reading(&self) -> PressureReading;
}

impl<P: Pressure + ?Sized> Pressure for Arc<P> {
    fn reading(&self) -> PressureReading {
        (**self).reading()
    }
}

const NO_QUEUE: u64 = u64::MAX;

/// A [`Pressure`] whose reading is set by hand (tests, or a custom sampler publishing
/// its values). Setting and reading are single atomic stores and loads.
///
/// ```
/// use platform_core::resilience::shed::{ManualPressure, Pressure};
///
/// let p = ManualPressure::new();
/// p.set_cpu(0.9);
/// assert_eq!(p.reading().cpu, 0.9);
/// assert_eq!(p.reading().queue, None);
/// ```
pub struct ManualPressure {
    cpu: AtomicU64,
    memory: AtomicU64,
    queue: AtomicU64,
}

impl ManualPressure {
    /// All signals at zero, no queue signal.
    pub fn new() -> Self {
        Self {
            cpu: AtomicU64::new(0f64.to_bits()),
            memory: AtomicU64::new(0f64.to_bits()),
            queue: AtomicU64::new(NO_QUEUE),
        }
    }

    /// Starting from `reading`.
    pub fn from_reading(reading: PressureReading) -> Self {
        let p = Self::new();
        p.set(reading);
        p
    }

    /// Sets the CPU fraction.
    pub fn set_cpu(&self, cpu: f64) {
        self.cpu.store(cpu.to_bits(), Ordering::Relaxed);
    }

    /// Sets the memory fraction.
    pub fn set_memory(&self, memory: f64) {
        self.memory.store(memory.to_bits(), Ordering::Relaxed);
    }

    /// Sets (or with `None`, clears) the queue signal.
    pub fn set_queue(&self, queue: Option<f64>) {
        self.queue.store(queue.map_or(NO_QUEUE, f64::to_bits), Ordering::Relaxed);
    }

    /// Replaces the whole reading.
    pub fn set(&self, reading: PressureReading) {
        self.set_cpu(reading.cpu);
        self.set_memory(reading.memory);
        self.set_queue(reading.queue);
    }
}

impl Default for ManualPressure {
    fn default() -> Self {
        Self::new()
    }
}

impl Pressure for ManualPressure {
    fn reading(&self) -> PressureReading {
        let queue = match self.queue.load(Ordering::Relaxed) {
            NO_QUEUE => None,
            bits => Some(f64::from_bits(bits)),
        };
        PressureReading {
            cpu: f64::from_bits(self.cpu.load(Ordering::Relaxed)),
            memory: f64::from_bits(self.memory.load(Ordering::Relaxed)),
            queue,
        }
    }
}

impl fmt::Debug for ManualPressure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualPressure").field("reading", &self.reading()).finish()
    }
}
