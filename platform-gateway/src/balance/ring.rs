//! The consistent-hash ring and the key hash.

use std::sync::Arc;

use super::Endpoint;

/// FNV-1a, then a splitmix64 finalizer: stable across runs, builds and platforms (the
/// standard library's hasher promises none of that).
pub(crate) fn hash_key(bytes: &[u8]) -> u64 {
    hash_salted(0, bytes)
}

/// [`hash_key`] in a space of its own per `salt` (salt 0 is `hash_key`): two salts place
/// the same key independently.
pub(crate) fn hash_salted(salt: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Points on a hash ring, each owned by an endpoint (by index into the set's list).
#[derive(Debug, Default)]
pub(crate) struct Ring {
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// `replicas` × weight / 100 points per endpoint (at least one), placed by hashing the
    /// endpoint id and the point number, so an endpoint keeps its points while others come
    /// and go.
    pub(crate) fn new(endpoints: &[Arc<Endpoint>], replicas: u32) -> Self {
        let mut points = Vec::new();
        for (idx, ep) in endpoints.iter().enumerate() {
            let n = (u64::from(replicas) * u64::from(ep.weight()) / 100).max(1);
            let base = hash_key(ep.id().as_bytes());
            for i in 0..n {
                points.push((mix(base ^ mix(i.wrapping_add(1))), idx));
            }
        }
        points.sort_unstable();
        Self { points }
    }

    /// Endpoint indexes clockwise from `hash`, each endpoint once.
    pub(crate) fn walk(&self, hash: u64, endpoints: usize) -> impl Iterator<Item = usize> + '_ {
        let start = self.points.partition_point(|(p, _)| *p < hash);
        let len = self.points.len();
        let mut seen = vec![false; endpoints];
        (0..len).filter_map(move |k| {
            let (_, idx) = self.points[(start + k) % len];
            (!std::mem::replace(&mut seen[idx], true)).then_some(idx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        assert_eq!(hash_key(b"user-1"), hash_key(b"user-1"));
        assert_ne!(hash_key(b"user-1"), hash_key(b"user-2"));
        // Pinned: a change here moves every sticky key to another endpoint.
        assert_eq!(hash_key(b""), mix(0xcbf2_9ce4_8422_2325));
    }
}
