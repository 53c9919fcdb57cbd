//! Snapshots of a service's instances and the versioned change stream.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::ServiceInstance;

/// The instances of one service at one version.
///
/// Versions are per service, start at 0 (nothing ever registered) and grow by one with
/// every change (register, update, health change, deregister, expiry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Version of the last change included.
    pub version: u64,
    /// Instances, sorted by id.
    pub instances: Vec<ServiceInstance>,
    /// `true` when the backend could not be reached and this is the last known state
    /// (the Redis backend while Redis is down). Fresh reads are never stale.
    #[serde(default)]
    pub stale: bool,
}

impl Snapshot {
    /// A fresh snapshot; sorts `instances` by id.
    pub fn new(version: u64, mut instances: Vec<ServiceInstance>) -> Self {
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Self { version, instances, stale: false }
    }

    /// The instance with `id`, if present.
    pub fn get(&self, id: &str) -> Option<&ServiceInstance> {
        self.position(id).ok().map(|i| &self.instances[i])
    }

    /// Ids in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.instances.iter().map(|i| i.id.as_str())
    }

    /// Instances that are [`Health::Ready`](super::Health::Ready).
    pub fn ready(&self) -> impl Iterator<Item = &ServiceInstance> {
        self.instances.iter().filter(|i| i.health.is_ready())
    }

    /// Applies one watch event, so a consumer can keep its own copy current:
    /// [`WatchEvent::Resync`] replaces everything, the others change one instance and set
    /// the version. Events not newer than the snapshot are ignored (returns `false`).
    pub fn apply(&mut self, event: &WatchEvent) -> bool {
        if let WatchEvent::Resync(snapshot) = event {
            *self = snapshot.clone();
            return true;
        }
        if event.version() <= self.version {
            return false;
        }
        self.version = event.version();
        match event {
            WatchEvent::Added { instance, .. } | WatchEvent::Updated { instance, .. } => {
                match self.position(&instance.id) {
                    Ok(i) => self.instances[i] = instance.clone(),
                    Err(i) => self.instances.insert(i, instance.clone()),
                }
            }
            WatchEvent::Removed { id, .. } => {
                if let Ok(i) = self.position(id) {
                    self.instances.remove(i);
                }
            }
            WatchEvent::Resync(_) => {}
        }
        true
    }

    fn position(&self, id: &str) -> Result<usize, usize> {
        self.instances.binary_search_by(|i| i.id.as_str().cmp(id))
    }
}

/// One change seen by a [`Watch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WatchEvent {
    /// A new instance.
    Added {
        /// Version of this change.
        version: u64,
        /// The instance as registered.
        instance: ServiceInstance,
    },
    /// An existing instance changed (re-registered with new fields, or its health changed).
    Updated {
        /// Version of this change.
        version: u64,
        /// The instance after the change.
        instance: ServiceInstance,
    },
    /// An instance left: deregistered, lease dropped, or expired.
    Removed {
        /// Version of this change.
        version: u64,
        /// Id of the instance that left.
        id: String,
    },
    /// The full current state. Always the first event of a watch; emitted again whenever
    /// the watcher may have missed changes (a reconnect, a lagging consumer, a version
    /// gap). Replace your whole view with it.
    Resync(Snapshot),
}

impl WatchEvent {
    /// The version this event brings the watcher to.
    pub fn version(&self) -> u64 {
        match self {
            Self::Added { version, .. }
            | Self::Updated { version, .. }
            | Self::Removed { version, .. } => *version,
            Self::Resync(s) => s.version,
        }
    }

    /// The id of the instance changed (`None` for a resync).
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Added { instance, .. } | Self::Updated { instance, .. } => Some(&instance.id),
            Self::Removed { id, .. } => Some(id),
            Self::Resync(_) => None,
        }
    }
}

/// The stream returned by [`Registry::watch`](super::Registry::watch).
///
/// It yields [`WatchEvent`]s in version order: first a [`WatchEvent::Resync`] with the
/// current state, then every change, with a new `Resync` whenever continuity cannot be
/// proven. Folding the events with [`Snapshot::apply`] always converges to the registry's
/// state. Dropping the `Watch` stops any background work behind it. The stream ends only
/// when its registry is gone.
pub struct Watch {
    inner: Pin<Box<dyn Stream<Item = WatchEvent> + Send>>,
}

impl Watch {
    /// Wraps a backend's event stream (for backend implementors).
    pub fn new(stream: impl Stream<Item = WatchEvent> + Send + 'static) -> Self {
        Self { inner: Box::pin(stream) }
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl Stream for Watch {
    type Item = WatchEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        self.inner.as_mut().poll_next(cx)
    }
}
