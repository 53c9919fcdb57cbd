//! Sliding windows of call outcomes, updated with atomics only.
//!
//! Both windows record a finished call as a small bit set ([`Sample`]) and answer with
//! [`Totals`]. Neither takes a lock: the count window is a ring of slots whose previous
//! content is swapped out, the time window a ring of epoch-tagged buckets.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// One finished call, as the windows see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

const RECORDED: u8 = 1;
const FAILURE: u8 = 2;
const SLOW: u8 = 4;

impl Sample {
    #[inline]
    fn bits(self) -> u8 {
        RECORDED | if self.failure { FAILURE } else { 0 } | if self.slow { SLOW } else { 0 }
    }
}

/// Calls, failures and slow calls in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

fn flag(bits: u8, f: u8) -> i64 {
    i64::from(bits & f != 0)
}

/// The last `size` recorded calls.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    head: AtomicUsize,
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl CountWindow {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            slots: (0..size.max(1)).map(|_| AtomicU8::new(0)).collect(),
            head: AtomicUsize::new(0),
            calls: AtomicI64::new(0),
            failures: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    pub(crate) fn record(&self, sample: Sample) {
        let new = sample.bits();
        if new == RECORDED && self.all_plain_successes() {
            // Replacing the oldest of N identical samples with one more of the same leaves
            // the window unchanged wherever the head is, so the head need not move: the
            // steady state of a healthy service costs no read-modify-write here.
            return;
        }
        let i = self.head.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[i];
        if slot.load(Ordering::Acquire) == new {
            return; // steady state: no write to a shared cache line
        }
        let old = slot.swap(new, Ordering::AcqRel);
        if old != new {
            self.adjust(old, new);
        }
    }

    /// Every slot holds a fast success. Three loads, no write; a record racing with these
    /// loads is ordered after them.
    #[inline]
    fn all_plain_successes(&self) -> bool {
        self.failures.load(Ordering::Acquire) == 0
            && self.slow.load(Ordering::Acquire) == 0
            && usize::try_from(self.calls.load(Ordering::Acquire)) == Ok(self.slots.len())
    }

    fn adjust(&self, old: u8, new: u8) {
        for (counter, f) in [(&self.calls, RECORDED), (&self.failures, FAILURE), (&self.slow, SLOW)]
        {
            let d = flag(new, f) - flag(old, f);
            if d != 0 {
                counter.fetch_add(d, Ordering::AcqRel);
            }
        }
    }

    pub(crate) fn totals(&self) -> Totals {
        // Counters can dip below zero for an instant while two records race on one slot.
        let read = |c: &AtomicI64| u64::try_from(c.load(Ordering::Acquire)).unwrap_or(0);
        Totals { calls: read(&self.calls), failures: read(&self.failures), slow: read(&self.slow) }
    }

    pub(crate) fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::AcqRel);
            if old != 0 {
                self.adjust(old, 0);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Bucket {
    /// Bucket number (time / width) plus one; zero marks an empty bucket.
    tag: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
}

/// Calls recorded in the last `buckets` time buckets of `width` nanoseconds each
/// (the current, partly elapsed bucket included).
///
/// A bucket is recycled by the first record that finds it stale; a record racing with
/// that reset at the bucket boundary may be lost, which only ever under-counts a handful
/// of calls at the instant a bucket turns over.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Bucket]>,
    width: u64,
}

impl TimeWindow {
    pub(crate) fn new(buckets: usize, width_nanos: u64) -> Self {
        Self {
            buckets: (0..buckets.max(1)).map(|_| Bucket::default()).collect(),
            width: width_nanos.max(1),
        }
    }

    pub(crate) fn geometry(&self) -> (usize, u64) {
        (self.buckets.len(), self.width)
    }

    pub(crate) fn record(&self, now_nanos: u64, sample: Sample) {
        let tag = now_nanos / self.width + 1;
        let bucket = &self.buckets[(tag % self.buckets.len() as u64) as usize];
        let current = bucket.tag.load(Ordering::Acquire);
        if current != tag {
            if current > tag {
                return; // recycled by a newer call already; this sample is out of the window
            }
            if bucket
                .tag
                .compare_exchange(current, tag, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                bucket.calls.store(0, Ordering::Release);
                bucket.failures.store(0, Ordering::Release);
                bucket.slow.store(0, Ordering::Release);
            }
        }
        bucket.calls.fetch_add(1, Ordering::AcqRel);
        if sample.failure {
            bucket.failures.fetch_add(1, Ordering::AcqRel);
        }
        if sample.slow {
            bucket.slow.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn totals(&self, now_nanos: u64) -> Totals {
        let newest = now_nanos / self.width + 1;
        let oldest = newest.saturating_sub(self.buckets.len() as u64 - 1).max(1);
        let mut t = Totals::default();
        for b in self.buckets.iter() {
            let tag = b.tag.load(Ordering::Acquire);
            if (oldest..=newest).contains(&tag) {
                t.calls += u64::from(b.calls.load(Ordering::Acquire));
                t.failures += u64::from(b.failures.load(Ordering::Acquire));
                t.slow += u64::from(b.slow.load(Ordering::Acquire));
            }
        }
        t
    }

    pub(crate) fn clear(&self) {
        for b in self.buckets.iter() {
            b.tag.store(0, Ordering::Release);
        }
    }
}

/// Either window, as configured.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    #[inline]
    pub(crate) fn record(&self, now_nanos: u64, sample: Sample) {
        match self {
            Self::Count(w) => w.record(sample),
            Self::Time(w) => w.record(now_nanos, sample),
        }
    }

    pub(crate) fn totals(&self, now_nanos: u64) -> Totals {
        match self {
            Self::Count(w) => w.totals(),
            Self::Time(w) => w.totals(now_nanos),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Self::Count(w) => w.clear(),
            Self::Time(w) => w.clear(),
        }
    }

    /// Whether recording needs the current time.
    #[inline]
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Self::Time(_))
    }
}
