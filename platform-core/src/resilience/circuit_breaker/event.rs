use std::sync::Arc;
use std::time::Duration;

use crate::resilience::Listeners;

const TARGET: &str = "platform::resilience::circuit_breaker";

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls pass and are counted.
    Closed,
    /// Calls are rejected with [`CircuitOpen`](crate::error::CircuitOpen) until the open
    /// period ends.
    Open,
    /// A fixed number of probe calls pass; their outcome closes or re-opens the breaker.
    HalfOpen,
    /// Opened by hand ([`CircuitBreakerHandle::force_open`](super::CircuitBreakerHandle::force_open));
    /// stays open until reset.
    ForcedOpen,
    /// Disabled by hand ([`CircuitBreakerHandle::force_closed`](super::CircuitBreakerHandle::force_closed)):
    /// every call passes and nothing is counted until reset.
    ForcedClosed,
}

impl CircuitState {
    /// A short lowercase name (`closed`, `open`, `half_open`, `forced_open`, `forced_closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::ForcedClosed => "forced_closed",
        }
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum TransitionReason {
    /// The failure rate reached its threshold.
    FailureRate {
        /// The measured rate (failures / calls).
        rate: f64,
        /// The configured threshold.
        threshold: f64,
        /// Calls in the window when it tripped.
        calls: u64,
    },
    /// The slow-call rate reached its threshold (running calls past the threshold included).
    SlowCallRate {
        /// The measured rate (slow calls / calls).
        rate: f64,
        /// The configured threshold.
        threshold: f64,
        /// Calls in the window when it tripped.
        calls: u64,
    },
    /// This many failures happened in a row.
    ConsecutiveFailures {
        /// The configured limit that was reached.
        threshold: u32,
    },
    /// The open period ended; probes may pass.
    OpenElapsed,
    /// Enough half-open probes succeeded.
    ProbesSucceeded {
        /// How many probes succeeded.
        probes: u32,
    },
    /// A half-open probe failed (or was slow).
    ProbeFailed,
    /// [`force_open`](super::CircuitBreakerHandle::force_open) was called.
    ForcedOpen,
    /// [`force_closed`](super::CircuitBreakerHandle::force_closed) was called.
    ForcedClosed,
    /// [`reset`](super::CircuitBreakerHandle::reset) was called.
    Reset,
}

/// Something a circuit breaker reports to its [`Listeners`] (and as a `tracing` event,
/// target `platform::resilience::circuit_breaker`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CircuitBreakerEvent {
    /// The breaker changed state.
    StateChanged {
        /// The breaker's key, for keyed breakers (its `Debug` form).
        key: Option<Arc<str>>,
        /// The state before.
        from: CircuitState,
        /// The state after.
        to: CircuitState,
        /// Why, with the measured values.
        reason: TransitionReason,
        /// How long the breaker stays open, when `to` is [`CircuitState::Open`].
        open_for: Option<Duration>,
    },
    /// A call was rejected.
    Rejected {
        /// The breaker's key, for keyed breakers.
        key: Option<Arc<str>>,
        /// The state that rejected it.
        state: CircuitState,
        /// The rest of the open period, when known.
        retry_after: Option<Duration>,
    },
    /// Shadow mode: a call that would have been rejected was let through.
    ShadowWouldReject {
        /// The breaker's key, for keyed breakers.
        key: Option<Arc<str>>,
        /// The state that would have rejected it.
        state: CircuitState,
    },
    /// The settings were changed at runtime; state and window were kept.
    Reconfigured {
        /// `true` when the new config asked for a different window shape, which a
        /// running breaker cannot adopt (the old window was kept).
        window_kept: bool,
    },
}

/// Where a breaker's events go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Events {
    pub(crate) listeners: Listeners<CircuitBreakerEvent>,
    pub(crate) key: Option<Arc<str>>,
}

impl Events {
    pub(crate) fn transition(
        &self,
        from: CircuitState,
        to: CircuitState,
        reason: TransitionReason,
        open_for: Option<Duration>,
    ) {
        let key = self.key.as_deref().unwrap_or("");
        let open_ms = open_for.map_or(0, |d| d.as_millis() as u64);
        match reason {
            TransitionReason::FailureRate { rate, threshold, calls }
            | TransitionReason::SlowCallRate { rate, threshold, calls } => {
                tracing::warn!(target: TARGET, key, from = from.as_str(), to = to.as_str(), ?reason, rate, threshold, calls, open_ms, "circuit breaker state change");
            }
            _ => {
                tracing::info!(target: TARGET, key, from = from.as_str(), to = to.as_str(), ?reason, open_ms, "circuit breaker state change");
            }
        }
        if !self.listeners.is_empty() {
            self.listeners.emit(&CircuitBreakerEvent::StateChanged {
                key: self.key.clone(),
                from,
                to,
                reason,
                open_for,
            });
        }
    }

    pub(crate) fn rejected(
        &self,
        state: CircuitState,
        retry_after: Option<Duration>,
        shadow: bool,
    ) {
        let key = self.key.as_deref().unwrap_or("");
        if shadow {
            tracing::debug!(target: TARGET, key, state = state.as_str(), "circuit breaker would reject (shadow mode)");
            if !self.listeners.is_empty() {
                self.listeners
                    .emit(&CircuitBreakerEvent::ShadowWouldReject { key: self.key.clone(), state });
            }
        } else {
            let retry_ms = retry_after.map_or(0, |d| d.as_millis() as u64);
            tracing::debug!(target: TARGET, key, state = state.as_str(), retry_ms, "circuit breaker rejected call");
            if !self.listeners.is_empty() {
                self.listeners.emit(&CircuitBreakerEvent::Rejected {
                    key: self.key.clone(),
                    state,
                    retry_after,
                });
            }
        }
    }

    pub(crate) fn reconfigured(&self, window_kept: bool) {
        if window_kept {
            tracing::warn!(target: TARGET, "circuit breaker reconfigured; the window shape cannot change on a running breaker and was kept");
        } else {
            tracing::info!(target: TARGET, "circuit breaker reconfigured");
        }
        self.listeners.emit(&CircuitBreakerEvent::Reconfigured { window_kept });
    }
}
