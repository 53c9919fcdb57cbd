//! Where rollout state lives: the [`RolloutStore`] trait, the in-memory store, and (feature
//! `canary-sql`) the SQL store on platform-core's [`Store`](platform_core::store::Store).
//!
//! The state of a rollout is one record with a revision. Every change is a
//! compare-and-set on that revision, so when several gateway instances judge the same
//! step at once exactly one decision lands; the others see the new revision and follow
//! it. Each instance also publishes its measurements of the current analysis window,
//! and whoever judges sums them, so the decision rests on all the traffic.

mod memory;
#[cfg(feature = "canary-sql")]
mod sql;

use std::fmt;

use async_trait::async_trait;
use platform_core::BoxError;

pub use memory::MemoryRolloutStore;
#[cfg(feature = "canary-sql")]
pub use sql::{MIGRATIONS, SqlRolloutStore, migrate};

use super::state::RolloutState;
use super::stats::WindowSample;

/// A rollout state and its revision (incremented by every change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRollout {
    /// The revision this state was saved at (1 for the first).
    pub revision: i64,
    /// The state.
    pub state: RolloutState,
}

/// The revision a [`RolloutStore::save`] expecting `expected` writes when it lands: 1 for
/// the first state, then one more than the revision it replaces. Every store numbers
/// revisions with it, so they agree on what a save returns.
fn next_revision(expected: Option<i64>) -> i64 {
    expected.map_or(1, |revision| revision + 1)
}

/// Whether a save expecting `expected` may land on a store holding revision `stored`
/// (`None`: no state yet), and the revision it then writes. Stores that compare in
/// memory call it; the SQL store compares in its `WHERE` clause, atomically, and takes
/// the revision from [`next_revision`].
fn compare_and_set(stored: Option<i64>, expected: Option<i64>) -> Option<i64> {
    (stored == expected).then(|| next_revision(expected))
}

/// Persists rollout states (compare-and-set) and per-instance measurements.
///
/// Implementations must make [`save`](Self::save) atomic: it succeeds only when the
/// stored revision is still `expected`. Every backend passes the same conformance
/// tests (`tests/canary_store.rs`).
#[async_trait]
pub trait RolloutStore: Send + Sync + fmt::Debug + 'static {
    /// The state of rollout `canary`, if any was saved.
    async fn load(&self, canary: &str) -> Result<Option<StoredRollout>, BoxError>;

    /// Saves `state` if the stored revision is `expected` (`None`: only if there is no
    /// state yet). Returns the new revision, or `None` when another writer got there
    /// first.
    async fn save(
        &self,
        canary: &str,
        expected: Option<i64>,
        state: &RolloutState,
    ) -> Result<Option<i64>, BoxError>;

    /// Records (replaces) `instance`'s measurements of analysis window `window`.
    async fn put_sample(
        &self,
        canary: &str,
        instance: &str,
        window: i64,
        sample: &WindowSample,
    ) -> Result<(), BoxError>;

    /// Every instance's measurements of `window`, with the instance that published them.
    async fn samples(
        &self,
        canary: &str,
        window: i64,
    ) -> Result<Vec<(String, WindowSample)>, BoxError>;

    /// Forgets measurements of windows before `window`.
    async fn prune_samples(&self, canary: &str, window: i64) -> Result<(), BoxError>;
}
