//! Cheap deadlines for the per-request timers that almost never fire.
//!
//! Every proxied request arms two timers: hyper's header-read timeout while it waits
//! for the next request head, and the upstream response timeout. Each tokio timer costs
//! an insertion into the runtime's timer wheel (under its lock, sometimes waking the
//! driver with a syscall) and a removal when the request completes first — together
//! some 2 500 instructions per request, about 7 % of all the gateway does for one.
//!
//! A [`LazySleep`] far from its deadline instead asks a per-thread [ticker](Ticker) to
//! wake its task at the next tick ([`TICK`]): one push of a waker onto a vector,
//! at most once per tick. Only when the deadline is within two ticks does it arm a
//! precise tokio timer, so it fires exactly when a tokio sleep would — unless the
//! request finishes first, which is what nearly always happens, and then no timer was
//! ever armed. The ticker is a task of the runtime that wakes every [`TICK`] while
//! anyone waits on it and ends when no one has for a while.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// How often a ticker wakes the tasks waiting on it.
pub(crate) const TICK: Duration = Duration::from_millis(32);

/// Ticks without waiters after which a ticker ends.
const IDLE_TICKS: u32 = 64;

/// Wakes the tasks registered with it at every tick.
#[derive(Default)]
struct Ticker {
    waiting: Mutex<Vec<Waker>>,
    /// Counts ticks, so a sleep registers at most once per tick.
    epoch: AtomicU64,
    /// Cleared (under the `waiting` lock) when the ticker's task ends.
    alive: AtomicBool,
}

impl Ticker {
    fn lock(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    static TICKER: RefCell<Option<Arc<Ticker>>> = const { RefCell::new(None) };
}

/// Marks the ticker dead when its task ends or is dropped (runtime shutdown), and
/// wakes whoever still waits so they find another way.
struct Alive(Arc<Ticker>);

impl Drop for Alive {
    fn drop(&mut self) {
        let waiting = {
            let mut waiting = self.0.lock();
            self.0.alive.store(false, Ordering::Release);
            std::mem::take(&mut *waiting)
        };
        for w in waiting {
            w.wake();
        }
    }
}

async fn tick(alive: Alive) {
    let ticker = alive.0.clone();
    let mut idle = 0;
    loop {
        tokio::time::sleep(TICK).await;
        ticker.epoch.fetch_add(1, Ordering::AcqRel);
        let due = std::mem::take(&mut *ticker.lock());
        if due.is_empty() {
            idle += 1;
            if idle >= IDLE_TICKS {
                // `Alive` marks the ticker dead under the lock: a waiter registering
                // meanwhile either made it in before (and is woken) or sees it dead.
                return;
            }
        } else {
            idle = 0;
        }
        for w in due {
            w.wake();
        }
    }
}

/// Which ticker a sleep registered with, and in which of its epochs.
type Registration = (usize, u64);

/// Registers `waker` with this thread's ticker (starting one if needed) unless it is
/// registered there for the coming tick already; `None` outside a tokio runtime.
fn register(waker: &Waker, registered: Option<Registration>) -> Option<Registration> {
    TICKER.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(ticker) = slot.as_ref() {
            let id = Arc::as_ptr(ticker) as usize;
            let epoch = ticker.epoch.load(Ordering::Acquire);
            let mut waiting = ticker.lock();
            if ticker.alive.load(Ordering::Acquire) {
                if registered != Some((id, epoch)) {
                    waiting.push(waker.clone());
                }
                return Some((id, epoch));
            }
        }
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let ticker = Arc::new(Ticker { alive: AtomicBool::new(true), ..Ticker::default() });
        ticker.lock().push(waker.clone());
        handle.spawn(tick(Alive(ticker.clone())));
        let registration = (Arc::as_ptr(&ticker) as usize, ticker.epoch.load(Ordering::Acquire));
        *slot = Some(ticker);
        Some(registration)
    })
}

/// A sleep until `deadline` that costs next to nothing when it is dropped before; see
/// the [module docs](self). Uses tokio's clock, so paused time in tests applies.
pub(crate) struct LazySleep {
    deadline: Instant,
    /// When the sleep was made, if the maker read the clock: the first poll (right
    /// after, nearly always) need not read it again.
    made: Option<Instant>,
    precise: Option<Pin<Box<Sleep>>>,
    /// The ticker and epoch this sleep's waker was last registered in.
    registered: Option<Registration>,
}

impl LazySleep {
    pub(crate) fn until(deadline: Instant) -> Self {
        Self { deadline, made: None, precise: None, registered: None }
    }

    /// A sleep of `duration` from `now` (the caller's reading of the clock).
    pub(crate) fn after(now: Instant, duration: Duration) -> Self {
        Self { deadline: now + duration, made: Some(now), precise: None, registered: None }
    }
}

impl Future for LazySleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(precise) = &mut this.precise {
            return precise.as_mut().poll(cx);
        }
        let now = this.made.take().unwrap_or_else(Instant::now);
        if now >= this.deadline {
            return Poll::Ready(());
        }
        if this.deadline - now > 2 * TICK
            && let Some(registration) = register(cx.waker(), this.registered)
        {
            this.registered = Some(registration);
            return Poll::Pending;
        }
        this.precise.insert(Box::pin(tokio::time::sleep_until(this.deadline))).as_mut().poll(cx)
    }
}

/// `fut`, or `Err(())` when it is not done within `after` (a [`LazySleep`] timer).
pub(crate) async fn timeout<F: Future>(after: Duration, fut: F) -> Result<F::Output, ()> {
    let mut fut = std::pin::pin!(fut);
    let mut sleep = LazySleep::after(Instant::now(), after);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        Pin::new(&mut sleep).poll(cx).map(Err)
    })
    .await
}

/// hyper's timer (the HTTP/1 header-read timeout) over [`LazySleep`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LazyTimer;

struct HyperSleep(LazySleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

thread_local! {
    /// The last clock reading hyper asked this thread's [`LazyTimer`] for: hyper reads
    /// `now` and then asks for a sleep until a deadline from it, which can reuse it.
    static LAST_NOW: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

impl hyper::rt::Timer for LazyTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(LazySleep::after(Instant::now(), duration)))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let mut sleep = LazySleep::until(Instant::from_std(deadline));
        // Earlier than the true time, if anything: the first poll may then register
        // with the ticker rather than arm a timer, never miss the deadline.
        sleep.made = LAST_NOW.take();
        Box::pin(HyperSleep(sleep))
    }

    fn now(&self) -> std::time::Instant {
        let now = Instant::now();
        LAST_NOW.set(Some(now));
        now.into_std()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn long_and_short_sleeps_end_at_their_deadline() {
        for after in [Duration::from_millis(5), Duration::from_secs(3), Duration::from_secs(30)] {
            let start = Instant::now();
            LazySleep::until(start + after).await;
            let took = start.elapsed();
            assert!(took >= after, "{after:?}: ended after {took:?}");
            // Paused time jumps to the next timer: the precise one at the deadline.
            assert!(took < after + TICK, "{after:?}: ended after {took:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_gives_the_output_or_elapses() {
        let quick = timeout(Duration::from_secs(10), async { 7 }).await;
        assert_eq!(quick, Ok(7));
        let start = Instant::now();
        let slow = timeout(Duration::from_secs(10), std::future::pending::<()>()).await;
        assert_eq!(slow, Err(()));
        assert!(start.elapsed() >= Duration::from_secs(10));
        let done = timeout(Duration::from_secs(10), tokio::time::sleep(Duration::from_secs(3)));
        assert_eq!(done.await, Ok(()));
    }

    #[test]
    fn a_new_runtime_on_the_same_thread_gets_a_new_ticker() {
        // The first runtime's ticker dies with it; the second must not wait on it.
        for _ in 0..2 {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            rt.block_on(async {
                let start = Instant::now();
                let result = timeout(Duration::from_millis(150), std::future::pending::<()>());
                assert_eq!(result.await, Err(()));
                let took = start.elapsed();
                assert!(took >= Duration::from_millis(150), "{took:?}");
                assert!(took < Duration::from_secs(5), "{took:?}");
            });
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_ticker_ends_and_a_new_one_starts() {
        timeout(Duration::from_secs(1), std::future::pending::<()>()).await.unwrap_err();
        // Long enough for the ticker to see no waiters and end.
        tokio::time::sleep(TICK * (IDLE_TICKS + 4)).await;
        let dead = TICKER.with(|t| t.borrow().as_ref().map(|t| !t.alive.load(Ordering::Acquire)));
        assert_eq!(dead, Some(true));
        let start = Instant::now();
        timeout(Duration::from_secs(1), std::future::pending::<()>()).await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1) + TICK);
    }
}
