//! Which instances get traffic: filters, zone preference and the panic threshold.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::{DiscoverConfig, ZonePolicy};
use crate::registry::ServiceInstance;

/// A caller-supplied instance predicate (see
/// [`RegistryDiscover::with_predicate`](super::RegistryDiscover::with_predicate)).
pub(crate) type Predicate = Arc<dyn Fn(&ServiceInstance) -> bool + Send + Sync>;

/// Matches a version against a pattern by dot-separated components: `1.4` matches `1.4`
/// and `1.4.2` but not `1.40.0`; a trailing `.*` is the same as leaving it out.
///
/// ```
/// use platform_core::registry::discover::version_matches;
///
/// assert!(version_matches("1.4", "1.4.2"));
/// assert!(version_matches("1.4.*", "1.4.2"));
/// assert!(version_matches("1.4.2", "1.4.2"));
/// assert!(!version_matches("1.4", "1.40.0"));
/// assert!(!version_matches("1.4.2", "1.4.2-rc.1"));
/// assert!(version_matches("*", "anything"));
/// ```
pub fn version_matches(pattern: &str, version: &str) -> bool {
    let pattern = pattern.strip_suffix(".*").unwrap_or(pattern);
    if pattern == "*" {
        return true;
    }
    let mut have = version.split('.');
    pattern.split('.').all(|want| have.next() == Some(want))
}

/// The compiled filters and threshold of a [`DiscoverConfig`].
#[derive(Clone)]
pub(crate) struct Selector {
    version: Option<String>,
    zone: Option<String>,
    policy: ZonePolicy,
    metadata: BTreeMap<String, String>,
    panic_threshold: f64,
    predicate: Option<Predicate>,
}

/// The result of one selection.
#[derive(Debug, PartialEq)]
pub(crate) struct Selection<'a> {
    /// Instances to route to, in id order.
    pub(crate) targets: Vec<&'a ServiceInstance>,
    /// Instances considered (after filters and zone choice).
    pub(crate) candidates: usize,
    /// Candidates out of rotation (not ready, or ejected).
    pub(crate) out: usize,
    /// `true` when more than the threshold are out, so every candidate is routed.
    pub(crate) panic: bool,
}

impl Selector {
    pub(crate) fn new(config: &DiscoverConfig) -> Self {
        Self {
            version: config.version.clone().filter(|v| v != "*"),
            zone: config.zone.clone(),
            policy: config.zone_policy,
            metadata: config.metadata.clone(),
            panic_threshold: config.panic_threshold,
            predicate: None,
        }
    }

    pub(crate) fn with_predicate(mut self, predicate: Predicate) -> Self {
        self.predicate = Some(predicate);
        self
    }

    /// Whether `instance` passes the version, metadata and predicate filters.
    pub(crate) fn matches(&self, instance: &ServiceInstance) -> bool {
        self.version.as_deref().is_none_or(|v| version_matches(v, &instance.version))
            && self.metadata.iter().all(|(k, v)| instance.metadata.get(k) == Some(v))
            && self.predicate.as_ref().is_none_or(|p| p(instance))
    }

    /// Picks the instances to route to; `is_out` says whether a candidate is out of
    /// rotation (not ready in the registry, or ejected locally).
    pub(crate) fn select<'a>(
        &self,
        instances: &'a [ServiceInstance],
        is_out: impl Fn(&ServiceInstance) -> bool,
    ) -> Selection<'a> {
        let matching: Vec<&ServiceInstance> =
            instances.iter().filter(|i| self.matches(i)).collect();
        let Some(zone) = self.zone.as_deref() else {
            return self.apply_threshold(matching, &is_out);
        };
        let local: Vec<&ServiceInstance> =
            matching.iter().copied().filter(|i| i.zone == zone).collect();
        match self.policy {
            ZonePolicy::Require => self.apply_threshold(local, &is_out),
            ZonePolicy::Prefer => {
                let local = self.apply_threshold(local, &is_out);
                if local.panic || local.targets.is_empty() {
                    self.apply_threshold(matching, &is_out)
                } else {
                    local
                }
            }
        }
    }

    fn apply_threshold<'a>(
        &self,
        candidates: Vec<&'a ServiceInstance>,
        is_out: &impl Fn(&ServiceInstance) -> bool,
    ) -> Selection<'a> {
        let total = candidates.len();
        let out = candidates.iter().filter(|i| is_out(i)).count();
        let panic = out > 0 && out as f64 > self.panic_threshold * total as f64;
        let targets = if panic {
            candidates
        } else {
            candidates.into_iter().filter(|i| !is_out(i)).collect()
        };
        Selection { targets, candidates: total, out, panic }
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector")
            .field("version", &self.version)
            .field("zone", &self.zone)
            .field("policy", &self.policy)
            .field("metadata", &self.metadata)
            .field("panic_threshold", &self.panic_threshold)
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}
