use serde::{Deserialize, Serialize};

use super::{Criticality, Signal};
use crate::resilience::{ConfigError, Mode};

/// The pressure range over which one criticality's shed probability rises.
///
/// Below `start` nothing is shed; from `start` to `full` the probability rises linearly
/// from 0 to 1; at `full` and above everything of that criticality is shed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShedThresholds {
    /// Pressure at which shedding begins (probability 0).
    pub start: f64,
    /// Pressure at which everything is shed (probability 1).
    pub full: f64,
}

impl ShedThresholds {
    /// A ramp from `start` to `full`.
    pub const fn new(start: f64, full: f64) -> Self {
        Self { start, full }
    }

    /// The shed probability at pressure `level`, in `0.0..=1.0`.
    pub fn probability(&self, level: f64) -> f64 {
        if level.is_nan() || level <= self.start {
            0.0
        } else if level >= self.full {
            1.0
        } else {
            (level - self.start) / (self.full - self.start)
        }
    }
}

/// Which parts of a [`PressureReading`](super::PressureReading) drive shedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShedSignals {
    /// CPU utilisation of the quota (default on).
    pub cpu: bool,
    /// Memory use of the limit (default on).
    pub memory: bool,
    /// The runtime queue signal, when the pressure source has one (default on).
    pub queue: bool,
}

impl Default for ShedSignals {
    fn default() -> Self {
        Self { cpu: true, memory: true, queue: true }
    }
}

impl ShedSignals {
    /// Whether `signal` is enabled.
    pub fn enabled(&self, signal: Signal) -> bool {
        match signal {
            Signal::Cpu => self.cpu,
            Signal::Memory => self.memory,
            Signal::Queue => self.queue,
        }
    }
}

/// Settings of the [`LoadShed`](super::LoadShed) layer.
///
/// The pressure level is the highest enabled signal of the reading. Each criticality has
/// its own [`ShedThresholds`]; validation requires that a more critical class starts and
/// reaches full shedding no earlier than a less critical one, so at every level critical
/// traffic has the lowest shed probability.
///
/// ```
/// use platform_core::resilience::shed::{Criticality, LoadShedConfig};
///
/// let cfg: LoadShedConfig = serde_json::from_str(
///     r#"{"mode":"shadow","sheddable":{"start":0.5,"full":0.8},"signals":{"memory":false}}"#,
/// ).unwrap();
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.thresholds(Criticality::Sheddable).probability(0.65), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LoadShedConfig {
    /// Enforce (default) or only report.
    pub mode: Mode,
    /// Ramp for [`Criticality::Sheddable`] (default 0.60 → 0.85).
    pub sheddable: ShedThresholds,
    /// Ramp for [`Criticality::Default`] (default 0.75 → 0.95).
    pub default: ShedThresholds,
    /// Ramp for [`Criticality::Critical`] (default 0.90 → 1.10: at a saturated CPU
    /// reading of 1.0 half of the critical traffic still passes).
    pub critical: ShedThresholds,
    /// Signals that count (default: all).
    pub signals: ShedSignals,
}

impl Default for LoadShedConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            sheddable: ShedThresholds::new(0.60, 0.85),
            default: ShedThresholds::new(0.75, 0.95),
            critical: ShedThresholds::new(0.90, 1.10),
            signals: ShedSignals::default(),
        }
    }
}

impl LoadShedConfig {
    /// The ramp of `criticality`.
    pub fn thresholds(&self, criticality: Criticality) -> ShedThresholds {
        match criticality {
            Criticality::Sheddable => self.sheddable,
            Criticality::Default => self.default,
            Criticality::Critical => self.critical,
        }
    }

    /// Sets the ramp of `criticality` (builder style).
    pub fn with_thresholds(mut self, criticality: Criticality, start: f64, full: f64) -> Self {
        let t = ShedThresholds::new(start, full);
        match criticality {
            Criticality::Sheddable => self.sheddable = t,
            Criticality::Default => self.default = t,
            Criticality::Critical => self.critical = t,
        }
        self
    }

    /// Sets the mode (builder style).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the signals that count (builder style).
    pub fn with_signals(mut self, signals: ShedSignals) -> Self {
        self.signals = signals;
        self
    }

    /// Checks every ramp (`0 <= start < full`, finite) and their order across criticalities.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fields =
            [("sheddable", self.sheddable), ("default", self.default), ("critical", self.critical)];
        for (field, t) in fields {
            if !(t.start.is_finite() && t.full.is_finite() && t.start >= 0.0) {
                return Err(ConfigError::new(
                    "load_shed",
                    field,
                    "start and full must be finite and non-negative",
                ));
            }
            if t.start >= t.full {
                return Err(ConfigError::new(
                    "load_shed",
                    field,
                    format!("start ({}) must be below full ({})", t.start, t.full),
                ));
            }
        }
        for pair in fields.windows(2) {
            let ((lo_name, lo), (hi_name, hi)) = (pair[0], pair[1]);
            if hi.start < lo.start || hi.full < lo.full {
                return Err(ConfigError::new(
                    "load_shed",
                    hi_name,
                    format!(
                        "must start and reach full shedding no earlier than `{lo_name}` (more critical traffic is shed last)"
                    ),
                ));
            }
        }
        Ok(())
    }
}
