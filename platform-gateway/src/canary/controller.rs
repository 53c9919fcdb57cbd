//! Driving a rollout: following the shared state, publishing measurements, judging
//! steps and committing decisions with compare-and-set.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::analysis::{Verdict, judge};
use super::plan::{OnFailure, RolloutPlan};
use super::split::Split;
use super::state::{Action, Decision, DecisionKind, Phase, RolloutState};
use super::stats::{LiveWindow, WindowSample};
use super::store::StoredRollout;
use super::{Canary, CanaryError, Inner, events};

/// What this instance knows of its rollout.
#[derive(Debug, Default)]
pub(crate) struct Local {
    /// The newest state seen (`None` before the first load, and without a plan).
    pub(crate) stored: Option<StoredRollout>,
    /// Why the last evaluation decided what it did (or nothing).
    pub(crate) evaluation: Option<String>,
    /// The last store failure, cleared by the next success.
    pub(crate) store_error: Option<String>,
}

/// The result of one evaluation ([`Canary::tick`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Evaluation {
    /// The decision this instance committed, if any.
    pub decision: Option<Decision>,
    /// Why: the decision's reason, or why nothing was decided (too few samples, the
    /// step not yet due, another instance deciding first).
    pub reason: String,
    /// The rollout's phase afterwards.
    pub phase: Phase,
    /// The plan step afterwards.
    pub step: usize,
}

/// What [`Canary::replan`] did.
enum Replanned {
    /// The state fits the plan.
    Unchanged,
    /// Moved to the plan; the state saved.
    Saved(StoredRollout),
    /// Someone else changed the state first: load it again.
    Lost,
}

/// How many times an action retries its compare-and-set before giving up.
const CAS_ATTEMPTS: usize = 5;

/// Evaluates the rollout every `interval` until the canary is dropped.
pub(crate) async fn run(
    canary: Weak<Inner>,
    interval: Duration,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = ticks.tick() => {}
        }
        let Some(inner) = canary.upgrade() else { return };
        let canary = Canary { inner };
        if let Err(e) = canary.tick().await {
            tracing::warn!(target: "platform::gateway::canary", canary = %canary.name(), error = %e, "rollout evaluation failed; retrying on the next tick");
        }
    }
}

impl Canary {
    /// The rollout plan, or [`CanaryError::NoPlan`] for a canary built without one.
    fn require_plan(&self) -> Result<&RolloutPlan, CanaryError> {
        self.plan().ok_or_else(|| CanaryError::NoPlan { canary: self.inner.name.to_string() })
    }

    fn store_failed(&self, e: &CanaryError) {
        self.inner.local().store_error = Some(e.to_string());
    }

    /// Loads the shared state and follows it if it is newer than what this instance has.
    pub(crate) async fn sync(&self) -> Result<StoredRollout, CanaryError> {
        let inner = &self.inner;
        let loaded = inner.rollouts.store().load(&inner.name).await.map_err(|e| {
            let e = decode_error(&inner.name, "load the state", e);
            self.store_failed(&e);
            e
        })?;
        match loaded {
            Some(stored) => {
                self.apply(&stored);
                Ok(stored)
            }
            // Deleted under us: start over.
            None => self.init().await,
        }
    }

    /// Loads the state, or starts the rollout (also when the versions changed).
    pub(crate) async fn init(&self) -> Result<StoredRollout, CanaryError> {
        let inner = &self.inner;
        let plan = self.require_plan()?;
        for _ in 0..CAS_ATTEMPTS {
            let loaded = inner
                .rollouts
                .store()
                .load(&inner.name)
                .await
                .map_err(|e| decode_error(&inner.name, "load the state", e))?;
            let (expected, reason) = match &loaded {
                Some(s) if s.state.versions == inner.names => {
                    self.apply(s);
                    match self.replan(s, plan).await? {
                        Replanned::Unchanged => return Ok(s.clone()),
                        Replanned::Saved(stored) => return Ok(stored),
                        Replanned::Lost => continue,
                    }
                }
                Some(s) => (
                    Some(s.revision),
                    format!("new versions {:?} (were {:?})", inner.names, s.state.versions),
                ),
                None => (None, format!("first start of versions {:?}", inner.names)),
            };
            let now = inner.clock.now_ms();
            let state = RolloutState::start(inner.names.clone(), plan, now);
            let decision = self.decision(DecisionKind::Start, reason, None, now);
            if let Some(stored) = self.commit(expected, state, decision, loaded.as_ref()).await? {
                return Ok(stored);
            }
        }
        Err(CanaryError::Conflict { canary: inner.name.to_string() })
    }

    /// Moves a progressing rollout to this canary's plan when its step's weight differs
    /// there (the plan changed in a reload or across a restart).
    async fn replan(
        &self,
        stored: &StoredRollout,
        plan: &super::RolloutPlan,
    ) -> Result<Replanned, CanaryError> {
        let now = self.inner.clock.now_ms();
        let Some(next) = stored.state.replan(plan, now) else { return Ok(Replanned::Unchanged) };
        let percent = super::split::bp_to_percent;
        let reason = format!(
            "the plan changed: step {} runs at {}% (was step {} at {}%)",
            next.step + 1,
            percent(next.weight_bp),
            stored.state.step + 1,
            percent(stored.state.weight_bp)
        );
        let actor = format!("config@{}", self.inner.rollouts.instance());
        let decision = self.decision(DecisionKind::Replan, reason, Some(&actor), now);
        Ok(match self.commit(Some(stored.revision), next, decision, Some(stored)).await? {
            Some(saved) => Replanned::Saved(saved),
            None => Replanned::Lost,
        })
    }

    /// Makes `stored` this instance's state if it is newer: weights, window, metrics.
    pub(crate) fn apply(&self, stored: &StoredRollout) {
        let inner = &self.inner;
        let mut local = inner.local();
        local.store_error = None;
        let known = local.stored.as_ref().map(|s| (s.revision, s.state.window));
        if known.is_some_and(|(rev, _)| rev >= stored.revision) {
            return;
        }
        let state = &stored.state;
        inner.split.store(Arc::new(Split::uniform(inner.names.len() - 1, state.weight_bp)));
        if known.map(|(_, w)| w) != Some(state.window) {
            inner.window.store(Arc::new(LiveWindow::new(state.window, inner.names.len())));
        }
        if known.is_some() {
            tracing::debug!(target: "platform::gateway::canary", canary = %inner.name, revision = stored.revision, phase = %state.phase, step = state.step, "following the rollout state");
        }
        local.stored = Some(stored.clone());
        drop(local);
        self.publish_metrics(state.step, state.phase);
    }

    fn publish_metrics(&self, step: usize, phase: Phase) {
        if let Some(m) = self.inner.rollouts.metrics() {
            let weights = self.weights_bp();
            let weights: Vec<(&str, u32)> = weights.iter().map(|(n, w)| (n.as_str(), *w)).collect();
            m.state(&self.inner.name, &weights, step, phase);
        }
    }

    /// Metrics of a canary without a plan.
    pub(crate) fn publish_fixed(&self) {
        self.publish_metrics(0, Phase::Progressing);
    }

    fn weights_bp(&self) -> Vec<(String, u32)> {
        let split = self.inner.split.load();
        self.inner.names.iter().enumerate().map(|(i, n)| (n.clone(), split.weight_of(i))).collect()
    }

    fn decision(
        &self,
        kind: DecisionKind,
        reason: String,
        actor: Option<&str>,
        now: i64,
    ) -> Decision {
        let actor = actor
            .map_or_else(|| format!("analysis@{}", self.inner.rollouts.instance()), str::to_owned);
        Decision { kind, reason, actor, at_ms: now }
    }

    /// Saves `state` (with `decision`) if the revision is still `expected`; on success
    /// applies it, reports the decision and returns the stored state. `None`: someone
    /// else changed the state first.
    async fn commit(
        &self,
        expected: Option<i64>,
        mut state: RolloutState,
        decision: Decision,
        before: Option<&StoredRollout>,
    ) -> Result<Option<StoredRollout>, CanaryError> {
        let inner = &self.inner;
        state.last = Some(decision.clone());
        let saved =
            inner.rollouts.store().save(&inner.name, expected, &state).await.map_err(|e| {
                let e = decode_error(&inner.name, "save the state", e);
                self.store_failed(&e);
                e
            })?;
        let Some(revision) = saved else { return Ok(None) };
        let stored = StoredRollout { revision, state };
        self.apply(&stored);
        events::decided(inner, before.map(|b| &b.state), &stored.state, &decision);
        if let Some(m) = inner.rollouts.metrics() {
            m.decision(&inner.name, decision.kind);
        }
        // Old windows' measurements are no longer needed; failing to prune is harmless.
        if let Err(e) = inner.rollouts.store().prune_samples(&inner.name, stored.state.window).await
        {
            tracing::debug!(target: "platform::gateway::canary", canary = %inner.name, error = %e, "could not prune old samples");
        }
        Ok(Some(stored))
    }

    /// This instance's measurements of the current window, published for the others.
    async fn publish(&self, window: i64) -> Result<WindowSample, CanaryError> {
        let inner = &self.inner;
        let live = inner.window.load_full();
        let sample =
            if live.id == window { live.sample(&inner.names) } else { WindowSample::default() };
        let instance = inner.rollouts.instance();
        inner
            .rollouts
            .store()
            .put_sample(&inner.name, instance, window, &sample)
            .await
            .map_err(CanaryError::store(&inner.name, "publish measurements"))?;
        Ok(sample)
    }

    /// Every instance's measurements of `window`, this instance's fresh.
    pub(crate) async fn measurements(&self, window: i64) -> Result<WindowSample, CanaryError> {
        let inner = &self.inner;
        let mut sum = self.publish(window).await?;
        let others = inner
            .rollouts
            .store()
            .samples(&inner.name, window)
            .await
            .map_err(CanaryError::store(&inner.name, "read measurements"))?;
        for (instance, sample) in others {
            if instance != inner.rollouts.instance() {
                sum.merge(&sample);
            }
        }
        Ok(sum)
    }

    /// Evaluates the rollout once, now: follows the shared state, publishes this
    /// instance's measurements and, when the step is due, judges it and commits the
    /// decision. The canary's task does this every [`AnalysisConfig::interval`](super::AnalysisConfig::interval); call it
    /// yourself to evaluate at once (tests, tooling).
    ///
    /// # Errors
    /// [`CanaryError::NoPlan`] without a plan; [`CanaryError::Store`] when the state
    /// store fails (nothing changes then).
    pub async fn tick(&self) -> Result<Evaluation, CanaryError> {
        let inner = &self.inner;
        let plan = self.require_plan()?;
        let stored = self.sync().await?;
        let state = &stored.state;
        let now = inner.clock.now_ms();
        let elapsed = Duration::from_millis(u64::try_from(now - state.since_ms).unwrap_or(0));
        let (next, kind, reason) = match state.phase {
            Phase::Progressing => {
                let needed = plan.step_min_duration(state.step);
                if elapsed < needed {
                    self.measurements(state.window).await?;
                    let reason = format!(
                        "step {} ({}%) has run {:.0?} of the {:.0?} it needs before judging",
                        state.step + 1,
                        super::split::bp_to_percent(state.weight_bp),
                        elapsed,
                        needed
                    );
                    return Ok(self.waited(&stored, reason));
                }
                let sum = self.measurements(state.window).await?;
                let stable = sum.version(&inner.names[0]);
                let candidates: Vec<(&str, _)> =
                    inner.names[1..].iter().map(|n| (n.as_str(), sum.version(n))).collect();
                let min = plan.step_min_requests(state.step);
                match judge(&candidates, &stable, &state.baseline, min, &inner.analysis) {
                    Verdict::Inconclusive(r) => return Ok(self.waited(&stored, r)),
                    Verdict::Pass(r) => {
                        let next = state.advance(plan, &stable, now);
                        let kind = if next.phase == Phase::Promoted {
                            DecisionKind::Promote
                        } else {
                            DecisionKind::Advance
                        };
                        (next, kind, format!("step {} passed: {r}", state.step + 1))
                    }
                    Verdict::Fail(r) => {
                        let on_failure = inner.analysis.on_failure;
                        let next = state.fail(plan, on_failure, now);
                        let kind = match (on_failure, next.phase) {
                            (OnFailure::Pause, _) => DecisionKind::Pause,
                            (_, Phase::RollingBack) => DecisionKind::StepDown,
                            _ => DecisionKind::Rollback,
                        };
                        (next, kind, format!("step {} failed: {r}", state.step + 1))
                    }
                }
            }
            Phase::RollingBack => {
                self.measurements(state.window).await?;
                if elapsed < inner.analysis.rollback_interval {
                    return Ok(self.waited(&stored, "rolling back gradually".into()));
                }
                let next = state.step_down(plan, now);
                let kind = if next.phase == Phase::RolledBack {
                    DecisionKind::Rollback
                } else {
                    DecisionKind::StepDown
                };
                (next, kind, "gradual rollback after a failed step".into())
            }
            phase => {
                self.measurements(state.window).await?;
                return Ok(self.waited(&stored, format!("{phase}: nothing to judge")));
            }
        };
        let decision = self.decision(kind, reason.clone(), None, now);
        match self.commit(Some(stored.revision), next, decision.clone(), Some(&stored)).await? {
            Some(saved) => {
                inner.local().evaluation = Some(reason.clone());
                Ok(Evaluation {
                    decision: Some(decision),
                    reason,
                    phase: saved.state.phase,
                    step: saved.state.step,
                })
            }
            None => {
                let followed = self.sync().await?;
                Ok(self.waited(&followed, "another gateway instance decided first".into()))
            }
        }
    }

    fn waited(&self, stored: &StoredRollout, reason: String) -> Evaluation {
        self.inner.local().evaluation = Some(reason.clone());
        Evaluation { decision: None, reason, phase: stored.state.phase, step: stored.state.step }
    }

    /// Applies a manual action for `actor`, with an optional reason, and returns the
    /// rollout's status afterwards.
    ///
    /// # Errors
    /// [`CanaryError::Refused`] when the action does not apply in the current phase,
    /// [`CanaryError::NoPlan`] without a plan, [`CanaryError::Store`] when the store
    /// fails, [`CanaryError::Conflict`] when other instances kept changing the state.
    pub async fn act(
        &self,
        action: Action,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<super::RolloutStatus, CanaryError> {
        let inner = &self.inner;
        let plan = self.require_plan()?;
        for _ in 0..CAS_ATTEMPTS {
            let stored = self.sync().await?;
            let now = inner.clock.now_ms();
            let next = stored.state.act(action, plan, now).map_err(|reason| {
                CanaryError::Refused { canary: inner.name.to_string(), action, reason }
            })?;
            let reason =
                reason.map_or_else(|| format!("{} by {actor}", action.as_str()), str::to_owned);
            let decision = self.decision(RolloutState::kind_of(action), reason, Some(actor), now);
            if self.commit(Some(stored.revision), next, decision, Some(&stored)).await?.is_some() {
                return self.status().await;
            }
        }
        Err(CanaryError::Conflict { canary: inner.name.to_string() })
    }
}

/// A store error, or [`CanaryError::Corrupt`] when it is a decoding error.
fn decode_error(canary: &str, operation: &'static str, e: platform_core::BoxError) -> CanaryError {
    match e.downcast::<serde_json::Error>() {
        Ok(json) => CanaryError::Corrupt { canary: canary.to_owned(), source: *json },
        Err(e) => CanaryError::store(canary, operation)(e),
    }
}
