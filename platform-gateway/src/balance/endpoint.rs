//! One endpoint of an upstream and its load, and the set a balancer picks from.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::uri::Authority;
use tokio::time::Instant;

use super::ring::Ring;
use super::{BalancePolicy, PeakEwmaConfig};
use crate::upstream::EndpointService;

/// One instance of an upstream: its address, its load and the client that reaches it.
pub struct Endpoint {
    id: Arc<str>,
    authority: Authority,
    /// `authority` as text, shared by the responses it serves (error and idle-timeout
    /// reports name it).
    address: Arc<str>,
    weight: u32,
    in_flight: AtomicUsize,
    rtt: Mutex<Rtt>,
    ewma: PeakEwmaConfig,
    pub(crate) service: EndpointService,
}

/// A peak-sensitive moving average of response times.
#[derive(Debug)]
struct Rtt {
    estimate_ns: f64,
    updated: Instant,
}

impl Endpoint {
    pub(crate) fn new(
        id: &str,
        authority: Authority,
        weight: u32,
        ewma: PeakEwmaConfig,
        service: EndpointService,
    ) -> Self {
        let rtt = Rtt { estimate_ns: nanos(ewma.default_rtt), updated: Instant::now() };
        Self {
            id: id.into(),
            address: authority.as_str().into(),
            authority,
            weight: weight.max(1),
            in_flight: AtomicUsize::new(0),
            rtt: Mutex::new(rtt),
            ewma,
            service,
        }
    }

    /// The instance id (static endpoints: their `host:port`).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.id
    }

    /// `host:port` the gateway connects to.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// [`authority`](Self::authority) as shared text.
    pub(crate) fn address(&self) -> &Arc<str> {
        &self.address
    }

    /// The weight (relative share for the weighted policy, ring points for hashing).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Requests sent and not yet answered (response head not yet received).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The PeakEwma load: the decayed latency estimate (ns) × (in flight + 1).
    pub fn load(&self) -> f64 {
        let now = Instant::now();
        let rtt = self.rtt.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = nanos(now.saturating_duration_since(rtt.updated));
        let decayed = rtt.estimate_ns * (-elapsed / nanos(self.ewma.decay)).exp();
        decayed.max(1.0) * (self.in_flight() + 1) as f64
    }

    /// Records one exchange: its time to the response head and whether it failed.
    /// `now` is when the response head arrived (the caller has read the clock).
    pub(crate) fn observe_at(&self, rtt: Duration, failed: bool, now: Instant) {
        let rtt = if failed { rtt.max(self.ewma.failure_penalty) } else { rtt };
        let sample = nanos(rtt);
        let mut est = self.rtt.lock().unwrap_or_else(PoisonError::into_inner);
        if sample > est.estimate_ns {
            est.estimate_ns = sample;
        } else {
            let elapsed = nanos(now.saturating_duration_since(est.updated));
            let w = (-elapsed / nanos(self.ewma.decay)).exp();
            est.estimate_ns = est.estimate_ns * w + sample * (1.0 - w);
        }
        est.updated = now;
    }

    /// Counts a request in flight until the guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight { endpoint: Arc::clone(self) }
    }
}

fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("authority", &self.authority)
            .field("weight", &self.weight)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// One request in flight on an endpoint.
#[derive(Debug)]
pub(crate) struct InFlight {
    endpoint: Arc<Endpoint>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The endpoints in rotation, with what the policy precomputes over them.
#[derive(Debug, Default)]
pub(crate) struct EndpointSet {
    pub(crate) list: Vec<Arc<Endpoint>>,
    /// Weighted: running sums of weights, and a stride coprime with their total.
    pub(crate) cumulative: Vec<u64>,
    pub(crate) stride: u64,
    pub(crate) ring: Option<Ring>,
}

impl EndpointSet {
    pub(crate) fn new(list: Vec<Arc<Endpoint>>, policy: &BalancePolicy) -> Self {
        let mut set = Self { list, ..Self::default() };
        match policy {
            BalancePolicy::Weighted => {
                let mut sum = 0;
                set.cumulative = set
                    .list
                    .iter()
                    .map(|e| {
                        sum += u64::from(e.weight);
                        sum
                    })
                    .collect();
                set.stride = stride(sum);
            }
            BalancePolicy::ConsistentHash(c) => set.ring = Some(Ring::new(&set.list, c.replicas)),
            _ => {}
        }
        set
    }
}

/// A step near 0.618 × `total` that is coprime with it, so stepping through
/// `0..total` by it visits every position once per cycle, well spread.
fn stride(total: u64) -> u64 {
    if total <= 1 {
        return 1;
    }
    let mut s = ((total as f64 * 0.618) as u64).max(1);
    while gcd(s, total) != 1 {
        s += 1;
    }
    s
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stride_is_coprime() {
        for total in 1..500 {
            let s = stride(total);
            assert_eq!(gcd(s, total.max(1)), 1, "{total}");
        }
    }
}
