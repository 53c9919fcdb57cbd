//! Spreading one listening socket's connections evenly over several workers.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Spreads the connections of one listening socket evenly over several workers, each
/// a [`Server`](super::Server) on a runtime (and usually a thread) of its own.
///
/// Every worker accepts from its own handle on the *same* socket (a
/// [`try_clone`](std::net::TcpListener::try_clone) of one listener), but only while
/// it has no more open connections than any other worker; a worker with more waits
/// until another accepts. So connections land on the least loaded worker, whichever
/// worker the kernel wakes first; a new connection waits in the socket's backlog until
/// a least loaded worker gets to it.
///
/// When to use it rather than one `SO_REUSEPORT` socket per worker, where the kernel
/// picks each connection's worker by a hash of its addresses, blind to load:
///
/// * few, long-lived connections — a load balancer's handful of keep-alive or HTTP/2
///   connections: by hash, 4 connections over 2 workers all land on one of them 1 time
///   in 8, leaving the other idle; here they split 2 and 2;
/// * systems where `SO_REUSEPORT` does not spread connections (it does on Linux; FreeBSD
///   calls that `SO_REUSEPORT_LB`);
/// * a shared socket in any case: without this, a connection goes to whichever worker
///   the kernel wakes, which can be very uneven.
///
/// With many connections on Linux, `SO_REUSEPORT` spreads them well enough: in the
/// gateway's load test (64 connections, two workers) it gave the same or lower latency
/// than this (`docs/benchmarks.md`).
///
/// ```no_run
/// use platform_gateway::AcceptSpread;
/// use platform_gateway::{Gateway, Server, ServerConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let workers = 2;
/// let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
/// listener.set_nonblocking(true)?;
/// let spread = AcceptSpread::new(workers);
/// let mut threads = Vec::new();
/// for worker in 0..workers {
///     let (listener, spread) = (listener.try_clone()?, spread.clone());
///     threads.push(std::thread::spawn(move || -> std::io::Result<()> {
///         let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
///         runtime.block_on(async move {
///             // Each worker its own gateway (and so its own upstream connections).
///             let gateway = Gateway::builder().build().map_err(std::io::Error::other)?;
///             let listener = tokio::net::TcpListener::from_std(listener)?;
///             Server::new(gateway, ServerConfig::default())
///                 .spread(&spread, worker)
///                 .serve(listener)
///                 .await;
///             Ok(())
///         })
///     }));
/// }
/// for thread in threads {
///     thread.join().expect("a worker panicked")?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AcceptSpread {
    inner: Arc<Inner>,
}

struct Inner {
    /// Open connections of each worker; `usize::MAX` once a worker has stopped
    /// accepting, so it is never the least loaded.
    open: Box<[AtomicUsize]>,
    /// Notified whenever a worker accepts or stops: a waiting worker may now be among
    /// the least loaded.
    changed: Notify,
}

impl AcceptSpread {
    /// Balancing for `workers` workers, numbered `0..workers`.
    ///
    /// # Panics
    ///
    /// If `workers` is 0.
    pub fn new(workers: usize) -> Self {
        assert!(workers > 0, "AcceptSpread needs at least one worker");
        Self {
            inner: Arc::new(Inner {
                open: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
                changed: Notify::new(),
            }),
        }
    }

    /// How many workers share the socket.
    pub fn workers(&self) -> usize {
        self.inner.open.len()
    }

    /// The connections each worker has open now (`None` for a worker that has stopped
    /// accepting).
    pub fn open_connections(&self) -> Vec<Option<usize>> {
        self.inner
            .open
            .iter()
            .map(|n| Some(n.load(Ordering::Relaxed)).filter(|&n| n != usize::MAX))
            .collect()
    }

    /// Worker `worker`'s place in the balance.
    ///
    /// # Panics
    ///
    /// If `worker` is not below [`workers`](Self::workers).
    pub(crate) fn slot(&self, worker: usize) -> Slot {
        assert!(
            worker < self.workers(),
            "worker {worker} of an AcceptSpread for {} workers",
            self.workers()
        );
        Slot { spread: self.clone(), worker }
    }
}

impl fmt::Debug for AcceptSpread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptSpread").field("open", &self.open_connections()).finish()
    }
}

/// One worker's place in an [`AcceptSpread`].
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    spread: AcceptSpread,
    worker: usize,
}

impl Slot {
    fn open(&self) -> &AtomicUsize {
        &self.spread.inner.open[self.worker]
    }

    /// Whether this worker has no more open connections than any other.
    pub(crate) fn may_accept(&self) -> bool {
        let mine = self.open().load(Ordering::Acquire);
        self.spread.inner.open.iter().all(|n| n.load(Ordering::Acquire) >= mine)
    }

    /// Resolves after some worker accepted or stopped. Enable (poll, or
    /// [`enable`](tokio::sync::futures::Notified::enable)) it *before* calling
    /// [`may_accept`](Self::may_accept), so no change in between is missed.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.spread.inner.changed.notified()
    }

    /// This worker accepted a connection.
    pub(crate) fn opened(&self) {
        self.open().fetch_add(1, Ordering::AcqRel);
        self.spread.inner.changed.notify_waiters();
    }

    /// One of this worker's connections ended.
    pub(crate) fn closed(&self) {
        // Never below zero, and a stopped worker stays stopped.
        let _ = self.open().fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n != 0 && n != usize::MAX).then(|| n - 1)
        });
    }

    /// This worker accepts no more: it no longer counts as the least loaded.
    pub(crate) fn stopped(&self) {
        self.open().store(usize::MAX, Ordering::Release);
        self.spread.inner.changed.notify_waiters();
    }

    /// Marks this worker [stopped](Self::stopped) when dropped.
    pub(crate) fn stopping(&self) -> Stopping<'_> {
        Stopping(self)
    }
}

/// Marks its worker stopped when dropped (see [`Slot::stopping`]).
pub(crate) struct Stopping<'a>(&'a Slot);

impl Drop for Stopping<'_> {
    fn drop(&mut self) {
        self.0.stopped();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_least_loaded_workers_may_accept() {
        let spread = AcceptSpread::new(3);
        let slots: Vec<_> = (0..3).map(|w| spread.slot(w)).collect();
        assert!(slots.iter().all(Slot::may_accept), "all equal: every worker may accept");
        slots[0].opened();
        assert!(!slots[0].may_accept());
        assert!(slots[1].may_accept() && slots[2].may_accept());
        slots[1].opened();
        slots[2].opened();
        slots[2].opened();
        assert_eq!(spread.open_connections(), vec![Some(1), Some(1), Some(2)]);
        assert!(slots[0].may_accept() && slots[1].may_accept() && !slots[2].may_accept());
        slots[0].closed();
        assert!(slots[0].may_accept() && !slots[1].may_accept());
    }

    #[test]
    fn a_stopped_worker_never_holds_the_others_back() {
        let spread = AcceptSpread::new(2);
        let (a, b) = (spread.slot(0), spread.slot(1));
        b.opened();
        assert!(!b.may_accept());
        a.stopped();
        assert!(b.may_accept(), "the only accepting worker accepts, however loaded");
        a.closed();
        assert_eq!(spread.open_connections(), vec![None, Some(1)]);
    }

    #[tokio::test]
    async fn a_waiting_worker_hears_of_an_accept_elsewhere() {
        let spread = AcceptSpread::new(2);
        let (a, b) = (spread.slot(0), spread.slot(1));
        b.opened();
        let changed = b.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        assert!(!b.may_accept());
        a.opened();
        tokio::time::timeout(std::time::Duration::from_secs(5), changed)
            .await
            .expect("the accept elsewhere is announced");
        assert!(b.may_accept());
    }

    #[test]
    #[should_panic(expected = "worker 2 of an AcceptSpread for 2 workers")]
    fn a_worker_number_out_of_range_is_refused() {
        let _ = AcceptSpread::new(2).slot(2);
    }
}
