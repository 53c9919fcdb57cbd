//! The limit algorithm, free of I/O and atomics so it can be tested on its own.

use std::time::Duration;

use tokio::time::Instant;

use super::AdaptiveConcurrencyConfig;

/// Why the limit changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitReason {
    /// Slow start doubled the limit after a window with no latency rise.
    SlowStart,
    /// The RTT gradient (long-term over short-term RTT) moved the limit.
    Gradient,
    /// A min-RTT probe began: the limit dropped to `min_limit`.
    ProbeStarted,
    /// A min-RTT probe ended: the limit was restored.
    ProbeFinished,
    /// The configuration changed (the limit was clamped to new bounds).
    Reconfigured,
}

impl LimitReason {
    /// Short lowercase name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SlowStart => "slow_start",
            Self::Gradient => "gradient",
            Self::ProbeStarted => "probe_started",
            Self::ProbeFinished => "probe_finished",
            Self::Reconfigured => "reconfigured",
        }
    }
}

/// The result of closing a sample window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Update {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) reason: LimitReason,
    pub(super) short_rtt: Duration,
    pub(super) long_rtt: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    SlowStart,
    Steady,
    Probing { restore: f64, since: Instant },
}

#[derive(Debug)]
pub(super) struct Limiter {
    cfg: AdaptiveConcurrencyConfig,
    limit: f64,
    phase: Phase,
    /// Long-term RTT (seconds), an exponential moving average over windows.
    long_rtt: Option<f64>,
    window_start: Instant,
    window_sum: f64,
    window_count: usize,
    window_max_in_flight: usize,
    next_probe: Option<Instant>,
    rng: fastrand::Rng,
}

impl Limiter {
    pub(super) fn new(cfg: AdaptiveConcurrencyConfig, now: Instant, seed: u64) -> Self {
        let mut l = Self {
            limit: cfg.initial_limit as f64,
            phase: if cfg.slow_start { Phase::SlowStart } else { Phase::Steady },
            long_rtt: None,
            window_start: now,
            window_sum: 0.0,
            window_count: 0,
            window_max_in_flight: 0,
            next_probe: None,
            rng: fastrand::Rng::with_seed(seed),
            cfg,
        };
        l.schedule_probe(now);
        l
    }

    /// The limit to enforce now.
    pub(super) fn limit(&self) -> usize {
        (self.limit.round() as usize).clamp(self.cfg.min_limit, self.cfg.max_limit)
    }

    pub(super) fn config(&self) -> &AdaptiveConcurrencyConfig {
        &self.cfg
    }

    /// The long-term RTT estimate, once there is one.
    pub(super) fn long_rtt(&self) -> Option<Duration> {
        self.long_rtt.map(Duration::from_secs_f64)
    }

    /// When the next min-RTT probe is due.
    pub(super) fn next_probe(&self) -> Option<Instant> {
        self.next_probe
    }

    pub(super) fn is_probing(&self) -> bool {
        matches!(self.phase, Phase::Probing { .. })
    }

    /// Applies a new config: bounds clamp the current limit, the probe is rescheduled if
    /// its interval changed; RTT estimates and the window survive.
    pub(super) fn reconfigure(&mut self, cfg: AdaptiveConcurrencyConfig, now: Instant) {
        let reschedule = cfg.probe_interval != self.cfg.probe_interval
            || cfg.probe_jitter != self.cfg.probe_jitter;
        if !cfg.slow_start && self.phase == Phase::SlowStart {
            self.phase = Phase::Steady;
        }
        self.cfg = cfg;
        self.limit = self.limit.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
        if reschedule {
            self.schedule_probe(now);
        }
    }

    fn schedule_probe(&mut self, now: Instant) {
        self.next_probe = self.cfg.probe_interval.map(|every| {
            let spread = self.cfg.probe_jitter * (2.0 * self.rng.f64() - 1.0);
            now + every.mul_f64(1.0 + spread)
        });
    }

    /// Whether a finished call's RTT is a sample. Successes are; failures only when they
    /// took at least the long-term RTT (timeouts and slow errors signal overload, fast
    /// failures say nothing about queueing); rejections never.
    pub(super) fn counts(&self, success: bool, rtt: Duration) -> bool {
        success || self.long_rtt.is_some_and(|long| rtt.as_secs_f64() >= long)
    }

    /// Adds one RTT sample of a call that started at `started` while `in_flight` calls
    /// (itself included) were running. Returns an update when a window closed.
    pub(super) fn on_sample(
        &mut self,
        now: Instant,
        started: Instant,
        rtt: Duration,
        in_flight: usize,
    ) -> Option<Update> {
        if let Phase::Probing { since, .. } = self.phase
            && started < since
        {
            // Admitted before the probe, at the old concurrency: says nothing about no-load RTT.
            return None;
        }
        self.window_sum += rtt.as_secs_f64();
        self.window_count += 1;
        self.window_max_in_flight = self.window_max_in_flight.max(in_flight);
        if now.saturating_duration_since(self.window_start) < self.cfg.window
            || self.window_count < self.cfg.window_min_samples
        {
            return None;
        }
        let short = self.window_sum / self.window_count as f64;
        let max_in_flight = self.window_max_in_flight;
        self.window_start = now;
        self.window_sum = 0.0;
        self.window_count = 0;
        self.window_max_in_flight = 0;
        let from = self.limit();
        let reason = self.close_window(now, short, max_in_flight);
        Some(Update {
            from,
            to: self.limit(),
            reason,
            short_rtt: Duration::from_secs_f64(short),
            long_rtt: Duration::from_secs_f64(self.long_rtt.unwrap_or(short)),
        })
    }

    fn close_window(&mut self, now: Instant, short: f64, max_in_flight: usize) -> LimitReason {
        if let Phase::Probing { restore, .. } = self.phase {
            // The probe window ran at minimum concurrency: its RTT is the no-load RTT.
            self.long_rtt = Some(short);
            self.limit = restore;
            self.phase = Phase::Steady;
            self.schedule_probe(now);
            return LimitReason::ProbeFinished;
        }
        let long = self.update_long_rtt(short);
        // Below half the limit the service is not limited by us: no evidence to grow on.
        let app_limited = (max_in_flight as f64) * 2.0 < self.limit;
        let gradient = (self.cfg.tolerance * long / short).clamp(0.5, 1.0);
        let mut reason = LimitReason::Gradient;
        let mut grown = false;
        if self.phase == Phase::SlowStart {
            if gradient < 1.0 || self.limit >= self.cfg.max_limit as f64 {
                self.phase = Phase::Steady;
            } else {
                if !app_limited {
                    self.limit *= 2.0;
                }
                reason = LimitReason::SlowStart;
                grown = true;
            }
        }
        // Nothing to learn from a good window in which the limit was not reached.
        let hold = grown || (gradient >= 1.0 && app_limited);
        if !hold {
            let estimate = self.limit * gradient + self.limit.sqrt();
            self.limit = self.limit * (1.0 - self.cfg.smoothing) + estimate * self.cfg.smoothing;
        }
        self.limit = self.limit.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
        if self.next_probe.is_some_and(|at| now >= at) {
            self.phase = Phase::Probing { restore: self.limit, since: now };
            self.limit = self.cfg.min_limit as f64;
            self.next_probe = None;
            return LimitReason::ProbeStarted;
        }
        reason
    }

    fn update_long_rtt(&mut self, short: f64) -> f64 {
        let long = match self.long_rtt {
            None => short,
            Some(long) => {
                let mut long = long + (short - long) / self.cfg.long_window as f64;
                // After a latency spike the average is far above current RTTs: let it
                // fall faster so the limit can recover.
                if long > 2.0 * short {
                    long *= 0.95;
                }
                long
            }
        };
        self.long_rtt = Some(long);
        long
    }
}
