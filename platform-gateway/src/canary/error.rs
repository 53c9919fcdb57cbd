//! Errors of canary rollouts.

use platform_core::BoxError;

use super::state::Action;

/// Why a canary could not be built, or a rollout operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CanaryError {
    /// A setting is invalid.
    #[error("canary `{canary}`: `{field}` {reason}")]
    Config {
        /// The canary's name.
        canary: String,
        /// The setting (a path such as `plan.steps[2]`).
        field: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The rollout state store failed; the canary keeps serving with the last state it
    /// knew and tries again on its next tick.
    #[error("canary `{canary}`: the rollout state store failed to {operation}: {source}")]
    Store {
        /// The canary's name.
        canary: String,
        /// What was being done (`load the state`, `save the state`, ...).
        operation: &'static str,
        /// The store's error.
        #[source]
        source: BoxError,
    },
    /// The stored state is not a state this version of the gateway can read.
    #[error(
        "canary `{canary}`: the stored rollout state cannot be read ({source}); delete its row to start the rollout over"
    )]
    Corrupt {
        /// The canary's name.
        canary: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A manual action does not apply in the rollout's phase.
    #[error("canary `{canary}`: {reason}")]
    Refused {
        /// The canary's name.
        canary: String,
        /// The action refused.
        action: Action,
        /// Why, and which phases it applies to.
        reason: String,
    },
    /// The canary has no rollout plan: its weights are fixed.
    #[error("canary `{canary}` has no rollout plan; its weights are fixed by its configuration")]
    NoPlan {
        /// The canary's name.
        canary: String,
    },
    /// Other instances kept changing the state while this one tried to; try again.
    #[error(
        "canary `{canary}`: the rollout state kept changing under this action (other gateway instances deciding); try again"
    )]
    Conflict {
        /// The canary's name.
        canary: String,
    },
}

impl CanaryError {
    pub(crate) fn config(
        canary: &str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Config { canary: canary.to_owned(), field: field.into(), reason: reason.into() }
    }

    pub(crate) fn store(canary: &str, operation: &'static str) -> impl FnOnce(BoxError) -> Self {
        let canary = canary.to_owned();
        move |source| Self::Store { canary, operation, source }
    }

    /// The canary this error is about.
    pub fn canary(&self) -> &str {
        match self {
            Self::Config { canary, .. }
            | Self::Store { canary, .. }
            | Self::Corrupt { canary, .. }
            | Self::Refused { canary, .. }
            | Self::NoPlan { canary }
            | Self::Conflict { canary } => canary,
        }
    }
}
