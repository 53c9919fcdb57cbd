use std::fmt;
use std::time::Duration;

use governor::clock::{Clock, FakeRelativeClock, QuantaClock, QuantaInstant, Reference};
use governor::nanos::Nanos;

/// The time source of a rate limiter's local decisions.
///
/// * [`RateLimitClock::system`] (the default) reads the CPU's monotonic counter through
///   `quanta`: a few nanoseconds per read.
/// * [`RateLimitClock::tokio`] follows tokio's clock, so tests with a paused runtime
///   (`#[tokio::test(start_paused = true)]` + `tokio::time::advance`) are deterministic.
/// * [`ManualClock`] moves only when told to, for tests without a runtime.
///
/// Distributed decisions use Redis' own clock instead (see the module docs).
#[derive(Clone)]
pub struct RateLimitClock {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    System { clock: QuantaClock, epoch: QuantaInstant },
    Tokio { epoch: tokio::time::Instant },
    Manual(FakeRelativeClock),
}

impl RateLimitClock {
    /// The process-wide monotonic clock (the default).
    pub fn system() -> Self {
        let clock = QuantaClock::default();
        let epoch = clock.now();
        Self { kind: Kind::System { clock, epoch } }
    }

    /// tokio's clock: honours a paused test runtime. Must be created inside a runtime.
    pub fn tokio() -> Self {
        Self { kind: Kind::Tokio { epoch: tokio::time::Instant::now() } }
    }

    /// Nanoseconds since the clock's epoch (never 0 for the system and tokio clocks, so
    /// a stored 0 can mean "no state").
    ///
    /// `#[inline]`: this is on every admitted call and is not generic, so without the hint
    /// a caller in another crate (the service is monomorphised there) pays a call for it.
    #[inline]
    pub(super) fn now_nanos(&self) -> u64 {
        match &self.kind {
            Kind::System { clock, epoch } => clock.now().duration_since(*epoch).as_u64() + 1,
            Kind::Tokio { epoch } => {
                u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX) + 1
            }
            Kind::Manual(fake) => fake.now().as_u64() + 1,
        }
    }
}

impl Default for RateLimitClock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for RateLimitClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::System { .. } => "system",
            Kind::Tokio { .. } => "tokio",
            Kind::Manual(_) => "manual",
        };
        f.debug_tuple("RateLimitClock").field(&kind).finish()
    }
}

impl Clock for RateLimitClock {
    type Instant = Nanos;

    #[inline]
    fn now(&self) -> Nanos {
        Nanos::from(self.now_nanos())
    }
}

/// A clock that moves only when [`advanced`](ManualClock::advance); clones share the time.
///
/// ```
/// use std::time::Duration;
/// use platform_core::resilience::rate_limit::{ManualClock, RateLimitConfig, RateLimitLayer};
///
/// let clock = ManualClock::new();
/// let layer = RateLimitLayer::from_config(RateLimitConfig::new(1, Duration::from_secs(1)))
///     .unwrap()
///     .with_clock(clock.clone().into());
/// clock.advance(Duration::from_secs(1));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    fake: FakeRelativeClock,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock (and every clone) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.fake.advance(by);
    }
}

impl From<ManualClock> for RateLimitClock {
    fn from(m: ManualClock) -> Self {
        Self { kind: Kind::Manual(m.fake) }
    }
}
