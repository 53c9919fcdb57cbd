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
use std::task::{Poll, Waker};

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
    /// Requests begun on this thread (see [`request_begun`]).
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
    /// The waker of this thread's [`yield_each_pass`] task while it sleeps.
    static YIELDER: Cell<Option<Waker>> = const { Cell::new(None) };
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

/// Counts a request begun on this thread, and wakes the thread's
/// [`yield_each_pass`] task if it sleeps. Cheap: two thread-local cells.
pub(crate) fn request_begun() {
    REQUESTS.with(|r| r.set(r.get().wrapping_add(1)));
    if let Some(waker) = YIELDER.take() {
        waker.wake();
    }
}

/// Gives the CPU away once per pass of the worker's scheduler while requests arrive:
/// after each pass in which a request began, the thread calls `sched_yield`, so other
/// threads waiting for this CPU (a co-located upstream, other processes) run then rather
/// than at the next scheduler tick — where an event loop that always has work ready
/// would otherwise keep it. When no request began since the last pass the task sleeps
/// until one does, so an idle worker does not spin. Runs until its runtime ends.
pub(crate) async fn yield_each_pass() {
    let mut seen = REQUESTS.with(Cell::get);
    loop {
        // Back after the scheduler's next pass (tokio defers a yielding task until the
        // tasks ready now have run and I/O has been polled).
        tokio::task::yield_now().await;
        let now = REQUESTS.with(Cell::get);
        if now != seen {
            seen = now;
            std::thread::yield_now();
            continue;
        }
        std::future::poll_fn(|cx| {
            if REQUESTS.with(Cell::get) != seen {
                return Poll::Ready(());
            }
            YIELDER.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
        seen = REQUESTS.with(Cell::get);
    }
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

    /// Whether this thread's yielder sleeps (has left its waker).
    fn asleep() -> bool {
        let waker = YIELDER.take();
        let asleep = waker.is_some();
        YIELDER.set(waker);
        asleep
    }

    #[test]
    fn the_yielder_sleeps_without_requests_and_wakes_for_one() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let task = tokio::spawn(yield_each_pass());
            // Idle: after a few scheduler passes the yielder sleeps, registered for a
            // request, rather than being rescheduled pass after pass.
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            assert!(asleep(), "asleep with no request begun");
            request_begun();
            assert!(!asleep(), "a request wakes it");
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            assert!(asleep(), "asleep again once requests stop");
            task.abort();
        });
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
