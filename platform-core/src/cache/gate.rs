//! Whether the local level may be used, and the guard that keeps a fill which raced an
//! invalidation from putting the old value back.
//!
//! A node fills its local level with what it read from the remote store or what a loader
//! returned. If an invalidation for that key arrives while the read or load is in flight
//! (another node wrote a newer value; the pub/sub message can overtake the reply on the
//! data connection), inserting afterwards would keep the old value until its TTL. Each
//! key hashes to one of [`STRIPES`] epochs; an invalidation bumps its key's epoch (a flush
//! bumps them all) *before* removing local copies, and a fill takes a [`Ticket`] before
//! its remote call and inserts only if the epoch is unchanged, checking again after the
//! insert and undoing it if an invalidation slipped in between. A fill that loses the race
//! only costs the next read a remote lookup.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Epoch stripes: a write to one key rarely voids fills of unrelated keys.
const STRIPES: usize = 64;

/// Shared by a cache and its invalidation subscriber.
pub(crate) struct LocalGate {
    /// `false` while a two-level cache is not subscribed to invalidations: the local
    /// level is then bypassed, since changes on other nodes would go unnoticed.
    live: AtomicBool,
    epochs: [AtomicU64; STRIPES],
}

/// Taken before a remote read or a load; see the module docs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    stripe: usize,
    epoch: u64,
}

impl LocalGate {
    pub(crate) fn new(live: bool) -> Self {
        Self { live: AtomicBool::new(live), epochs: std::array::from_fn(|_| AtomicU64::new(0)) }
    }

    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
    }

    fn stripe<K: Hash>(key: &K) -> usize {
        // A fixed (unkeyed) hasher: the subscriber and the readers must agree.
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        // Truncation is the point: the low bits pick the stripe.
        #[allow(clippy::cast_possible_truncation)]
        let stripe = hash as usize % STRIPES;
        stripe
    }

    /// Records the epoch of `key`'s stripe before a remote call whose answer may be
    /// cached locally.
    pub(crate) fn ticket<K: Hash>(&self, key: &K) -> Ticket {
        let stripe = Self::stripe(key);
        Ticket { stripe, epoch: self.epochs[stripe].load(Ordering::SeqCst) }
    }

    /// Whether no invalidation touched the ticket's stripe since it was taken.
    pub(crate) fn still_valid(&self, ticket: Ticket) -> bool {
        self.epochs[ticket.stripe].load(Ordering::SeqCst) == ticket.epoch
    }

    /// Call before removing the local copy of `key`.
    pub(crate) fn bump<K: Hash>(&self, key: &K) {
        self.epochs[Self::stripe(key)].fetch_add(1, Ordering::SeqCst);
    }

    /// Call before flushing the whole local level.
    pub(crate) fn bump_all(&self) {
        for epoch in &self.epochs {
            epoch.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_voids_tickets_of_that_key_only_and_a_flush_voids_all() {
        let gate = LocalGate::new(true);
        let a = gate.ticket(&"a");
        // Find a key on another stripe.
        let other = (0..1000)
            .map(|i| format!("k{i}"))
            .find(|k| LocalGate::stripe(k) != LocalGate::stripe(&"a"));
        let other = other.expect("64 stripes");
        let b = gate.ticket(&other);
        gate.bump(&"a");
        assert!(!gate.still_valid(a));
        assert!(gate.still_valid(b));
        assert!(gate.still_valid(gate.ticket(&"a")), "a fresh ticket sees the new epoch");
        gate.bump_all();
        assert!(!gate.still_valid(b));
    }
}
