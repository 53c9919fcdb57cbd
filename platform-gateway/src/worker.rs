//! Which worker the current thread is: the identity [`Server::serve_workers`] gives each
//! of its threads, so that state tied to one runtime — upstream connections, registered
//! with that runtime's I/O driver — stays with the worker that opened it.
//!
//! A worker takes the lowest free slot (process-wide, so two sets of workers never share
//! one) and a fresh epoch. Slots are reused once a worker ends; the epoch tells a new
//! worker in an old slot from the one before it, whose connections belonged to a runtime
//! that is gone. What a worker leaves behind is cleared when it ends ([`at_exit`]).
//!
//! [`Server::serve_workers`]: crate::Server::serve_workers

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most workers that can run at once in one process.
pub(crate) const MAX_WORKERS: usize = 1024;

/// A worker: its slot (below [`MAX_WORKERS`]) and its epoch (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerId {
    pub(crate) slot: usize,
    pub(crate) epoch: u64,
}

/// Which slots are taken.
static TAKEN: Mutex<Vec<bool>> = Mutex::new(Vec::new());
/// The next epoch; 0 is never handed out.
static EPOCH: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This worker's [`yield_after`] budget, if it has one.
    static BUDGET: Cell<Option<Duration>> = const { Cell::new(None) };
    /// Since when this thread has run without sleeping (or since it last yielded).
    static RUNNING_SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// When this thread's runtime last went to park.
    static PARKED_AT: Cell<Option<Instant>> = const { Cell::new(None) };
    static CURRENT: Cell<Option<WorkerId>> = const { Cell::new(None) };
    /// What to do when the current worker ends.
    static AT_EXIT: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` when the current thread's worker ends (dropped at once, not run, on a
/// thread that is no worker).
pub(crate) fn at_exit(f: impl FnOnce() + 'static) {
    if current().is_some() {
        AT_EXIT.with(|a| a.borrow_mut().push(Box::new(f)));
    }
}

/// Has the current thread give its CPU away (`sched_yield`) whenever it has run for
/// `budget` without sleeping or yielding — checked as each request begins
/// ([`request_begun`]) and before its runtime polls for I/O ([`parking`]) — so that other
/// threads waiting for this CPU (a co-located upstream, other processes) run then rather
/// than at the kernel's next scheduler tick, where an event loop that always has work
/// ready would otherwise keep it. The thread sleeps when its runtime parks and finds
/// nothing to do ([`unparked`] tells). Install [`parking`] and [`unparked`] as the
/// runtime's park hooks.
pub(crate) fn yield_after(budget: Duration) {
    BUDGET.set(Some(budget));
    RUNNING_SINCE.set(Some(Instant::now()));
}

/// A request begins on this thread: a worker past its [`yield_after`] budget yields.
/// One thread-local read on threads without a budget.
pub(crate) fn request_begun() {
    yield_if_due();
}

/// Yields if the thread has a budget and has run that long since it last slept or
/// yielded.
fn yield_if_due() {
    let Some(budget) = BUDGET.get() else { return };
    if RUNNING_SINCE.get().is_none_or(|since| since.elapsed() >= budget) {
        std::thread::yield_now();
        RUNNING_SINCE.set(Some(Instant::now()));
    }
}

/// A park of the runtime at least this long slept: the kernel ran something else
/// meanwhile. One that found events ready returns in a few microseconds.
const SLEPT: Duration = Duration::from_micros(20);

/// The worker runtime's `on_thread_park` hook: yields if due (see [`yield_after`]), and
/// notes when the park began.
pub(crate) fn parking() {
    yield_if_due();
    PARKED_AT.set(Some(Instant::now()));
}

/// The worker runtime's `on_thread_unpark` hook: a park that slept starts a new run.
pub(crate) fn unparked() {
    let now = Instant::now();
    if slept(PARKED_AT.get(), now) {
        RUNNING_SINCE.set(Some(now));
    }
}

/// Whether a park from `parked_at` to `now` slept.
fn slept(parked_at: Option<Instant>, now: Instant) -> bool {
    parked_at.is_some_and(|at| now.saturating_duration_since(at) >= SLEPT)
}

/// The worker the current thread is, if it is one.
pub(crate) fn current() -> Option<WorkerId> {
    CURRENT.with(Cell::get)
}

/// Makes the current thread a worker until the guard is dropped.
///
/// # Errors
/// When [`MAX_WORKERS`] workers run already.
pub(crate) fn enter() -> Result<WorkerGuard, TooManyWorkers> {
    let slot = {
        let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match taken.iter().position(|t| !t) {
            Some(free) => free,
            None if taken.len() < MAX_WORKERS => {
                taken.push(false);
                taken.len() - 1
            }
            None => return Err(TooManyWorkers),
        };
        taken[slot] = true;
        slot
    };
    let id = WorkerId { slot, epoch: EPOCH.fetch_add(1, Ordering::Relaxed) };
    let previous = CURRENT.with(|c| c.replace(Some(id)));
    Ok(WorkerGuard { id, previous })
}

/// More than [`MAX_WORKERS`] workers at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at most {MAX_WORKERS} gateway workers can run at once in one process")]
pub(crate) struct TooManyWorkers;

/// The current thread's worker identity; frees the slot when dropped.
#[derive(Debug)]
pub(crate) struct WorkerGuard {
    id: WorkerId,
    previous: Option<WorkerId>,
}

impl WorkerGuard {
    /// This worker.
    #[cfg(test)]
    pub(crate) fn id(&self) -> WorkerId {
        self.id
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        for f in AT_EXIT.with(RefCell::take) {
            f();
        }
        CURRENT.with(|c| c.set(self.previous));
        let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = taken.get_mut(self.id.slot) {
            *t = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_distinct_slots_and_epochs_and_slots_are_reused() {
        assert_eq!(current(), None);
        let a = enter().unwrap();
        assert_eq!(current(), Some(a.id()));
        let b = std::thread::spawn(|| {
            let b = enter().unwrap();
            assert_eq!(current(), Some(b.id()));
            b.id()
        })
        .join()
        .unwrap();
        // Other tests may hold slots too: only distinctness and reuse are certain.
        assert_ne!(a.id().slot, b.slot, "two workers at once never share a slot");
        let a_id = a.id();
        drop(a);
        assert_eq!(current(), None, "the thread is no worker once the guard is gone");
        let again = enter().unwrap();
        assert!(again.id().epoch > a_id.epoch.max(b.epoch), "epochs are never reused");
    }

    #[test]
    fn a_worker_yields_once_it_has_run_its_budget() {
        let budget = Duration::from_millis(300);
        yield_after(budget);
        let start = RUNNING_SINCE.get().expect("a budget starts a run");
        // Requests and parks within the budget: no yield, the run goes on.
        for _ in 0..5 {
            request_begun();
            parking();
        }
        assert_eq!(RUNNING_SINCE.get(), Some(start), "no yield within the budget");
        // The thread runs past its budget without sleeping: the next request yields, and
        // the run starts afresh.
        std::thread::sleep(budget);
        request_begun();
        let after = RUNNING_SINCE.get().unwrap();
        assert!(after >= start + budget, "yielded past the budget: a new run from then");
        request_begun();
        assert_eq!(RUNNING_SINCE.get(), Some(after), "once");
        // Past it again: a park yields too.
        std::thread::sleep(budget);
        parking();
        assert!(RUNNING_SINCE.get().unwrap() >= after + budget, "a park yields when due");
        BUDGET.set(None);
    }

    #[test]
    fn threads_without_a_budget_never_yield() {
        RUNNING_SINCE.set(None);
        request_begun();
        parking();
        assert_eq!(RUNNING_SINCE.get(), None);
    }

    #[test]
    fn only_a_park_that_slept_starts_a_new_run() {
        let at = Instant::now();
        assert!(!slept(Some(at), at + Duration::from_micros(3)), "found events ready");
        assert!(slept(Some(at), at + Duration::from_millis(1)));
        assert!(!slept(None, at), "no park seen");
        // Through the hooks: a real sleep between them resets the run.
        RUNNING_SINCE.set(None);
        parking();
        std::thread::sleep(Duration::from_millis(2));
        unparked();
        let since = RUNNING_SINCE.get().expect("a park that slept starts a run");
        assert!(since.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn exit_tasks_run_when_the_worker_ends_and_only_for_workers() {
        let ran = std::rc::Rc::new(Cell::new(0));
        let r = ran.clone();
        at_exit(move || r.set(r.get() + 1));
        assert_eq!(ran.get(), 0);
        let guard = enter().unwrap();
        let r = ran.clone();
        at_exit(move || r.set(r.get() + 10));
        assert_eq!(ran.get(), 0, "not before the worker ends");
        drop(guard);
        assert_eq!(ran.get(), 10, "the worker's task ran, the one from before it did not");
        drop(enter().unwrap());
        assert_eq!(ran.get(), 10, "once");
    }
}
