//! The `canary` target of a `[[routes]]` entry in the TOML configuration.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use http::HeaderName;
use serde::{Deserialize, Serialize};

use super::builder::check;
use super::plan::{AnalysisConfig, RolloutPlan};
use super::{Canary, CanaryError, CohortKey, Rollouts};
use crate::config::{ConfigError, RouteSpec};
use crate::route::{Route, Target};
use crate::upstream::Upstream;

/// Where a cohort key comes from, in a config file: `{ header = "x-user-id" }`,
/// `{ cookie = "uid" }`, `"client_address"` or `"principal"` (feature `auth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CohortKeySpec {
    /// A request header.
    Header(String),
    /// A cookie.
    Cookie(String),
    /// The client address.
    ClientAddress,
    /// The platform-auth principal's subject.
    Principal,
}

impl CohortKeySpec {
    fn compile(&self) -> Result<CohortKey, String> {
        Ok(match self {
            Self::Header(h) => CohortKey::Header(
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("{h:?} is not a valid header name"))?,
            ),
            Self::Cookie(c) => CohortKey::Cookie(c.clone()),
            Self::ClientAddress => CohortKey::ClientAddress,
            #[cfg(feature = "auth")]
            Self::Principal => CohortKey::Principal,
            #[cfg(not(feature = "auth"))]
            Self::Principal => {
                return Err(
                    "\"principal\" needs platform-gateway's `auth` feature; enable it or key cohorts by a header, cookie or client_address".into(),
                );
            }
        })
    }
}

/// One name or a list of names.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        One(String),
        Many(Vec<String>),
    }
    Names::deserialize(d)
        .map(|n| match n {
            Names::One(n) => vec![n],
            Names::Many(v) => v,
        })
        .map_err(|_| serde::de::Error::custom("expected an upstream name or a list of them"))
}

/// A route's `canary` table: the versions (upstream names), cohorts, overrides and the
/// rollout. Exactly one of `upstream`, `upstreams` and `canary` names a route's target.
///
/// ```toml
/// [routes.canary]
/// stable = "users-v1"
/// canary = "users-v2"               # or a list of candidates
/// cohort = [{ header = "x-user-id" }, "client_address"]
/// override_header = "x-canary"
/// plan = { steps = [5, 25, 50, 100], min_duration = "5m", min_requests = 200 }
/// analysis = { max_error_rate_increase = 0.01, max_p99_ratio = 1.5, on_failure = "rollback" }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanarySpec {
    /// The rollout's name in the state store and admin API (default: the route id).
    pub name: Option<String>,
    /// The stable version's upstream.
    pub stable: String,
    /// The candidate versions' upstreams (`canary = "v2"` or `canary = ["v2", "v3"]`).
    #[serde(deserialize_with = "one_or_many")]
    pub canary: Vec<String>,
    /// Each candidate's weight in percent when there is no plan (default 0).
    pub weight: f64,
    /// Cohort keys, tried in order; without any, requests are split at random.
    pub cohort: Vec<CohortKeySpec>,
    /// A header whose value names the version to use.
    pub override_header: Option<String>,
    /// A cookie whose value names the version to use.
    pub override_cookie: Option<String>,
    /// Salt of the cohort hash (default: the name).
    pub salt: Option<String>,
    /// The rollout plan; without it the weights are fixed.
    pub plan: Option<RolloutPlan>,
    /// How steps are judged.
    pub analysis: AnalysisConfig,
}

impl CanarySpec {
    /// Every upstream it names, stable first.
    pub(crate) fn upstreams(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.stable).chain(&self.canary)
    }

    fn name_for<'a>(&'a self, route: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(route)
    }

    /// Checks everything that needs no upstream; the error is (field under `canary.`,
    /// reason).
    pub(crate) fn validate(&self, route: &str) -> Result<(), (String, String)> {
        if self.stable.is_empty() {
            return Err(("stable".into(), "is missing; name the stable version's upstream".into()));
        }
        for (i, k) in self.cohort.iter().enumerate() {
            k.compile().map_err(|e| (format!("cohort[{i}]"), e))?;
        }
        if let Some(h) = &self.override_header {
            HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                ("override_header".to_owned(), format!("{h:?} is not a header name"))
            })?;
        }
        let names: Vec<String> = self.upstreams().cloned().collect();
        check(self.name_for(route), &names, self.weight, self.plan.as_ref(), &self.analysis)
    }

    /// Builds the canary over the `upstreams` built from the file.
    async fn build(
        &self,
        route: &str,
        upstreams: &HashMap<String, Upstream>,
        rollouts: &Rollouts,
    ) -> Result<Canary, ConfigError> {
        let err = |field: &str, msg: String| {
            ConfigError::new(msg).route(route).field(format!("canary.{field}"))
        };
        let find = |n: &String| {
            upstreams.get(n).cloned().ok_or_else(|| {
                err(
                    "stable",
                    format!("names upstream `{n}`, which is not defined under [upstreams]"),
                )
            })
        };
        let mut b = Canary::builder(self.name_for(route))
            .stable(find(&self.stable)?)
            .weight(self.weight)
            .analysis(self.analysis.clone())
            .rollouts(rollouts);
        for c in &self.canary {
            b = b.candidate(find(c)?);
        }
        for (i, k) in self.cohort.iter().enumerate() {
            b = b.cohort(k.compile().map_err(|e| err(&format!("cohort[{i}]"), e))?);
        }
        if let Some(h) = &self.override_header {
            b = b.override_header(h);
        }
        if let Some(c) = &self.override_cookie {
            b = b.override_cookie(c);
        }
        if let Some(s) = &self.salt {
            b = b.salt(s);
        }
        if let Some(p) = &self.plan {
            b = b.plan(p.clone());
        }
        b.build().await.map_err(|e| match e {
            CanaryError::Config { field, reason, .. } => err(&field, reason),
            other => ConfigError::new(other.to_string()).route(route).field("canary"),
        })
    }
}

/// The canaries of `[[routes]]` entries name defined upstreams, and their rollout names
/// are unique (each is one rollout).
pub(crate) fn check_routes<T>(
    routes: &[RouteSpec],
    upstreams: &std::collections::BTreeMap<String, T>,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for r in routes {
        if let Some(c) = &r.canary {
            let named = std::iter::once(("canary.stable", &c.stable))
                .chain(c.canary.iter().map(|n| ("canary.canary", n)));
            for (field, name) in named {
                if !upstreams.contains_key(name) {
                    return Err(ConfigError::new(format!(
                        "names upstream `{name}`, which is not defined under [upstreams]"
                    ))
                    .route(&r.id)
                    .field(field));
                }
            }
            let name = c.name_for(&r.id);
            if !seen.insert(name) {
                return Err(ConfigError::new(format!(
                    "rollout `{name}` is used by two routes; give each route's canary its own `name`"
                ))
                .route(&r.id)
                .field("canary.name"));
            }
        }
    }
    Ok(())
}

/// Puts the canary backend of `spec` (if it has one) in place of the stand-in target.
pub(crate) async fn with_canary(
    spec: &RouteSpec,
    mut route: Route,
    upstreams: &HashMap<String, Upstream>,
    rollouts: &Rollouts,
) -> Result<Route, ConfigError> {
    if let Some(c) = &spec.canary {
        let canary = c.build(&spec.id, upstreams, rollouts).await?;
        route.target = Target::Backend(Arc::new(canary));
    }
    Ok(route)
}
