//! The persisted state of saga instances, as the query API returns it.

use std::fmt;

use serde_json::Value;

/// A saga instance's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SagaId(String);

impl SagaId {
    /// An id chosen by the caller (e.g. the order id, to make starting idempotent).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A fresh, roughly time-ordered id.
    pub fn generate() -> Self {
        Self(crate::messaging::MessageId::generate().as_str().to_owned())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SagaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $v,)+ }

        impl $name {
            /// The name stored in the step log.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s,)+ }
            }

            pub(super) fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where a saga instance is.
    SagaStatus {
        /// Running its steps forward.
        Running = "running",
        /// A step failed; undoing the completed steps in reverse order.
        Compensating = "compensating",
        /// Every step completed.
        Completed = "completed",
        /// A step failed and every completed step was compensated.
        Compensated = "compensated",
    }
}

impl SagaStatus {
    /// `true` for `Completed` and `Compensated`: nothing more will happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated)
    }
}

text_enum! {
    /// Where one step of a saga instance is.
    StepStatus {
        /// The action started (and may be retried or resumed).
        Running = "running",
        /// The action succeeded; its output is stored.
        Completed = "completed",
        /// The action failed for good (attempts exhausted or [`Abort`](super::Abort)).
        Failed = "failed",
        /// The compensation started (and is retried until it succeeds).
        Compensating = "compensating",
        /// The compensation succeeded.
        Compensated = "compensated",
    }
}

/// One step of a saga instance, from the step log.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StepState {
    /// Position in the saga (0-based).
    pub index: u32,
    /// The step's name.
    pub name: String,
    /// Where it is.
    pub status: StepStatus,
    /// Action attempts started, across coordinators.
    pub attempts: u32,
    /// Compensation attempts started, across coordinators.
    pub compensation_attempts: u32,
    /// The idempotency key given to the action.
    pub idempotency_key: String,
    /// The action's output, once completed.
    pub output: Option<Value>,
    /// The last error of the action or compensation.
    pub error: Option<String>,
}

/// A saga instance without its steps (from [`Coordinator::list`](super::Coordinator::list)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SagaSummary {
    /// The instance id.
    pub id: SagaId,
    /// The definition's name.
    pub name: String,
    /// Where it is.
    pub status: SagaStatus,
    /// Why it is compensating or was compensated (the failed step's error), or why a
    /// compensation keeps failing.
    pub error: Option<String>,
    /// When it was started, ms since the Unix epoch.
    pub created_ms: i64,
    /// When it last changed, ms since the Unix epoch.
    pub updated_ms: i64,
}

/// A saga instance with its input and its step log (from
/// [`Coordinator::saga`](super::Coordinator::saga)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SagaState {
    /// Id, name, status, error and times.
    pub summary: SagaSummary,
    /// The input it was started with.
    pub input: Value,
    /// The steps that started, in order.
    pub steps: Vec<StepState>,
}
