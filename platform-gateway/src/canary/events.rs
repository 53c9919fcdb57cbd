//! Decisions as `tracing` events: one for operators (target `platform::gateway::canary`)
//! and one for the audit trail (target `audit`, captured by platform-observe's
//! `AuditLayer`).

use super::Inner;
use super::split::bp_to_percent;
use super::state::{Decision, DecisionKind, RolloutState};

/// Emits `decision`, which moved the rollout of `canary` from `before` to `after`.
pub(crate) fn decided(
    canary: &Inner,
    before: Option<&RolloutState>,
    after: &RolloutState,
    decision: &Decision,
) {
    let name = &*canary.name;
    let from = before.map_or("none", |b| b.phase.as_str());
    let action = format!("canary_{}", decision.kind.as_str());
    let resource = format!("canary/{name}");
    let weight = bp_to_percent(after.weight_bp);
    let instance = canary.rollouts.instance();
    macro_rules! emit {
        ($level:ident) => {{
            tracing::$level!(
                target: "platform::gateway::canary",
                canary = name,
                decision = decision.kind.as_str(),
                actor = %decision.actor,
                from_phase = from,
                phase = after.phase.as_str(),
                step = after.step,
                weight_percent = weight,
                instance,
                reason = %decision.reason,
                "canary rollout decision"
            );
            tracing::$level!(
                target: "audit",
                action = %action,
                actor = %decision.actor,
                resource = %resource,
                outcome = "success",
                reason = %decision.reason,
                from_phase = from,
                phase = after.phase.as_str(),
                step = after.step,
                weight_percent = weight,
                instance,
                "canary rollout decision"
            );
        }};
    }
    match decision.kind {
        DecisionKind::Rollback | DecisionKind::StepDown => emit!(warn),
        DecisionKind::Pause if decision.actor.starts_with("analysis@") => emit!(warn),
        _ => emit!(info),
    }
}
