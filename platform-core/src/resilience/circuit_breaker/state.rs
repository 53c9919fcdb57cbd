//! The breaker's atomic state word and the per-call decision types.

use std::time::Duration;

use super::event::CircuitState;
use super::inflight::Ticket;

pub(super) const CLOSED: u64 = 0;
pub(super) const OPEN: u64 = 1;
pub(super) const HALF_OPEN: u64 = 2;
pub(super) const FORCED_OPEN: u64 = 3;
pub(super) const FORCED_CLOSED: u64 = 4;

/// The state word: generation (bumped by every transition) << 24 | probes running << 8 |
/// state code. The running-probe count lives in the same word as the state, survives
/// transitions, and is only raised by a compare-and-swap that sees a half-open state with
/// fewer than `half_open_probes` running — so no more probes than that ever run at once,
/// even when a probe of an earlier half-open period is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

impl Word {
    pub(super) fn new(generation: u64, probes: u64, code: u64) -> Self {
        Self(((generation & 0xFFFF_FFFF) << 24) | ((probes & 0xFFFF) << 8) | code)
    }
    pub(super) fn generation(self) -> u64 {
        self.0 >> 24
    }
    pub(super) fn probes(self) -> u64 {
        (self.0 >> 8) & 0xFFFF
    }
    pub(super) fn code(self) -> u64 {
        self.0 & 0xFF
    }
    pub(super) fn with_probes(self, probes: u64) -> Self {
        Self::new(self.generation(), probes, self.code())
    }
    pub(super) fn state(self) -> CircuitState {
        match self.code() {
            CLOSED => CircuitState::Closed,
            OPEN => CircuitState::Open,
            HALF_OPEN => CircuitState::HalfOpen,
            FORCED_OPEN => CircuitState::ForcedOpen,
            _ => CircuitState::ForcedClosed,
        }
    }
}

/// The decision for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Closed: pass and count.
    Closed,
    /// Half-open: a probe permit of this generation was taken.
    Probe(u64),
    /// Pass without counting (forced closed, or shadow mode overriding a rejection).
    Pass,
    /// Reject with this retry hint.
    Reject(Option<Duration>),
}

/// How a running call is tracked until it finishes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Track {
    Closed { start: Option<u64>, ticket: Option<Ticket> },
    Probe { start: u64, generation: u64 },
}
