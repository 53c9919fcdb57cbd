//! Sagas: a sequence of steps with compensations, run from a persisted step log by any
//! number of [`Coordinator`]s.
//!
//! * A [`Saga`] definition is built with [`Saga::builder`] from [`Step`]s: an action, an
//!   optional compensation, a [`RetryPolicy`] (attempts and backoff), a timeout per
//!   attempt and an idempotency key.
//! * [`Coordinator::start`] records an instance (status `running`);
//!   [`Coordinator::drive_ready`] / [`Coordinator::run_until`] claim instances and run
//!   them. Each action attempt is logged before it runs and its output after; when a
//!   step fails for good, the completed steps are compensated in reverse order.
//! * [`Coordinator::saga`] and [`Coordinator::list`] read the log.
//!
//! See the [module docs](super) and `docs/transactions.md` for crash and concurrency
//! semantics.

mod coordinator;
mod definition;
mod log;
mod schema;
mod state;

pub use coordinator::{Coordinator, CoordinatorConfig};
pub use definition::{Abort, RetryPolicy, Saga, SagaBuilder, Step, StepContext};
pub use state::{SagaId, SagaState, SagaStatus, SagaSummary, StepState, StepStatus};
