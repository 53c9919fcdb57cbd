//! Choosing one endpoint per attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{BalancePolicy, Endpoint, EndpointSet};

/// The per-upstream balancer: the policy and its counters.
#[derive(Debug)]
pub(crate) struct Balancer {
    policy: BalancePolicy,
    counter: AtomicU64,
}

impl Balancer {
    pub(crate) fn new(policy: BalancePolicy) -> Self {
        Self { policy, counter: AtomicU64::new(0) }
    }

    pub(crate) fn policy(&self) -> &BalancePolicy {
        &self.policy
    }

    /// Picks an endpoint from `set`, avoiding the `tried` ids while others remain;
    /// `key` is the request's hash key for consistent hashing.
    pub(crate) fn pick(
        &self,
        set: &EndpointSet,
        key: Option<u64>,
        tried: &[Arc<str>],
    ) -> Option<Arc<Endpoint>> {
        self.choose(set, key, tried, false)
    }

    /// What [`pick`](Self::pick) would choose now, without moving the round-robin or
    /// weighted position (p2c still draws its two at random).
    pub(crate) fn preview(&self, set: &EndpointSet, key: Option<u64>) -> Option<Arc<Endpoint>> {
        self.choose(set, key, &[], true)
    }

    fn choose(
        &self,
        set: &EndpointSet,
        key: Option<u64>,
        tried: &[Arc<str>],
        peek: bool,
    ) -> Option<Arc<Endpoint>> {
        let list = &set.list;
        if list.is_empty() {
            return None;
        }
        let fresh = |e: &Arc<Endpoint>| !tried.iter().any(|t| t == e.id_arc());
        let any_fresh = tried.is_empty() || list.iter().any(fresh);
        let usable = |e: &Arc<Endpoint>| !any_fresh || fresh(e);
        let picked = match &self.policy {
            BalancePolicy::RoundRobin => self.in_turn(list.len(), peek, |i| usable(&list[i])),
            BalancePolicy::Weighted => self.weighted(set, peek, &usable),
            BalancePolicy::ConsistentHash(c) => match (key, &set.ring) {
                (Some(hash), Some(ring)) => {
                    let total: usize = list.iter().map(|e| e.in_flight()).sum();
                    let cap = (c.load_factor * (total + 1) as f64 / list.len() as f64).ceil();
                    let mut first = None;
                    let mut within = None;
                    for idx in ring.walk(hash, list.len()) {
                        if !usable(&list[idx]) {
                            continue;
                        }
                        first.get_or_insert(idx);
                        if (list[idx].in_flight() + 1) as f64 <= cap {
                            within = Some(idx);
                            break;
                        }
                    }
                    within.or(first)
                }
                _ => p2c(list, &usable, !tried.is_empty()),
            },
            BalancePolicy::PeakEwma(_) => p2c(list, &usable, !tried.is_empty()),
        };
        picked.map(|i| Arc::clone(&list[i]))
    }

    /// The turn counter; advanced unless `peek`.
    fn position(&self, peek: bool) -> u64 {
        if peek {
            self.counter.load(Ordering::Relaxed)
        } else {
            self.counter.fetch_add(1, Ordering::Relaxed)
        }
    }

    /// The next index in turn that is `ok`.
    fn in_turn(&self, len: usize, peek: bool, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let start = self.position(peek);
        (0..len as u64).map(|k| ((start + k) % len as u64) as usize).find(|i| ok(*i))
    }

    fn weighted(
        &self,
        set: &EndpointSet,
        peek: bool,
        usable: &impl Fn(&Arc<Endpoint>) -> bool,
    ) -> Option<usize> {
        let total = *set.cumulative.last()?;
        let n = self.position(peek);
        let pos = n.wrapping_mul(set.stride) % total;
        let idx = set.cumulative.partition_point(|c| *c <= pos);
        if usable(&set.list[idx]) {
            return Some(idx);
        }
        (0..set.list.len()).map(|k| (idx + k) % set.list.len()).find(|i| usable(&set.list[*i]))
    }
}

/// Power of two choices: the less loaded of two random usable endpoints. Without
/// `filter` every endpoint is usable and nothing is allocated.
fn p2c(
    list: &[Arc<Endpoint>],
    usable: &impl Fn(&Arc<Endpoint>) -> bool,
    filter: bool,
) -> Option<usize> {
    let candidates: Vec<usize> =
        if filter { (0..list.len()).filter(|i| usable(&list[*i])).collect() } else { Vec::new() };
    let n = if filter { candidates.len() } else { list.len() };
    let at = |k: usize| if filter { candidates[k] } else { k };
    match n {
        0 => None,
        1 => Some(at(0)),
        n => {
            let a = fastrand::usize(..n);
            let mut b = fastrand::usize(..n - 1);
            if b >= a {
                b += 1;
            }
            let (a, b) = (at(a), at(b));
            Some(if list[b].load() < list[a].load() { b } else { a })
        }
    }
}
