//! [`MemoryRolloutStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use platform_core::BoxError;

use super::{RolloutStore, StoredRollout, compare_and_set};
use crate::canary::state::RolloutState;
use crate::canary::stats::WindowSample;

/// Rollout states in this process's memory: the embedded default. State is lost when
/// the process ends; canaries sharing one clone (e.g. across a config reload) share it.
/// Use [`SqlRolloutStore`](super::SqlRolloutStore) (feature `canary-sql`) to survive
/// restarts and to share rollouts between gateway instances.
#[derive(Debug, Clone, Default)]
pub struct MemoryRolloutStore {
    inner: Arc<Mutex<Tables>>,
}

#[derive(Debug, Default)]
struct Tables {
    states: HashMap<String, StoredRollout>,
    /// (canary, window) → (instance, sample).
    samples: HashMap<(String, i64), HashMap<String, WindowSample>>,
}

impl MemoryRolloutStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl RolloutStore for MemoryRolloutStore {
    async fn load(&self, canary: &str) -> Result<Option<StoredRollout>, BoxError> {
        Ok(self.tables().states.get(canary).cloned())
    }

    async fn save(
        &self,
        canary: &str,
        expected: Option<i64>,
        state: &RolloutState,
    ) -> Result<Option<i64>, BoxError> {
        let mut t = self.tables();
        let stored = t.states.get(canary).map(|s| s.revision);
        let Some(revision) = compare_and_set(stored, expected) else { return Ok(None) };
        t.states.insert(canary.to_owned(), StoredRollout { revision, state: state.clone() });
        Ok(Some(revision))
    }

    async fn put_sample(
        &self,
        canary: &str,
        instance: &str,
        window: i64,
        sample: &WindowSample,
    ) -> Result<(), BoxError> {
        self.tables()
            .samples
            .entry((canary.to_owned(), window))
            .or_default()
            .insert(instance.to_owned(), sample.clone());
        Ok(())
    }

    async fn samples(
        &self,
        canary: &str,
        window: i64,
    ) -> Result<Vec<(String, WindowSample)>, BoxError> {
        let t = self.tables();
        Ok(t.samples
            .get(&(canary.to_owned(), window))
            .map(|m| m.iter().map(|(i, s)| (i.clone(), s.clone())).collect())
            .unwrap_or_default())
    }

    async fn prune_samples(&self, canary: &str, window: i64) -> Result<(), BoxError> {
        self.tables().samples.retain(|(c, w), _| c != canary || *w >= window);
        Ok(())
    }
}
