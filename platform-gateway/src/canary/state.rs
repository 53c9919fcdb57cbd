//! The rollout state machine: the persisted state, the decisions that move it, and the
//! manual actions.
//!
//! ```text
//!  start ─▶ progressing ──(step passes)──▶ progressing (next step) ─ … ─▶ promoted
//!               │  ▲
//!    step fails │  │ resume / retry
//!               ▼  │
//!   rolled_back ◀── rolling_back (gradual)      paused (on_failure = pause, or manual)
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::plan::{OnFailure, RolloutPlan};
use super::split::Bp;
use super::stats::Sample;

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Running the plan: the current step is judged when due.
    Progressing,
    /// Holding the current weights; nothing is judged until resumed.
    Paused,
    /// Stepping the candidates' weight down after a failure (gradual rollback).
    RollingBack,
    /// Candidates at weight 0: the stable version serves everything.
    RolledBack,
    /// The plan passed (or was promoted by hand): candidates at the last step's weight.
    Promoted,
}

impl Phase {
    /// Every phase, for metrics.
    pub const ALL: [Phase; 5] =
        [Self::Progressing, Self::Paused, Self::RollingBack, Self::RolledBack, Self::Promoted];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Progressing => "progressing",
            Self::Paused => "paused",
            Self::RollingBack => "rolling_back",
            Self::RolledBack => "rolled_back",
            Self::Promoted => "promoted",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecisionKind {
    /// A rollout began (first start, or new versions).
    Start,
    /// A step passed; the next one began.
    Advance,
    /// The last step passed, or promoted by hand.
    Promote,
    /// Candidates to weight 0.
    Rollback,
    /// One step down during a gradual rollback.
    StepDown,
    /// Held.
    Pause,
    /// Judging again at the step it stopped on.
    Resume,
    /// Started over from the first step.
    Retry,
    /// The plan changed under a progressing rollout (a configuration reload or a
    /// restart with a new plan): the step moved to the new plan's weight.
    Replan,
}

impl DecisionKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Advance => "advance",
            Self::Promote => "promote",
            Self::Rollback => "rollback",
            Self::StepDown => "step_down",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Retry => "retry",
            Self::Replan => "replan",
        }
    }
}

/// A manual action from the admin API or [`Canary::act`](super::Canary::act).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Jump to the last step and finish (any phase but promoted).
    Promote,
    /// Hold the current weights (progressing or rolling back).
    Pause,
    /// Continue at the step it stopped on (paused or rolled back).
    Resume,
    /// Candidates to weight 0 now (any phase but rolled back).
    Rollback,
    /// Start over from the first step (paused, rolling back or rolled back).
    Retry,
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "promote" => Self::Promote,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "rollback" => Self::Rollback,
            "retry" => Self::Retry,
            other => {
                return Err(format!(
                    "unknown action `{other}`; use promote, pause, resume, rollback or retry"
                ));
            }
        })
    }
}

impl Action {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }

    fn kind(self) -> DecisionKind {
        match self {
            Self::Promote => DecisionKind::Promote,
            Self::Pause => DecisionKind::Pause,
            Self::Resume => DecisionKind::Resume,
            Self::Rollback => DecisionKind::Rollback,
            Self::Retry => DecisionKind::Retry,
        }
    }
}

/// A decision with its reason, as recorded in the state and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What it did.
    pub kind: DecisionKind,
    /// Why, for a person.
    pub reason: String,
    /// Who: `analysis@<instance>` for automatic decisions, the admin's name otherwise.
    pub actor: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
}

/// The persisted state of one rollout; every gateway instance on the store follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutState {
    /// The version names it is about (stable first); new versions start a new rollout.
    pub versions: Vec<String>,
    /// The phase.
    pub phase: Phase,
    /// The plan step (0-based) running, or where it stopped.
    pub step: usize,
    /// Each candidate's weight, in basis points.
    pub weight_bp: u32,
    /// The analysis window: measurements count toward the state that opened it.
    pub window: i64,
    /// When the window opened (Unix milliseconds).
    pub since_ms: i64,
    /// The stable version's samples of the steps passed so far, the reference when the
    /// stable version has too little traffic in a step.
    #[serde(default)]
    pub baseline: Sample,
    /// The last decision.
    pub last: Option<Decision>,
}

impl RolloutState {
    /// A rollout of `versions` at the plan's first step.
    pub(crate) fn start(versions: Vec<String>, plan: &RolloutPlan, now: i64) -> Self {
        Self {
            versions,
            phase: Phase::Progressing,
            step: 0,
            weight_bp: plan.weight_bp(0),
            window: 1,
            since_ms: now,
            baseline: Sample::default(),
            last: None,
        }
    }

    /// The same rollout in a new window.
    fn next(&self, phase: Phase, step: usize, weight_bp: Bp, now: i64) -> Self {
        Self { phase, step, weight_bp, window: self.window + 1, since_ms: now, ..self.clone() }
    }

    /// The step passed: the next one, or promoted after the last.
    pub(crate) fn advance(&self, plan: &RolloutPlan, stable: &Sample, now: i64) -> Self {
        let last = plan.steps.len().saturating_sub(1);
        let mut next = if self.step >= last {
            self.next(Phase::Promoted, last, plan.weight_bp(last), now)
        } else {
            self.next(Phase::Progressing, self.step + 1, plan.weight_bp(self.step + 1), now)
        };
        next.baseline.merge(stable);
        next
    }

    /// Under a changed plan, a progressing rollout keeps its step number (the last
    /// step when the new plan is shorter) at the new plan's weight for it, in a new
    /// window; `None` when nothing moves (same step weight, or not progressing).
    pub(crate) fn replan(&self, plan: &RolloutPlan, now: i64) -> Option<Self> {
        if self.phase != Phase::Progressing {
            return None;
        }
        let step = self.step.min(plan.steps.len().saturating_sub(1));
        let weight = plan.weight_bp(step);
        (step != self.step || weight != self.weight_bp)
            .then(|| self.next(Phase::Progressing, step, weight, now))
    }

    /// The step failed.
    pub(crate) fn fail(&self, plan: &RolloutPlan, on_failure: OnFailure, now: i64) -> Self {
        match on_failure {
            OnFailure::Rollback => self.next(Phase::RolledBack, self.step, 0, now),
            OnFailure::Pause => self.next(Phase::Paused, self.step, self.weight_bp, now),
            OnFailure::RollbackGradual => self.step_down(plan, now),
        }
    }

    /// One step down: the plan's highest weight below the current one, or 0.
    pub(crate) fn step_down(&self, plan: &RolloutPlan, now: i64) -> Self {
        let lower =
            (0..plan.steps.len()).map(|i| plan.weight_bp(i)).filter(|w| *w < self.weight_bp).max();
        match lower {
            Some(w) => self.next(Phase::RollingBack, self.step, w, now),
            None => self.next(Phase::RolledBack, self.step, 0, now),
        }
    }

    /// The state after a manual `action`, or why it does not apply now.
    pub(crate) fn act(&self, action: Action, plan: &RolloutPlan, now: i64) -> Result<Self, String> {
        use Phase::*;
        let last = plan.steps.len().saturating_sub(1);
        let refuse = |applies: &str| {
            Err(format!(
                "cannot {} a rollout that is {}; {} applies to {applies}",
                action.as_str(),
                self.phase,
                action.as_str()
            ))
        };
        match (action, self.phase) {
            (Action::Promote, Promoted) => refuse("rollouts not yet promoted"),
            (Action::Promote, _) => Ok(self.next(Promoted, last, plan.weight_bp(last), now)),
            (Action::Pause, Progressing | RollingBack) => {
                Ok(self.next(Paused, self.step, self.weight_bp, now))
            }
            (Action::Pause, _) => refuse("progressing or rolling-back rollouts"),
            (Action::Resume, Paused | RolledBack) => {
                let step = self.step.min(last);
                Ok(self.next(Progressing, step, plan.weight_bp(step), now))
            }
            (Action::Resume, _) => refuse("paused or rolled-back rollouts"),
            (Action::Rollback, RolledBack) => refuse("rollouts not yet rolled back"),
            (Action::Rollback, _) => Ok(self.next(RolledBack, self.step, 0, now)),
            (Action::Retry, Paused | RollingBack | RolledBack) => {
                let mut s = self.next(Progressing, 0, plan.weight_bp(0), now);
                s.baseline = Sample::default();
                Ok(s)
            }
            (Action::Retry, _) => refuse("paused, rolling-back or rolled-back rollouts"),
        }
    }

    /// The decision kind of a manual action.
    pub(crate) fn kind_of(action: Action) -> DecisionKind {
        action.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RolloutPlan {
        RolloutPlan::steps([5.0, 25.0, 50.0, 100.0])
    }

    #[test]
    fn steps_advance_to_promotion_with_new_windows() {
        let p = plan();
        let mut s = RolloutState::start(vec!["v1".into(), "v2".into()], &p, 0);
        assert_eq!((s.phase, s.step, s.weight_bp, s.window), (Phase::Progressing, 0, 500, 1));
        for (step, w) in [(1, 2_500), (2, 5_000), (3, 10_000)] {
            s = s.advance(&p, &Sample::default(), 1);
            assert_eq!((s.phase, s.step, s.weight_bp), (Phase::Progressing, step, w));
        }
        s = s.advance(&p, &Sample::default(), 2);
        assert_eq!((s.phase, s.step, s.weight_bp, s.window), (Phase::Promoted, 3, 10_000, 5));
    }

    #[test]
    fn failures_roll_back_step_down_or_pause() {
        let p = plan();
        let mut s = RolloutState::start(vec![], &p, 0);
        s = s.advance(&p, &Sample::default(), 0).advance(&p, &Sample::default(), 0);
        assert_eq!(s.weight_bp, 5_000);
        let rb = s.fail(&p, OnFailure::Rollback, 1);
        assert_eq!((rb.phase, rb.step, rb.weight_bp), (Phase::RolledBack, 2, 0));
        let paused = s.fail(&p, OnFailure::Pause, 1);
        assert_eq!((paused.phase, paused.weight_bp), (Phase::Paused, 5_000));
        let mut g = s.fail(&p, OnFailure::RollbackGradual, 1);
        let mut seen = vec![g.weight_bp];
        while g.phase == Phase::RollingBack {
            g = g.step_down(&p, 2);
            seen.push(g.weight_bp);
        }
        assert_eq!(seen, [2_500, 500, 0]);
        assert_eq!(g.phase, Phase::RolledBack);
    }

    #[test]
    fn a_changed_plan_moves_only_a_progressing_step_whose_weight_changed() {
        let p = plan();
        let s = RolloutState::start(vec![], &p, 0).advance(&p, &Sample::default(), 1);
        assert_eq!((s.step, s.weight_bp), (1, 2_500));
        let same_weights = RolloutPlan::steps([5.0, 25.0, 75.0]).min_requests(7);
        assert_eq!(s.replan(&same_weights, 2), None, "step 2 is still 25%");
        let slower = RolloutPlan::steps([5.0, 10.0, 25.0, 50.0, 100.0]);
        let moved = s.replan(&slower, 2).expect("step 2 is 10% now");
        assert_eq!((moved.phase, moved.step, moved.weight_bp), (Phase::Progressing, 1, 1_000));
        assert_eq!((moved.window, moved.since_ms), (s.window + 1, 2));
        let shorter = RolloutPlan::steps([50.0]);
        let clamped = s.replan(&shorter, 2).expect("past the end");
        assert_eq!((clamped.step, clamped.weight_bp), (0, 5_000));
        let paused = s.act(Action::Pause, &p, 1).unwrap();
        assert_eq!(paused.replan(&slower, 2), None, "resume applies the new plan");
    }

    #[test]
    fn manual_actions_check_the_phase() {
        let p = plan();
        let s = RolloutState::start(vec![], &p, 0);
        let err = s.act(Action::Resume, &p, 1).unwrap_err();
        assert!(err.contains("cannot resume a rollout that is progressing"), "{err}");
        let paused = s.act(Action::Pause, &p, 1).unwrap();
        let resumed = paused.act(Action::Resume, &p, 2).unwrap();
        assert_eq!((resumed.phase, resumed.step, resumed.window), (Phase::Progressing, 0, 3));
        let rolled = s.act(Action::Rollback, &p, 1).unwrap();
        assert!(rolled.act(Action::Rollback, &p, 1).is_err());
        let retried = rolled.act(Action::Retry, &p, 1).unwrap();
        assert_eq!((retried.phase, retried.step, retried.weight_bp), (Phase::Progressing, 0, 500));
        let promoted = s.act(Action::Promote, &p, 1).unwrap();
        assert_eq!((promoted.phase, promoted.weight_bp), (Phase::Promoted, 10_000));
        assert!(promoted.act(Action::Retry, &p, 1).is_err());
        assert_eq!("pause".parse::<Action>(), Ok(Action::Pause));
        assert!("jump".parse::<Action>().unwrap_err().contains("promote, pause"));
    }
}
