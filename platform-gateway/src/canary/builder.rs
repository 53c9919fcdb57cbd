//! [`CanaryBuilder`].

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderName;
use tokio::sync::oneshot;

use super::cohort::Overrides;
use super::controller::{self, Local};
use super::plan::{AnalysisConfig, RolloutPlan};
use super::split::{self, Split};
use super::stats::{LiveStats, LiveWindow};
use super::{Canary, CanaryError, Clock, CohortKey, Inner, Rollouts};
use crate::balance::hash_key;
use crate::upstream::Upstream;

/// Builds a [`Canary`]; invalid settings are reported by [`build`](Self::build), naming
/// the canary and the setting.
#[derive(Debug)]
#[must_use]
pub struct CanaryBuilder {
    name: String,
    stable: Option<Upstream>,
    candidates: Vec<Upstream>,
    weight: f64,
    cohort: Vec<CohortKey>,
    overrides: Overrides,
    salt: Option<String>,
    plan: Option<RolloutPlan>,
    analysis: AnalysisConfig,
    rollouts: Option<Rollouts>,
    error: Option<(String, String)>,
}

impl CanaryBuilder {
    pub(super) fn new(name: String) -> Self {
        Self {
            name,
            stable: None,
            candidates: Vec::new(),
            weight: 0.0,
            cohort: Vec::new(),
            overrides: Overrides::default(),
            salt: None,
            plan: None,
            analysis: AnalysisConfig::default(),
            rollouts: None,
            error: None,
        }
    }

    /// The stable version: it serves whatever the candidates do not.
    pub fn stable(mut self, upstream: Upstream) -> Self {
        self.stable = Some(upstream);
        self
    }

    /// Adds a candidate version. With `n` candidates each can take at most `100/n` %.
    pub fn candidate(mut self, upstream: Upstream) -> Self {
        self.candidates.push(upstream);
        self
    }

    /// Each candidate's weight in percent when there is no plan (default 0).
    pub fn weight(mut self, percent: f64) -> Self {
        self.weight = percent;
        self
    }

    /// Adds a cohort key; several are tried in the order added.
    pub fn cohort(mut self, key: CohortKey) -> Self {
        self.cohort.push(key);
        self
    }

    /// Requests whose header `name` holds a version's name go to that version.
    pub fn override_header(mut self, name: &str) -> Self {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(h) => self.overrides.header = Some(h),
            Err(_) => {
                self.error.get_or_insert((
                    "override_header".into(),
                    format!("{name:?} is not a valid header name"),
                ));
            }
        }
        self
    }

    /// Requests whose cookie `name` holds a version's name go to that version.
    pub fn override_cookie(mut self, name: impl Into<String>) -> Self {
        self.overrides.cookie = Some(name.into());
        self
    }

    /// Hashes cohort keys with this salt instead of the canary's name (two canaries with
    /// one salt put a user in the same bucket).
    pub fn salt(mut self, salt: impl Into<String>) -> Self {
        self.salt = Some(salt.into());
        self
    }

    /// Runs this rollout plan (without one, the weights stay fixed).
    pub fn plan(mut self, plan: RolloutPlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Judges steps with these settings.
    pub fn analysis(mut self, config: AnalysisConfig) -> Self {
        self.analysis = config;
        self
    }

    /// Saves state to, and is listed in, `rollouts` (default: a private in-memory
    /// store, not listed anywhere).
    pub fn rollouts(mut self, rollouts: &Rollouts) -> Self {
        self.rollouts = Some(rollouts.clone());
        self
    }

    /// Checks the settings, loads (or starts) the rollout and returns the canary.
    ///
    /// # Errors
    /// [`CanaryError::Config`] naming the first invalid setting;
    /// [`CanaryError::Store`] or [`CanaryError::Corrupt`] when the state cannot be
    /// loaded or saved.
    pub async fn build(self) -> Result<Canary, CanaryError> {
        let name = self.name.as_str();
        let fail = |(field, reason): (String, String)| CanaryError::config(name, field, reason);
        if let Some(e) = self.error {
            return Err(fail(e));
        }
        let Some(stable) = self.stable else {
            return Err(fail(("stable".into(), "is missing; name the stable version".into())));
        };
        let mut versions = vec![stable];
        versions.extend(self.candidates);
        let names: Vec<String> = versions.iter().map(|u| u.name().to_owned()).collect();
        check(name, &names, self.weight, self.plan.as_ref(), &self.analysis).map_err(fail)?;
        let candidates = names.len() - 1;
        let weight = split::percent_to_bp(self.weight).unwrap_or(0);
        let rollouts = self.rollouts.unwrap_or_default();
        let (stop, stopped) = oneshot::channel();
        let has_plan = self.plan.is_some();
        // Rebuilt with the same versions (a config reload): carry on with the live
        // measurements, weights and known state of the canary it replaces.
        let previous = rollouts.get(name).filter(|c| c.inner.names == names && has_plan);
        let (window, totals, split, local) = match &previous {
            Some(p) => (
                p.inner.window.load_full(),
                p.inner.totals.clone(),
                p.inner.split.load_full(),
                Local { stored: p.state(), ..Local::default() },
            ),
            None => (
                Arc::new(LiveWindow::new(0, names.len())),
                names.iter().map(|_| LiveStats::default()).collect(),
                Arc::new(Split::uniform(candidates, weight)),
                Local::default(),
            ),
        };
        let inner = Arc::new(Inner {
            name: name.into(),
            totals,
            window: ArcSwap::new(window),
            split: ArcSwap::new(split),
            versions: versions.into(),
            names,
            cohort: self.cohort,
            overrides: self.overrides,
            salt: hash_key(self.salt.as_deref().unwrap_or(name).as_bytes()),
            plan: self.plan,
            analysis: self.analysis,
            local: Mutex::new(local),
            rollouts: rollouts.clone(),
            clock: Clock::new(),
            _stop: has_plan.then_some(stop),
        });
        let canary = Canary { inner };
        if has_plan {
            canary.init().await?;
            tokio::spawn(controller::run(
                Arc::downgrade(&canary.inner),
                canary.inner.analysis.interval,
                stopped,
            ));
        } else {
            canary.publish_fixed();
        }
        rollouts.register(&canary);
        Ok(canary)
    }
}

/// Checks what can be checked without upstreams: version names, weight, plan and
/// analysis. The error is (field, reason).
pub(crate) fn check(
    canary: &str,
    names: &[String],
    weight: f64,
    plan: Option<&RolloutPlan>,
    analysis: &AnalysisConfig,
) -> Result<(), (String, String)> {
    if canary.is_empty() || canary.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(("name".into(), format!("{canary:?} must be non-empty, without spaces")));
    }
    if names.len() < 2 {
        return Err(("canary".into(), "needs at least one candidate version".into()));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(("canary".into(), format!("version `{n}` is listed twice")));
        }
    }
    let lane = split::lane(names.len() - 1);
    match split::percent_to_bp(weight) {
        Some(bp) if bp <= lane => {}
        _ => {
            return Err((
                "weight".into(),
                format!("is {weight}; give a percentage from 0 to {}", split::bp_to_percent(lane)),
            ));
        }
    }
    if let Some(plan) = plan {
        plan.validate(lane, names.len() - 1)?;
    }
    analysis.validate()
}
