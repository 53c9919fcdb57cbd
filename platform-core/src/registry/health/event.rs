//! Events of health checking, also logged as `tracing` events (target
//! `platform::registry::health`).

use std::fmt;
use std::time::Duration;

/// A state change of an [`OutlierDetector`](super::OutlierDetector).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutlierEvent {
    /// An endpoint failed too often in a row and is out of rotation for `duration`.
    Ejected {
        /// The service.
        service: String,
        /// The instance id.
        id: String,
        /// Consecutive failures seen.
        consecutive_failures: u32,
        /// The last failure, when it was an error (responses classified as failures
        /// carry no text).
        last_error: Option<String>,
        /// How long the ejection lasts.
        duration: Duration,
        /// Ejections of this endpoint in a row (1 for the first), which sets `duration`.
        ejections: u32,
    },
    /// An ejection ran out; the endpoint takes traffic again.
    Readmitted {
        /// The service.
        service: String,
        /// The instance id.
        id: String,
    },
    /// An endpoint crossed the failure threshold but was kept because ejecting it would
    /// put more than `max_ejected_share` of the endpoints out.
    EjectionCapped {
        /// The service.
        service: String,
        /// The instance id.
        id: String,
        /// Endpoints already ejected.
        ejected: usize,
        /// Endpoints tracked.
        hosts: usize,
    },
}

/// Why an active probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The HTTP probe got a status outside the expected range.
    Status(u16),
    /// No answer within the probe timeout.
    Timeout,
    /// The TCP connection could not be opened.
    Connect(String),
    /// The connection opened but the HTTP exchange failed.
    Http(String),
    /// The instance's host is not something a probe can reach (e.g. an `https` scheme
    /// for an HTTP probe).
    Unsupported(String),
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "unexpected status {code}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Connect(e) => write!(f, "connect failed: {e}"),
            Self::Http(e) => write!(f, "HTTP exchange failed: {e}"),
            Self::Unsupported(e) => write!(f, "cannot probe: {e}"),
        }
    }
}

/// A health transition decided by a [`HealthProber`](super::HealthProber).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeEvent {
    /// `healthy_after` probes in a row passed; the instance was marked ready.
    Healthy {
        /// The service.
        service: String,
        /// The instance id.
        id: String,
        /// Consecutive successes seen.
        successes: u32,
    },
    /// `unhealthy_after` probes in a row failed; the instance was marked unhealthy.
    Unhealthy {
        /// The service.
        service: String,
        /// The instance id.
        id: String,
        /// Consecutive failures seen.
        failures: u32,
        /// Why the last probe failed.
        reason: ProbeFailure,
    },
}
