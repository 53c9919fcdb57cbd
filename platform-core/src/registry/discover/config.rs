//! The serde configuration of the discovery adapter.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

/// How [`DiscoverConfig::zone`] is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZonePolicy {
    /// Route to the local zone while it has healthy instances and is not in panic;
    /// otherwise to every zone.
    #[default]
    Prefer,
    /// Route only to the local zone, even when it has no healthy instance.
    Require,
}

/// Which instances of a service the [`RegistryDiscover`](super::RegistryDiscover) adapter
/// routes to.
///
/// ```
/// use platform_core::registry::discover::{DiscoverConfig, ZonePolicy};
///
/// let config: DiscoverConfig = serde_json::from_str(
///     r#"{ "version": "1.4", "zone": "eu-west-1a", "metadata": { "tier": "gold" } }"#,
/// ).unwrap();
/// config.validate().unwrap();
/// assert_eq!(config.zone_policy, ZonePolicy::Prefer);
/// assert_eq!(config.panic_threshold, 0.5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoverConfig {
    /// Version filter: `"1.4.2"` matches exactly that version, `"1.4"` (or `"1.4.*"`)
    /// every `1.4.x`, `"*"` or none every version. Matching is by dot-separated
    /// components, so `"1.4"` does not match `1.40.0`.
    pub version: Option<String>,
    /// The local availability zone (see [`zone_policy`](Self::zone_policy)).
    pub zone: Option<String>,
    /// Whether the zone is preferred (default) or required.
    pub zone_policy: ZonePolicy,
    /// Labels an instance must carry, all of them, with these exact values.
    pub metadata: BTreeMap<String, String>,
    /// The largest share (0.0–1.0) of matching instances that may be out of rotation
    /// (draining, unhealthy or ejected as outliers). When more are out, the adapter
    /// enters **panic mode** and routes to every matching instance. Default 0.5; 1.0
    /// never panics (an all-unhealthy service gets no endpoints); 0.0 ignores health.
    pub panic_threshold: f64,
}

impl Default for DiscoverConfig {
    fn default() -> Self {
        Self {
            version: None,
            zone: None,
            zone_policy: ZonePolicy::Prefer,
            metadata: BTreeMap::new(),
            panic_threshold: 0.5,
        }
    }
}

impl DiscoverConfig {
    /// Keeps only instances of `version` (see [`version`](Self::version)).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the local zone and how it is applied.
    pub fn with_zone(mut self, zone: impl Into<String>, policy: ZonePolicy) -> Self {
        self.zone = Some(zone.into());
        self.zone_policy = policy;
        self
    }

    /// Requires the metadata label `key` = `value`.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the [`panic_threshold`](Self::panic_threshold).
    pub fn with_panic_threshold(mut self, share: f64) -> Self {
        self.panic_threshold = share;
        self
    }

    /// Checks the values.
    ///
    /// # Errors
    /// A [`ConfigError`] for a panic threshold outside 0.0–1.0 or an empty version or
    /// zone string (leave them out instead).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, problem: &str| Err(ConfigError::new("discovery", field, problem));
        if !(0.0..=1.0).contains(&self.panic_threshold) {
            return err("panic_threshold", "must be between 0.0 and 1.0");
        }
        if self.version.as_deref().is_some_and(str::is_empty) {
            return err("version", "must not be empty (leave it out to match every version)");
        }
        if self.zone.as_deref().is_some_and(str::is_empty) {
            return err("zone", "must not be empty (leave it out to use every zone)");
        }
        Ok(())
    }
}
