//! Applying an update to a [`ConfigHandle`]: restart-required keys, validation, swap,
//! notification.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{LoadError, Origin, UpdateError};
use super::event::{ConfigChange, ConfigEvent};
use super::handle::{ConfigHandle, lock};
use super::restart;

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateOutcome {
    /// `true` when the value changed (and the version went up).
    pub applied: bool,
    /// The version current after the update.
    pub version: u64,
    /// Restart-required keys whose new values were held back.
    pub restart_required: Vec<String>,
}

impl<T> ConfigHandle<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Replaces the value with `new` (origin [`Origin::Update`]). See
    /// [`update_from`](Self::update_from).
    pub fn update(&self, new: T) -> Result<UpdateOutcome, UpdateError> {
        self.update_from(Origin::Update, new)
    }

    /// Replaces the value with `new`, atomically for readers:
    ///
    /// 1. restart-required keys that changed keep their running values (reported as
    ///    [`ConfigEvent::RestartRequired`]);
    /// 2. the validation hook runs on the result; a failure keeps the last good value and
    ///    is returned and reported;
    /// 3. a result equal to the current value changes nothing (no version bump);
    /// 4. otherwise the value is swapped, the version goes up by one, subscribers and
    ///    section channels are notified.
    pub fn update_from(&self, origin: Origin, new: T) -> Result<UpdateOutcome, UpdateError> {
        let inner = &self.inner;
        let sections = lock(&inner.sections);
        let old = inner.current.load_full();
        let (old_json, mut new_json) = match (to_json(&*old), to_json(&new)) {
            (Ok(old), Ok(new)) => (old, new),
            (Err(e), _) | (_, Err(e)) => {
                return Err(self.rejected(origin, format!("cannot compare configurations: {e}")));
            }
        };
        let held = restart::hold_back(&old_json, &mut new_json, &inner.restart_required);
        let new = if held.is_empty() {
            new
        } else {
            match serde_json::from_value(new_json.clone()) {
                Ok(v) => v,
                Err(e) => {
                    let reason = format!("holding back restart-required keys failed: {e}");
                    return Err(self.rejected(origin, reason));
                }
            }
        };
        if let Some(validate) = &inner.validator
            && let Err(reason) = validate(&new)
        {
            return Err(self.rejected(origin, reason));
        }
        *lock(&inner.pending_restart) = held.clone();
        if !held.is_empty() {
            tracing::warn!(target: "platform::config", %origin, keys = ?held,
                "restart-required keys changed; they keep their running values until restart");
            self.emit(ConfigEvent::RestartRequired { origin: origin.clone(), keys: held.clone() });
        }
        let version = inner.version.load(Ordering::Acquire);
        if new_json == old_json {
            tracing::debug!(target: "platform::config", %origin, version, "configuration unchanged");
            self.emit(ConfigEvent::Unchanged { origin });
            return Ok(UpdateOutcome { applied: false, version, restart_required: held });
        }
        let new = Arc::new(new);
        inner.current.store(new.clone());
        let version = version + 1;
        inner.version.store(version, Ordering::Release);
        let mut sections = sections;
        sections.retain(|push| push(&new));
        drop(sections);
        tracing::info!(target: "platform::config", %origin, version, "configuration applied");
        inner.changes.send_replace(Arc::new(ConfigChange {
            old,
            new,
            version,
            origin: origin.clone(),
        }));
        self.emit(ConfigEvent::Applied { version, origin });
        Ok(UpdateOutcome { applied: true, version, restart_required: held })
    }

    /// Reports a failed reload: the last good value stays.
    pub(super) fn load_failed(&self, origin: Origin, source: LoadError) -> UpdateError {
        let reason = source.to_string();
        tracing::warn!(target: "platform::config", %origin, %reason,
            "configuration update not applied; keeping the last good value");
        self.emit(ConfigEvent::Rejected { origin: origin.clone(), reason });
        UpdateError::Load { origin, source: Box::new(source) }
    }

    fn rejected(&self, origin: Origin, reason: String) -> UpdateError {
        tracing::warn!(target: "platform::config", %origin, %reason,
            "configuration update rejected; keeping the last good value");
        self.emit(ConfigEvent::Rejected { origin: origin.clone(), reason: reason.clone() });
        UpdateError::Invalid { origin, reason }
    }
}

/// Configurations are compared (and restart-required keys held back) as JSON trees.
fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(value)
}
