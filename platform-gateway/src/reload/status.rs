//! The reload status shown by the admin API, and the reload metrics.

use std::time::{SystemTime, UNIX_EPOCH};

use platform_observe::metrics::{CounterFamily, FamilyLimits, GaugeFamily, MetricsRegistry};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ConfigDiff;
use crate::config::ConfigError;

/// The configuration in force and the outcome of the last reload attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReloadStatus {
    /// Configurations applied so far: 1 for the one the gateway started with, one more
    /// per applied reload.
    pub version: u64,
    /// SHA-256 (hex) of the document in force (`sha256sum` of the file).
    pub hash: String,
    /// Where it came from (`file gateway.toml`, a remote source, `code`).
    pub source: String,
    /// When it was applied, in milliseconds since the Unix epoch.
    pub applied_at_ms: u64,
    /// What the last applied reload changed (empty for the first configuration).
    pub last_diff: ConfigDiff,
    /// Whether the last attempt — apply or refusal — succeeded.
    pub last_attempt_ok: bool,
    /// When the last attempt was made, in milliseconds since the Unix epoch.
    pub last_attempt_at_ms: u64,
    /// Why the last attempt was refused (file, line, route, field), if it was.
    pub last_error: Option<String>,
    /// Where the refused configuration came from.
    pub last_error_source: Option<String>,
    /// Sections changed since start that wait for a restart.
    pub restart_required: Vec<String>,
}

impl ReloadStatus {
    pub(super) fn first(text: &str, source: String) -> Self {
        let now = now_ms();
        Self {
            version: 1,
            hash: sha256_hex(text),
            source,
            applied_at_ms: now,
            last_diff: ConfigDiff::default(),
            last_attempt_ok: true,
            last_attempt_at_ms: now,
            last_error: None,
            last_error_source: None,
            restart_required: Vec::new(),
        }
    }

    pub(super) fn applied(&mut self, text: &str, source: String, diff: &ConfigDiff) {
        let now = now_ms();
        self.version += 1;
        self.hash = sha256_hex(text);
        self.source = source;
        self.applied_at_ms = now;
        self.last_diff = diff.clone();
        self.last_attempt_ok = true;
        self.last_attempt_at_ms = now;
        self.last_error = None;
        self.last_error_source = None;
        for s in &diff.restart_required {
            if !self.restart_required.contains(s) {
                self.restart_required.push(s.clone());
            }
        }
    }

    pub(super) fn refused(&mut self, source: String, error: String) {
        self.last_attempt_ok = false;
        self.last_attempt_at_ms = now_ms();
        self.last_error = Some(error);
        self.last_error_source = Some(source);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `gateway_config_reloads_total{result}` and `gateway_config_version`.
pub(super) struct ReloadMetrics {
    reloads: CounterFamily<1>,
    version: GaugeFamily<0>,
}

impl ReloadMetrics {
    pub(super) fn new(registry: &MetricsRegistry) -> Result<Self, ConfigError> {
        let limits = FamilyLimits { idle_timeout: None, ..FamilyLimits::default() };
        let err = |e: platform_observe::metrics::MetricError| {
            ConfigError::new(format!("cannot register the reload metrics: {e}")).field("metrics")
        };
        let reloads = registry
            .counter(
                "gateway_config_reloads_total",
                "Gateway configuration reloads, by result (applied or refused).",
                ["result"],
                limits.clone(),
            )
            .map_err(err)?;
        let version = registry
            .gauge(
                "gateway_config_version",
                "Version of the gateway configuration in force (1 at start, +1 per applied reload).",
                [],
                limits,
            )
            .map_err(err)?;
        Ok(Self { reloads, version })
    }

    pub(super) fn applied(&self, version: u64) {
        self.version.set([], i64::try_from(version).unwrap_or(i64::MAX));
        if version > 1 {
            self.reloads.inc(["applied"]);
        }
    }

    pub(super) fn refused(&self) {
        self.reloads.inc(["refused"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_of_the_text() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
