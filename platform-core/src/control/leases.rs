//! The server side of HTTP leases: one registry [`Lease`] per registered instance, kept
//! while its client heartbeats.
//!
//! The service holds the backend lease (which renews the backend every TTL / 3) and a
//! deadline one TTL after the client's last heartbeat. When the deadline passes, the
//! lease is *abandoned*, not released: the backend expires the instance one TTL after
//! its last renewal. Abandoning rather than deregistering keeps replicas of the service
//! that share a Redis registry from removing an instance whose heartbeats now reach
//! another replica. Every way an entry leaves the table (deadline, deregistration,
//! replacement, the service shutting down) abandons its lease, so a restarting service
//! never deregisters the fleet.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::registry::Lease;

type Key = (String, String);

/// The leases the service holds for its clients.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    entries: Mutex<HashMap<Key, Entry>>,
    generations: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    ttl: Duration,
    deadline: watch::Sender<Instant>,
    lease: Option<Lease>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.abandon();
        }
    }
}

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // Each change is one insert or remove.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `lease` until its client stops heartbeating; replaces (and abandons) an
    /// earlier lease of the same instance.
    pub(crate) fn hold(self: &Arc<Self>, lease: Lease) {
        let key = (lease.service().to_owned(), lease.id().to_owned());
        let ttl = lease.ttl();
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let (deadline, rx) = watch::channel(Instant::now() + ttl);
        let entry = Entry { generation, ttl, deadline, lease: Some(lease) };
        let replaced = self.lock().insert(key.clone(), entry);
        drop(replaced);
        tokio::spawn(expire(Arc::downgrade(self), key, generation, rx));
    }

    /// Extends the instance's deadline by its TTL; `false` when no lease is held for it.
    pub(crate) fn heartbeat(&self, service: &str, id: &str) -> bool {
        let entries = self.lock();
        let Some(entry) = entries.get(&(service.to_owned(), id.to_owned())) else {
            return false;
        };
        entry.deadline.send_replace(Instant::now() + entry.ttl);
        true
    }

    /// Stops holding the instance's lease (before an explicit deregistration).
    pub(crate) fn forget(&self, service: &str, id: &str) {
        let removed = self.lock().remove(&(service.to_owned(), id.to_owned()));
        drop(removed);
    }

    /// How many leases are held.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Abandons the lease once its deadline passes without a heartbeat; ends when the entry
/// leaves the table.
async fn expire(
    leases: Weak<Leases>,
    key: Key,
    generation: u64,
    mut deadline: watch::Receiver<Instant>,
) {
    loop {
        let at = *deadline.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep_until(at) => {
                let Some(leases) = leases.upgrade() else { return };
                let mut entries = leases.lock();
                let expired = entries.get(&key).is_some_and(|e| {
                    e.generation == generation && *e.deadline.borrow() <= Instant::now()
                });
                if expired {
                    tracing::info!(
                        target: "platform::control",
                        service = %key.0, id = %key.1,
                        "no heartbeat within the TTL; the lease is abandoned and the instance expires"
                    );
                    let entry = entries.remove(&key);
                    drop(entries);
                    drop(entry);
                    return;
                }
            }
            changed = deadline.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
