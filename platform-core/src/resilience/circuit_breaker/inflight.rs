//! Calls admitted but not finished yet, grouped by when they started, so that calls
//! running past the slow-call threshold count as slow before they finish.
//!
//! A ring of [`SLOTS`] atomic words; each word packs the end of a start-time group
//! (milliseconds since the breaker's epoch, 44 bits) and the number of calls of that group
//! still running (20 bits). A group is `slow_call_duration / 4` wide, so the ring spans
//! twice the slow threshold; calls of a group whose slot is recycled are older than that,
//! and move to `ancient`, which always counts as slow.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

const SLOTS: usize = 8;
const COUNT_BITS: u32 = 20;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

fn pack(end_ms: u64, count: u64) -> u64 {
    (end_ms << COUNT_BITS) | (count & COUNT_MASK)
}

fn unpack(word: u64) -> (u64, u64) {
    (word >> COUNT_BITS, word & COUNT_MASK)
}

/// Where a running call was counted; handed back to [`InFlight::leave`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    slot: u8,
    end_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct InFlight {
    ring: [AtomicU64; SLOTS],
    ancient: AtomicI64,
}

/// What [`InFlight::enter`] found: the ticket, and whether it opened a new group
/// (a good moment to re-judge the window, about four times per slow threshold).
pub(crate) struct Entered {
    pub(crate) ticket: Ticket,
    pub(crate) new_group: bool,
}

impl InFlight {
    pub(crate) fn enter(&self, now_ms: u64, slow_ms: u64) -> Entered {
        let width = (slow_ms / 4).max(1);
        let group = now_ms / width;
        let end_ms = (group + 1) * width;
        let slot = (group % SLOTS as u64) as usize;
        let cell = &self.ring[slot];
        let mut word = cell.load(Ordering::Acquire);
        loop {
            let (tag, count) = unpack(word);
            let (next, moved, ticket_end) = if tag >= end_ms {
                // Same group, or a racing newer one: join it (it only looks younger).
                (pack(tag, count + 1), 0, tag)
            } else {
                (pack(end_ms, 1), count, end_ms)
            };
            match cell.compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if moved > 0 {
                        self.ancient.fetch_add(moved as i64, Ordering::AcqRel);
                    }
                    let ticket = Ticket { slot: slot as u8, end_ms: ticket_end };
                    return Entered { ticket, new_group: tag < end_ms };
                }
                Err(w) => word = w,
            }
        }
    }

    pub(crate) fn leave(&self, ticket: Ticket) {
        let cell = &self.ring[usize::from(ticket.slot)];
        let mut word = cell.load(Ordering::Acquire);
        loop {
            let (tag, count) = unpack(word);
            if tag != ticket.end_ms || count == 0 {
                // The group was recycled and its calls moved to `ancient`.
                self.ancient.fetch_sub(1, Ordering::AcqRel);
                return;
            }
            match cell.compare_exchange_weak(
                word,
                pack(tag, count - 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(w) => word = w,
            }
        }
    }

    /// Running calls that started at least `slow_ms` before `now_ms` (counting a group
    /// only once all of it is that old).
    pub(crate) fn slow(&self, now_ms: u64, slow_ms: u64) -> u64 {
        let mut n = u64::try_from(self.ancient.load(Ordering::Acquire)).unwrap_or(0);
        for cell in &self.ring {
            let (end_ms, count) = unpack(cell.load(Ordering::Acquire));
            if count > 0 && end_ms.saturating_add(slow_ms) <= now_ms {
                n += count;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_old_running_calls_and_forgets_finished_ones() {
        let f = InFlight::default();
        let a = f.enter(0, 100).ticket;
        let b = f.enter(10, 100).ticket;
        assert_eq!(f.slow(50, 100), 0);
        assert_eq!(f.slow(125, 100), 2, "group [0,25) ends at 25; 25 + 100 <= 125");
        f.leave(a);
        assert_eq!(f.slow(125, 100), 1);
        f.leave(b);
        assert_eq!(f.slow(1_000, 100), 0);
    }

    #[test]
    fn recycled_groups_move_to_ancient() {
        let f = InFlight::default();
        let old = f.enter(0, 100).ticket;
        // 8 groups of 25ms later the same slot is reused.
        let new = f.enter(200, 100);
        assert!(new.new_group);
        assert_eq!(f.slow(230, 100), 1, "the old call counts as slow via `ancient`");
        f.leave(old);
        assert_eq!(f.slow(230, 100), 0);
        f.leave(new.ticket);
        assert_eq!(f.slow(10_000, 100), 0);
    }
}
