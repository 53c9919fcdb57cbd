//! Helpers shared by the canary tests: versions, a canary with a plan, and simulated
//! traffic going through the canary's own choice and measurement hooks.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use http::{HeaderName, Request};
use platform_core::classify::Outcome;
use platform_gateway::Upstream;
use platform_gateway::body::{self, Body};
use platform_gateway::canary::{
    AnalysisConfig, Canary, CanaryBuilder, CohortKey, RolloutPlan, Rollouts,
};
use platform_gateway::upstream::Backend;

/// The stable and candidate version names.
pub const STABLE: &str = "users-v1";
pub const NEXT: &str = "users-v2";

/// An upstream nobody listens on: the simulated traffic never connects.
pub async fn version(name: &str) -> Upstream {
    Upstream::builder(name).endpoint("127.0.0.1:9").build().await.expect("upstream")
}

/// A plan over `steps` needing `min_requests` per version and a minute per step.
pub fn plan(steps: &[f64], min_requests: u64) -> RolloutPlan {
    RolloutPlan::steps(steps.iter().copied())
        .min_requests(min_requests)
        .min_duration(Duration::from_secs(60))
}

/// Analysis that only runs when the test ticks (the background interval is an hour).
pub fn manual_analysis() -> AnalysisConfig {
    AnalysisConfig { interval: Duration::from_secs(3_600), ..AnalysisConfig::default() }
}

/// The `users` canary builder: stable `users-v1`, candidate `users-v2`, cohorts by
/// `x-user-id`, overrides by `x-canary`.
pub async fn builder(rollouts: &Rollouts) -> CanaryBuilder {
    Canary::builder("users")
        .stable(version(STABLE).await)
        .candidate(version(NEXT).await)
        .cohort(CohortKey::Header(HeaderName::from_static("x-user-id")))
        .override_header("x-canary")
        .rollouts(rollouts)
}

/// The `users` canary following `plan(steps, min_requests)`, ticked by the test only.
pub async fn planned(rollouts: &Rollouts, steps: &[f64], min_requests: u64) -> Canary {
    builder(rollouts)
        .await
        .plan(plan(steps, min_requests))
        .analysis(manual_analysis())
        .build()
        .await
        .expect("canary")
}

/// A request of `user` (no key when empty).
pub fn request(user: &str) -> Request<Body> {
    let mut b = Request::get("/users");
    if !user.is_empty() {
        b = b.header("x-user-id", user);
    }
    b.body(body::empty()).expect("request")
}

/// Sends one request per user `u{i}` through the canary's choice, reporting the outcome
/// `answer(version, i)` gives; returns how many each version served.
pub fn drive(
    canary: &Canary,
    users: Range<u32>,
    answer: impl Fn(&str, u32) -> (Outcome, Duration),
) -> BTreeMap<String, u64> {
    let mut served = BTreeMap::new();
    for i in users {
        let req = request(&format!("u{i}"));
        let upstream = canary.select(&req);
        let (outcome, latency) = answer(upstream.name(), i);
        canary.observe(&upstream, outcome, latency);
        *served.entry(upstream.name().to_owned()).or_default() += 1;
    }
    served
}

/// Every version answers fast and well.
pub fn healthy(_: &str, _: u32) -> (Outcome, Duration) {
    (Outcome::Success, Duration::from_millis(20))
}

/// The candidate fails one request in three; the stable version is fine.
pub fn failing_candidate(version: &str, i: u32) -> (Outcome, Duration) {
    let outcome =
        if version == NEXT && i.is_multiple_of(3) { Outcome::Failure } else { Outcome::Success };
    (outcome, Duration::from_millis(20))
}

/// The weight of `version` in percent.
pub fn weight(canary: &Canary, version: &str) -> f64 {
    canary.weights().into_iter().find(|(n, _)| n == version).map(|(_, w)| w).expect("version")
}

/// A gateway configuration: upstreams `users-v1` at `stable` and `users-v2` at `next`,
/// and route `users` (`/users`) whose `[routes.canary]` table is `canary`.
pub fn config_text(stable: &str, next: &str, canary: &str) -> String {
    format!(
        r#"
[upstreams.users-v1]
endpoints = ["{stable}"]

[upstreams.users-v2]
endpoints = ["{next}"]

[[routes]]
id = "users"
path_prefix = "/users"

[routes.canary]
{canary}
"#
    )
}
