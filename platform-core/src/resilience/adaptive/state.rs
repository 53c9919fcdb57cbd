//! Shared state: the permit count, the enforced limit and the limiter behind a lock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::limiter::{LimitReason, Limiter, Update};
use super::{AdaptiveConcurrencyConfig, AdaptiveEvent};
use crate::classify::Outcome;
use crate::resilience::Listeners;

pub(super) const TARGET: &str = "platform::resilience::adaptive";

#[derive(Debug)]
pub(super) struct Shared {
    in_flight: AtomicUsize,
    limit: AtomicUsize,
    shadow: AtomicBool,
    pub(super) notify: Arc<Notify>,
    limiter: Mutex<Limiter>,
    pub(super) seed: u64,
    pub(super) listeners: Listeners<AdaptiveEvent>,
}

impl Shared {
    pub(super) fn new(
        cfg: AdaptiveConcurrencyConfig,
        seed: u64,
        listeners: Listeners<AdaptiveEvent>,
    ) -> Self {
        let shadow = cfg.mode.is_shadow();
        let limiter = Limiter::new(cfg, Instant::now(), seed);
        Self {
            in_flight: AtomicUsize::new(0),
            limit: AtomicUsize::new(limiter.limit()),
            shadow: AtomicBool::new(shadow),
            notify: Arc::new(Notify::new()),
            limiter: Mutex::new(limiter),
            seed,
            listeners,
        }
    }

    fn limiter(&self) -> MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(super) fn config_snapshot(&self) -> (AdaptiveConcurrencyConfig, Option<Duration>) {
        let l = self.limiter();
        (l.config().clone(), l.long_rtt())
    }

    pub(super) fn next_probe(&self) -> Option<Instant> {
        self.limiter().next_probe()
    }

    pub(super) fn is_probing(&self) -> bool {
        self.limiter().is_probing()
    }

    /// Takes a permit if one is free and returns the calls now in flight; in shadow mode
    /// always takes one and reports when the limit is exceeded.
    pub(super) fn try_acquire(&self) -> Option<usize> {
        if self.shadow.load(Ordering::Relaxed) {
            let now = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
            let limit = self.limit();
            if now > limit {
                tracing::debug!(target: TARGET, in_flight = now, limit, "over the concurrency limit (shadow)");
                if !self.listeners.is_empty() {
                    self.listeners.emit(&AdaptiveEvent::ShadowOverLimit { in_flight: now, limit });
                }
            }
            return Some(now);
        }
        let mut current = self.in_flight.load(Ordering::Acquire);
        loop {
            if current >= self.limit() {
                return None;
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(current + 1),
                Err(seen) => current = seen,
            }
        }
    }

    /// Gives a permit back. `sample` is the call's start, outcome and the in-flight count
    /// when it was admitted; `None` for calls that never produced an outcome (dropped).
    pub(super) fn release(&self, sample: Option<(Instant, Outcome, usize)>) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        let update = sample.and_then(|(started, outcome, in_flight)| {
            if outcome.is_rejected() {
                return None;
            }
            let now = Instant::now();
            let rtt = now.saturating_duration_since(started);
            let mut limiter = self.limiter();
            if !limiter.counts(outcome.is_success(), rtt) {
                return None;
            }
            let update = limiter.on_sample(now, started, rtt, in_flight)?;
            self.limit.store(update.to, Ordering::Release);
            Some(update)
        });
        self.notify.notify_one();
        if let Some(update) = update {
            self.report(update);
        }
    }

    pub(super) fn reconfigure(&self, cfg: AdaptiveConcurrencyConfig) {
        self.shadow.store(cfg.mode.is_shadow(), Ordering::Relaxed);
        let (from, to) = {
            let mut limiter = self.limiter();
            let from = limiter.limit();
            limiter.reconfigure(cfg.clone(), Instant::now());
            let to = limiter.limit();
            self.limit.store(to, Ordering::Release);
            (from, to)
        };
        tracing::info!(target: TARGET, config = ?cfg, "adaptive concurrency reconfigured");
        self.listeners.emit(&AdaptiveEvent::Reconfigured { config: cfg });
        if from != to {
            self.limit_changed(from, to, LimitReason::Reconfigured, None);
        }
        // Leaving enforce mode or raising the limit may free waiters.
        self.notify.notify_waiters();
    }

    fn report(&self, u: Update) {
        match u.reason {
            LimitReason::ProbeStarted => {
                tracing::debug!(target: TARGET, restore_to = u.from, "min-RTT probe started");
                self.listeners.emit(&AdaptiveEvent::ProbeStarted { restore_to: u.from });
            }
            LimitReason::ProbeFinished => {
                tracing::debug!(target: TARGET, min_rtt_us = u.short_rtt.as_micros() as u64, "min-RTT probe finished");
                self.listeners.emit(&AdaptiveEvent::ProbeFinished { min_rtt: u.short_rtt });
            }
            _ => {}
        }
        if u.from != u.to {
            self.limit_changed(u.from, u.to, u.reason, Some((u.short_rtt, u.long_rtt)));
            if u.to > u.from {
                self.notify.notify_waiters();
            }
        }
    }

    fn limit_changed(
        &self,
        from: usize,
        to: usize,
        reason: LimitReason,
        rtts: Option<(Duration, Duration)>,
    ) {
        let (short_rtt, long_rtt) = rtts.unzip();
        tracing::debug!(
            target: TARGET,
            from,
            to,
            reason = reason.as_str(),
            short_rtt_us = short_rtt.map(|d| d.as_micros() as u64),
            long_rtt_us = long_rtt.map(|d| d.as_micros() as u64),
            "concurrency limit changed",
        );
        if !self.listeners.is_empty() {
            self.listeners.emit(&AdaptiveEvent::LimitChanged {
                from,
                to,
                reason,
                short_rtt,
                long_rtt,
            });
        }
    }
}
