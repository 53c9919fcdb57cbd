//! Entries of the local (moka) level and their per-entry expiry.

use std::time::Duration;

use tokio::time::Instant;

/// A locally cached answer: a value or, for negative caching, `None`.
#[derive(Clone)]
pub(crate) struct Entry<V> {
    pub(crate) value: Option<V>,
    /// Until when the entry is fresh (tokio's clock: pausable in tests). Only read when
    /// stale-while-revalidate is on; otherwise moka's expiry alone decides.
    pub(crate) fresh_until: Instant,
}

/// Expires every entry after its own lifetime, counted from its last write: what is left
/// of its freshness plus the stale grace window. (Computed here rather than stored in the
/// entry, which moka clones on every hit: 32 bytes for a `u64` value instead of 48.)
pub(crate) struct EntryExpiry {
    pub(crate) grace: Duration,
}

impl EntryExpiry {
    fn lifetime<V>(&self, entry: &Entry<V>) -> Duration {
        entry.fresh_until.saturating_duration_since(Instant::now()) + self.grace
    }
}

impl<K, V> moka::Expiry<K, Entry<V>> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &K,
        entry: &Entry<V>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.lifetime(entry))
    }

    fn expire_after_update(
        &self,
        _key: &K,
        entry: &Entry<V>,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.lifetime(entry))
    }
}

/// The outcome of looking a key up.
pub(crate) enum Lookup<V> {
    /// A fresh answer: `Some` value or a cached "not found".
    Fresh(Option<V>),
    /// A value past freshness but inside the grace window.
    Stale(V),
    /// Nothing usable.
    Miss,
}
