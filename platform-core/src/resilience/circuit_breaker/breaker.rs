//! One breaker's state machine: an atomic state word read on every admission, atomic
//! windows written on every finished call, and a mutex taken only to judge a bad outcome
//! or change state.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::config::{CircuitBreakerConfig, WindowConfig};
use super::event::{CircuitState, Events, TransitionReason};
use super::inflight::InFlight;
use super::judge;
use super::state::{CLOSED, Decision, FORCED_CLOSED, FORCED_OPEN, HALF_OPEN, OPEN, Track, Word};
use super::window::{CountWindow, Sample, TimeWindow, Window};

/// A state change to report once the lock is released.
type Report = Option<(CircuitState, CircuitState, TransitionReason, Option<Duration>)>;

#[derive(Debug)]
pub(crate) struct Breaker {
    epoch: Instant,
    word: AtomicU64,
    open_until: AtomicU64,
    trips: AtomicU32,
    consecutive: AtomicU32,
    probe_successes: AtomicU32,
    window: Window,
    inflight: InFlight,
    /// The slow-call duration in nanoseconds when the slow-call trigger is on, else 0.
    slow_nanos: AtomicU64,
    probe_limit: AtomicU32,
    shadow: AtomicBool,
    cfg: Mutex<CircuitBreakerConfig>,
    pub(crate) events: Events,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn slow_setting(cfg: &CircuitBreakerConfig) -> u64 {
    if cfg.slow_call_rate_threshold.is_some() { nanos(cfg.slow_call_duration).max(1) } else { 0 }
}

fn same_window(window: &Window, cfg: &WindowConfig) -> bool {
    match (window, *cfg) {
        (Window::Count(w), WindowConfig::Count { size }) => w.size() == size as usize,
        (Window::Time(w), WindowConfig::Time { duration, buckets }) => {
            w.geometry() == (buckets as usize, nanos(duration) / u64::from(buckets))
        }
        _ => false,
    }
}

impl Breaker {
    /// A closed breaker; `cfg` must be valid.
    pub(crate) fn new(cfg: &CircuitBreakerConfig, events: Events) -> Self {
        let window = match cfg.window {
            WindowConfig::Count { size } => Window::Count(CountWindow::new(size as usize)),
            WindowConfig::Time { duration, buckets } => Window::Time(TimeWindow::new(
                buckets as usize,
                nanos(duration) / u64::from(buckets),
            )),
        };
        Self {
            epoch: Instant::now(),
            word: AtomicU64::new(Word::new(0, 0, CLOSED).0),
            open_until: AtomicU64::new(0),
            trips: AtomicU32::new(0),
            consecutive: AtomicU32::new(0),
            probe_successes: AtomicU32::new(0),
            window,
            inflight: InFlight::default(),
            slow_nanos: AtomicU64::new(slow_setting(cfg)),
            probe_limit: AtomicU32::new(cfg.half_open_probes),
            shadow: AtomicBool::new(cfg.mode.is_shadow()),
            cfg: Mutex::new(cfg.clone()),
            events,
        }
    }

    #[inline]
    fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.epoch))
    }

    fn lock(&self) -> MutexGuard<'_, CircuitBreakerConfig> {
        self.cfg.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    pub(crate) fn state(&self) -> CircuitState {
        self.load().state()
    }

    /// Decides whether a call may pass. Lock-free unless the open period just ended.
    #[inline]
    pub(crate) fn admit(&self) -> Decision {
        let w = self.load();
        if w.code() == CLOSED { Decision::Closed } else { self.admit_slow(w) }
    }

    fn admit_slow(&self, mut w: Word) -> Decision {
        loop {
            match w.code() {
                CLOSED => return Decision::Closed,
                FORCED_CLOSED => return Decision::Pass,
                FORCED_OPEN => return self.reject(CircuitState::ForcedOpen, None),
                OPEN => {
                    let now = self.now();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return self
                            .reject(CircuitState::Open, Some(Duration::from_nanos(until - now)));
                    }
                    self.half_open(w, now);
                }
                _ => {
                    if w.probes() >= u64::from(self.probe_limit.load(Ordering::Acquire)) {
                        return self.reject(CircuitState::HalfOpen, None);
                    }
                    let taken = w.with_probes(w.probes() + 1);
                    if self
                        .word
                        .compare_exchange(w.0, taken.0, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Decision::Probe(w.generation());
                    }
                }
            }
            w = self.load();
        }
    }

    fn reject(&self, state: CircuitState, retry_after: Option<Duration>) -> Decision {
        let shadow = self.shadow.load(Ordering::Relaxed);
        self.events.rejected(state, retry_after, shadow);
        if shadow { Decision::Pass } else { Decision::Reject(retry_after) }
    }

    /// Starts tracking an admitted call.
    #[inline]
    pub(crate) fn start(&self, decision: Decision) -> Option<Track> {
        match decision {
            Decision::Closed => {
                let slow = self.slow_nanos.load(Ordering::Relaxed);
                if slow == 0 {
                    let start = self.window.needs_clock().then(|| self.now());
                    return Some(Track::Closed { start, ticket: None });
                }
                let now = self.now();
                let entered = self.inflight.enter(now / 1_000_000, slow / 1_000_000);
                if entered.new_group {
                    // About four times per slow threshold: judge running calls too, so a
                    // service that stopped answering opens the breaker before calls finish.
                    self.judge(now);
                }
                Some(Track::Closed { start: Some(now), ticket: Some(entered.ticket) })
            }
            Decision::Probe(generation) => Some(Track::Probe { start: self.now(), generation }),
            Decision::Pass | Decision::Reject(_) => None,
        }
    }

    /// A probe finished or was dropped: its permit is free again, whatever state the
    /// breaker is in now.
    pub(crate) fn release_probe(&self) {
        let mut w = self.load();
        while w.probes() > 0 {
            let back = w.with_probes(w.probes() - 1);
            match self.word.compare_exchange(w.0, back.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(cur) => w = Word(cur),
            }
        }
    }

    /// The call was dropped before it finished: forget it.
    pub(crate) fn abandon(&self, track: Track) {
        match track {
            Track::Closed { ticket, .. } => {
                if let Some(t) = ticket {
                    self.inflight.leave(t);
                }
            }
            Track::Probe { .. } => self.release_probe(),
        }
    }

    /// Whether a closed-state call needs nothing tracked while it runs: a count window and
    /// no slow-call trigger mean no clock read and no in-flight ticket, so the call's
    /// future needs only the breaker to record its outcome ([`finish_plain`](Self::finish_plain)).
    #[inline]
    pub(crate) fn closed_is_plain(&self) -> bool {
        !self.window.needs_clock() && self.slow_nanos.load(Ordering::Relaxed) == 0
    }

    /// A closed-state call admitted while [`closed_is_plain`](Self::closed_is_plain) held
    /// finished with `failure` (`None`: a local rejection, not counted). Same as
    /// [`finish`](Self::finish) of a `Track::Closed` without start time or ticket.
    #[inline]
    pub(crate) fn finish_plain(&self, failure: Option<bool>) {
        self.finish_closed(None, failure);
    }

    #[inline]
    fn finish_closed(&self, start: Option<u64>, failure: Option<bool>) {
        let Some(failure) = failure else { return };
        if self.load().code() != CLOSED {
            return; // finished after the breaker left the closed state it was admitted in
        }
        if failure || start.is_some() {
            return self.finish_closed_judged(start, failure);
        }
        // A success of a plain call: no clock, nothing to judge.
        self.window.record(0, Sample { failure: false, slow: false });
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Release);
        }
    }

    /// The rest of [`finish_closed`](Self::finish_closed): a failure, or a call whose
    /// duration matters.
    #[inline(never)]
    fn finish_closed_judged(&self, start: Option<u64>, failure: bool) {
        let now = if start.is_some() { self.now() } else { 0 };
        let slow_nanos = self.slow_nanos.load(Ordering::Relaxed);
        let slow = slow_nanos != 0 && start.is_some_and(|s| now.saturating_sub(s) > slow_nanos);
        self.window.record(now, Sample { failure, slow });
        if failure {
            self.consecutive.fetch_add(1, Ordering::AcqRel);
        } else if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Release);
        }
        if failure || slow {
            self.judge(now);
        }
    }

    /// The call finished with `failure` (`None`: a local rejection, not counted).
    #[inline]
    pub(crate) fn finish(&self, track: Track, failure: Option<bool>) {
        match track {
            Track::Closed { start, ticket } => {
                if let Some(t) = ticket {
                    self.inflight.leave(t);
                }
                self.finish_closed(start, failure);
            }
            Track::Probe { start, generation } => {
                self.release_probe();
                if let Some(failure) = failure {
                    self.finish_probe(start, generation, failure);
                }
            }
        }
    }

    fn finish_probe(&self, start: u64, generation: u64, failure: bool) {
        let now = self.now();
        let slow_nanos = self.slow_nanos.load(Ordering::Relaxed);
        let failed = failure || (slow_nanos != 0 && now.saturating_sub(start) > slow_nanos);
        let report = {
            let cfg = self.lock();
            let w = self.load();
            if w.code() != HALF_OPEN || w.generation() != generation {
                return;
            }
            if failed {
                self.open(&cfg, w, now, TransitionReason::ProbeFailed)
            } else {
                let probes = self.probe_successes.fetch_add(1, Ordering::AcqRel) + 1;
                if probes >= cfg.half_open_probes {
                    self.trips.store(0, Ordering::Release);
                    self.set(CLOSED);
                    Some((
                        w.state(),
                        CircuitState::Closed,
                        TransitionReason::ProbesSucceeded { probes },
                        None,
                    ))
                } else {
                    None
                }
            }
        };
        self.report(report);
    }

    /// Judges the closed window (and running slow calls) against the thresholds.
    fn judge(&self, now: u64) {
        let report = {
            let cfg = self.lock();
            let w = self.load();
            if w.code() != CLOSED {
                return;
            }
            self.trip_reason(&cfg, now).and_then(|reason| self.open(&cfg, w, now, reason))
        };
        self.report(report);
    }

    fn trip_reason(&self, cfg: &CircuitBreakerConfig, now: u64) -> Option<TransitionReason> {
        let mut totals = self.window.totals(now);
        if cfg.slow_call_rate_threshold.is_some() {
            let slow_ms = nanos(cfg.slow_call_duration) / 1_000_000;
            let running = self.inflight.slow(now / 1_000_000, slow_ms);
            totals.calls += running;
            totals.slow += running;
        }
        judge::trip_reason(cfg, totals, self.consecutive.load(Ordering::Acquire))
    }

    /// Opens the breaker (lock held); the open duration grows with every trip since the
    /// last successful close.
    fn open(
        &self,
        cfg: &CircuitBreakerConfig,
        w: Word,
        now: u64,
        reason: TransitionReason,
    ) -> Report {
        let trips = self.trips.load(Ordering::Acquire);
        let open_for = cfg.open_duration_after(trips);
        self.trips.store(trips.saturating_add(1), Ordering::Release);
        self.open_until.store(now.saturating_add(nanos(open_for)), Ordering::Release);
        self.set(OPEN);
        Some((w.state(), CircuitState::Open, reason, Some(open_for)))
    }

    fn half_open(&self, seen: Word, now: u64) {
        let report = {
            let _cfg = self.lock();
            let w = self.load();
            if w != seen || now < self.open_until.load(Ordering::Acquire) {
                return; // another caller moved it on already
            }
            self.probe_successes.store(0, Ordering::Release);
            self.set(HALF_OPEN);
            Some((CircuitState::Open, CircuitState::HalfOpen, TransitionReason::OpenElapsed, None))
        };
        self.report(report);
    }

    /// Moves to state `code` with a new generation (lock held), keeping the count of
    /// running probes; every state starts with a fresh window.
    fn set(&self, code: u64) {
        self.window.clear();
        self.consecutive.store(0, Ordering::Release);
        let mut w = self.load();
        loop {
            let next = Word::new(w.generation() + 1, w.probes(), code);
            match self.word.compare_exchange(w.0, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(cur) => w = Word(cur),
            }
        }
    }

    fn report(&self, report: Report) {
        if let Some((from, to, reason, open_for)) = report {
            self.events.transition(from, to, reason, open_for);
        }
    }

    /// Manual control: `code` is the target state.
    fn force(&self, code: u64, reason: TransitionReason) {
        let report = {
            let _cfg = self.lock();
            let w = self.load();
            if code == CLOSED {
                self.trips.store(0, Ordering::Release);
            }
            self.set(code);
            Some((w.state(), Word::new(0, 0, code).state(), reason, None))
        };
        self.report(report);
    }

    pub(crate) fn force_open(&self) {
        self.force(FORCED_OPEN, TransitionReason::ForcedOpen);
    }

    pub(crate) fn force_closed(&self) {
        self.force(FORCED_CLOSED, TransitionReason::ForcedClosed);
    }

    pub(crate) fn reset(&self) {
        self.force(CLOSED, TransitionReason::Reset);
    }

    /// Applies new settings (already validated), keeping state, window and permits.
    pub(crate) fn reconfigure(&self, new: &CircuitBreakerConfig) -> bool {
        let mut cfg = self.lock();
        let window_kept = !same_window(&self.window, &new.window);
        let window = cfg.window;
        *cfg = new.clone();
        cfg.window = window;
        self.slow_nanos.store(slow_setting(new), Ordering::Relaxed);
        self.shadow.store(new.mode.is_shadow(), Ordering::Relaxed);
        self.probe_limit.store(new.half_open_probes, Ordering::Release);
        window_kept
    }

    /// The settings in force (with the window shape the breaker was built with).
    pub(crate) fn config(&self) -> CircuitBreakerConfig {
        self.lock().clone()
    }

    /// Rest of the open period, when open.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        if self.load().code() != OPEN {
            return None;
        }
        let until = self.open_until.load(Ordering::Acquire);
        Some(Duration::from_nanos(until.saturating_sub(self.now())))
    }
}
