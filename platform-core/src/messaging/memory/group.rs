//! One consumer group's queue inside the in-memory broker.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::messaging::Message;

/// A message claimed by a consumer: it comes back at `deadline` unless settled first.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) message: Message,
    pub(super) deadline: Instant,
    pub(super) lease: u64,
}

/// Ready, delayed and in-flight messages of one group, keyed by publish sequence number.
#[derive(Debug, Default)]
pub(super) struct Group {
    ready: BTreeMap<u64, Message>,
    delayed: BTreeMap<(Instant, u64), Message>,
    inflight: HashMap<u64, InFlight>,
    deadlines: BTreeSet<(Instant, u64)>,
    /// Wakes this group's consumers when a message may be ready.
    pub(super) notify: Arc<Notify>,
}

impl Group {
    pub(super) fn len(&self) -> usize {
        self.ready.len() + self.delayed.len() + self.inflight.len()
    }

    /// Enqueues a message (attempt = deliveries so far), visible at once or after `delay`.
    pub(super) fn push(
        &mut self,
        seq: u64,
        message: Message,
        delay: Option<Duration>,
        now: Instant,
    ) {
        match delay {
            Some(d) if !d.is_zero() => {
                self.delayed.insert((now + d, seq), message);
            }
            _ => {
                self.ready.insert(seq, message);
            }
        }
        self.notify.notify_waiters();
    }

    /// Moves delayed messages whose time came and expired leases back to `ready`.
    fn promote(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, seq), msg) = entry.remove_entry();
            self.ready.insert(seq, msg);
        }
        while let Some(&(deadline, seq)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(f) = self.inflight.remove(&seq) {
                self.ready.insert(seq, f.message);
            }
        }
    }

    /// Whether a message is ready (or becomes ready by `now`).
    pub(super) fn has_ready(&mut self, now: Instant) -> bool {
        self.promote(now);
        !self.ready.is_empty()
    }

    /// Claims the oldest ready message under `lease` until `now + visibility`; otherwise
    /// returns when to look again (`None`: only a publish or settlement can help).
    pub(super) fn claim(
        &mut self,
        now: Instant,
        visibility: Duration,
        lease: u64,
    ) -> Result<(u64, Message), Option<Instant>> {
        self.promote(now);
        let Some((seq, mut message)) = self.ready.pop_first() else {
            let next_delayed = self.delayed.keys().next().map(|k| k.0);
            let next_expiry = self.deadlines.first().map(|k| k.0);
            return Err(match (next_delayed, next_expiry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            });
        };
        message.attempt = message.attempt.saturating_add(1);
        let deadline = now + visibility;
        self.deadlines.insert((deadline, seq));
        self.inflight.insert(seq, InFlight { message: message.clone(), deadline, lease });
        Ok((seq, message))
    }

    /// Removes the in-flight message `seq` if `lease` still holds it.
    pub(super) fn release(&mut self, seq: u64, lease: u64) -> Option<Message> {
        match self.inflight.get(&seq) {
            Some(f) if f.lease == lease => {
                let f = self.inflight.remove(&seq)?;
                self.deadlines.remove(&(f.deadline, seq));
                Some(f.message)
            }
            _ => None,
        }
    }
}
