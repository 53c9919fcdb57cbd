//! What a probe answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The overall state of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check passed.
    Up,
    /// Only non-critical checks failed: still serving (HTTP 200).
    Degraded,
    /// A critical check failed (HTTP 503).
    Down,
}

/// The result of one check in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// `up` or `down`.
    pub status: Status,
    /// Whether a failure takes the probe down.
    pub critical: bool,
    /// What went wrong, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the check took, in milliseconds.
    pub duration_ms: u64,
    /// `true` when the result came from the cache.
    pub cached: bool,
}

/// The JSON body of `/health/live` and `/health/ready`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The probe's state.
    pub status: Status,
    /// Each check by name.
    pub checks: BTreeMap<String, CheckReport>,
}

impl HealthReport {
    pub(crate) fn from_checks(checks: BTreeMap<String, CheckReport>) -> Self {
        let down = |c: &&CheckReport| c.status == Status::Down;
        let status = if checks.values().filter(down).any(|c| c.critical) {
            Status::Down
        } else if checks.values().any(|c| c.status == Status::Down) {
            Status::Degraded
        } else {
            Status::Up
        };
        Self { status, checks }
    }

    /// 200 unless a critical check failed (503).
    pub fn http_status(&self) -> http::StatusCode {
        if self.status == Status::Down {
            http::StatusCode::SERVICE_UNAVAILABLE
        } else {
            http::StatusCode::OK
        }
    }
}
