use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use tower_layer::Layer;

use super::{Criticality, HttpCriticality, LoadShed, LoadShedConfig, Pressure, Signal};
use crate::resilience::{ConfigError, Listeners, Mode, reconfigure};

pub(super) const TARGET: &str = "platform::resilience::shed";

/// Something the [`LoadShed`] layer reports to its listeners.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ShedEvent {
    /// A request was shed (or, in shadow mode, would have been).
    Shed {
        /// The request's criticality.
        criticality: Criticality,
        /// The signal that set the pressure level.
        signal: Signal,
        /// The pressure level.
        level: f64,
        /// The shed probability at that level for that criticality.
        probability: f64,
        /// `true` in shadow mode: the request was let through.
        shadow: bool,
    },
    /// The configuration was changed at runtime.
    Reconfigured {
        /// The new configuration.
        config: LoadShedConfig,
    },
}

/// The settings read on every call, as atomics (a reconfiguration is a few stores).
#[derive(Debug)]
pub(super) struct Shared {
    /// start/full for sheddable, default, critical, as f64 bits.
    ramps: [AtomicU64; 6],
    /// bit 0: shadow; bits 1..=3: cpu, memory, queue enabled.
    flags: AtomicU64,
    /// The seed sequence new services draw their RNG seed from.
    seeds: AtomicU64,
    pub(super) pressure: Arc<dyn Pressure>,
    pub(super) listeners: Listeners<ShedEvent>,
}

/// One decision's inputs, read from [`Shared`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Decision {
    pub(super) level: f64,
    pub(super) signal: Signal,
    pub(super) probability: f64,
    pub(super) shadow: bool,
}

impl Shared {
    fn new(pressure: Arc<dyn Pressure>, cfg: &LoadShedConfig, seed: u64) -> Self {
        let shared = Self {
            ramps: Default::default(),
            flags: AtomicU64::new(0),
            seeds: AtomicU64::new(seed),
            pressure,
            listeners: Listeners::new(),
        };
        shared.store(cfg);
        shared
    }

    fn store(&self, cfg: &LoadShedConfig) {
        for (i, c) in Criticality::ALL.into_iter().enumerate() {
            let t = cfg.thresholds(c);
            self.ramps[2 * i].store(t.start.to_bits(), Ordering::Relaxed);
            self.ramps[2 * i + 1].store(t.full.to_bits(), Ordering::Relaxed);
        }
        let s = cfg.signals;
        let flags = u64::from(cfg.mode.is_shadow())
            | u64::from(s.cpu) << 1
            | u64::from(s.memory) << 2
            | u64::from(s.queue) << 3;
        self.flags.store(flags, Ordering::Relaxed);
    }

    fn set(&self, cfg: &LoadShedConfig) {
        self.store(cfg);
        tracing::info!(target: TARGET, config = ?cfg, "load shedding reconfigured");
        self.listeners.emit(&ShedEvent::Reconfigured { config: cfg.clone() });
    }

    pub(super) fn config(&self) -> LoadShedConfig {
        let f = self.flags.load(Ordering::Relaxed);
        let mut cfg = LoadShedConfig::default().with_mode(if f & 1 == 1 {
            Mode::Shadow
        } else {
            Mode::Enforce
        });
        cfg.signals.cpu = f & 2 != 0;
        cfg.signals.memory = f & 4 != 0;
        cfg.signals.queue = f & 8 != 0;
        for (i, c) in Criticality::ALL.into_iter().enumerate() {
            let start = f64::from_bits(self.ramps[2 * i].load(Ordering::Relaxed));
            let full = f64::from_bits(self.ramps[2 * i + 1].load(Ordering::Relaxed));
            cfg = cfg.with_thresholds(c, start, full);
        }
        cfg
    }

    /// The pressure level and shed probability for a request of `criticality`.
    pub(super) fn decide(&self, criticality: Criticality) -> Decision {
        let f = self.flags.load(Ordering::Relaxed);
        let reading = self.pressure.reading();
        let (level, signal) = reading.highest(|s| {
            let bit = match s {
                Signal::Cpu => 2,
                Signal::Memory => 4,
                Signal::Queue => 8,
            };
            f & bit != 0
        });
        let i = criticality as usize;
        let start = f64::from_bits(self.ramps[2 * i].load(Ordering::Relaxed));
        let full = f64::from_bits(self.ramps[2 * i + 1].load(Ordering::Relaxed));
        let probability = super::ShedThresholds::new(start, full).probability(level);
        Decision { level, signal, probability, shadow: f & 1 == 1 }
    }

    /// A fresh RNG seed; every service (and clone) draws its own.
    pub(super) fn next_seed(&self) -> u64 {
        // SplitMix64: a Weyl sequence through a bit mixer, so consecutive seeds differ widely.
        let mut z = self.seeds.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Applies [`LoadShed`] to a service. Clones share one configuration and pressure source.
///
/// `E` extracts each request's [`Criticality`]; the default, [`HttpCriticality`], reads
/// `http::Request`s. For other request types use
/// [`criticality`](Self::criticality) with [`FixedCriticality`](super::FixedCriticality)
/// or a [`KeyFn`](crate::resilience::key::KeyFn).
#[derive(Debug, Clone)]
pub struct LoadShedLayer<E = HttpCriticality> {
    pub(super) shared: Arc<Shared>,
    pub(super) extractor: Arc<E>,
}

impl LoadShedLayer {
    /// A layer with the default config reading `pressure`.
    pub fn new(pressure: impl Pressure + 'static) -> Self {
        match Self::from_config(pressure, LoadShedConfig::default()) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// A layer from a validated config.
    pub fn from_config(
        pressure: impl Pressure + 'static,
        cfg: LoadShedConfig,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let shared = Shared::new(Arc::new(pressure), &cfg, fastrand::u64(..));
        Ok(Self { shared: Arc::new(shared), extractor: Arc::new(HttpCriticality::default()) })
    }
}

impl<E> LoadShedLayer<E> {
    /// Reads criticality with `extractor` (a `KeyExtractor<Req, Key = Criticality>`);
    /// requests it gives no criticality count as [`Criticality::Default`].
    pub fn criticality<E2>(self, extractor: E2) -> LoadShedLayer<E2> {
        LoadShedLayer { shared: self.shared, extractor: Arc::new(extractor) }
    }

    /// Seeds the random draws, for reproducible tests. Services made afterwards (and
    /// their clones) draw from the seeded sequence in creation order.
    pub fn seed(self, seed: u64) -> Self {
        self.shared.seeds.store(seed, Ordering::Relaxed);
        self
    }

    /// Registers listeners. Call before cloning: clones made earlier keep the old ones.
    pub fn with_listeners(mut self, listeners: Listeners<ShedEvent>) -> Self {
        let cfg = self.shared.config();
        let seed = self.shared.seeds.load(Ordering::Relaxed);
        let mut shared = Shared::new(self.shared.pressure.clone(), &cfg, seed);
        shared.listeners = listeners;
        self.shared = Arc::new(shared);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> LoadShedConfig {
        self.shared.config()
    }

    /// The current reading of the pressure source.
    pub fn pressure(&self) -> super::PressureReading {
        self.shared.pressure.reading()
    }

    /// Changes the settings of this layer and every clone and service made from it.
    /// Invalid configs are rejected and the old settings stay.
    pub fn reconfigure(&self, cfg: &LoadShedConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.shared.set(cfg);
        Ok(())
    }

    /// Follows `rx`: every valid config sent is applied live; invalid ones are logged
    /// and skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<LoadShedConfig>) -> Self {
        reconfigure::spawn_watch(
            Arc::downgrade(&self.shared),
            rx,
            |shared: &Shared, cfg: LoadShedConfig| match cfg.validate() {
                Ok(()) => shared.set(&cfg),
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, "ignoring invalid load shedding config");
                }
            },
        );
        self
    }
}

impl<S, E> Layer<S> for LoadShedLayer<E> {
    type Service = LoadShed<S, E>;

    fn layer(&self, inner: S) -> LoadShed<S, E> {
        LoadShed::from_parts(inner, self.shared.clone(), self.extractor.clone())
    }
}
