//! Cheap deadlines for the per-request timers that almost never fire.
//!
//! Every proxied request arms two timers: hyper's header-read timeout while it waits
//! for the next request head, and the upstream response timeout. Each tokio timer costs
//! an insertion into the runtime's timer wheel (under its lock, sometimes waking the
//! driver with a syscall) and a removal when the request completes first — together
//! some 2 500 instructions per request, about 7 % of all the gateway does for one.
//!
//! A [`LazySleep`] far from its deadline instead asks a per-thread [ticker](Ticker) to
//! wake its task once, at the tick ([`TICK`]) two ticks before the deadline (or within
//! [`HORIZON`], then again): its waker goes into a slot listed under that tick. Then it
//! arms a precise tokio timer, so it fires exactly when a tokio sleep would — unless the
//! request finished first, which is what nearly always happens: dropping the sleep
//! empties its slot, so no timer was ever armed and no task is woken for nothing. The
//! ticker is a task of the runtime that wakes every [`TICK`] while anyone waits on it
//! and ends when no one has for a while.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The ticker's resolution: how often it looks for waiters that are due.
pub(crate) const TICK: Duration = Duration::from_millis(TICK_MS);
const TICK_MS: u64 = 32;

/// The furthest ahead a waiter is woken: a wait longer than this is woken again and
/// registers anew. Bounds how long the waker of a request that finished early stays.
const HORIZON: Duration = Duration::from_secs(1);

/// Ticks without waiters after which a ticker ends.
const IDLE_TICKS: u32 = 64;

/// Wakes each registered task once, at the tick it asked for.
struct Ticker {
    state: Mutex<Waiting>,
    /// Ticks so far.
    epoch: AtomicU64,
    /// When the ticker started: epoch `n` is due at `start + n × TICK`.
    start: Instant,
    /// Cleared (under the `state` lock) when the ticker's task ends.
    alive: AtomicBool,
}

/// The wakers waiting on a ticker, in reusable slots, listed by the tick they are due.
#[derive(Default)]
struct Waiting {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slot and generation of each waiter, by due epoch.
    due: BTreeMap<u64, Vec<(u32, u32)>>,
    /// Slots in use.
    used: usize,
}

#[derive(Default)]
struct Slot {
    /// Bumped whenever the slot is emptied, so a stale reference to it is ignored.
    generation: u32,
    waker: Option<Waker>,
}

impl Waiting {
    fn insert(&mut self, due: u64, waker: Waker) -> (u32, u32) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.waker = Some(waker);
        self.used += 1;
        let key = (index, slot.generation);
        self.due.entry(due).or_default().push(key);
        key
    }

    /// Empties the slot if it still holds the waiter `key`; its waker.
    fn remove(&mut self, (index, generation): (u32, u32)) -> Option<Waker> {
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != generation || slot.waker.is_none() {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.used -= 1;
        slot.waker.take()
    }

    /// Takes the wakers due at or before `epoch`.
    fn take_due(&mut self, epoch: u64) -> Vec<Waker> {
        let later = self.due.split_off(&(epoch + 1));
        let now = std::mem::replace(&mut self.due, later);
        now.into_values().flatten().filter_map(|key| self.remove(key)).collect()
    }
}

impl Ticker {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first epoch due at or after `at`, but not before the next one.
    fn epoch_at(&self, at: Instant) -> u64 {
        let next = self.epoch.load(Ordering::Acquire) + 1;
        // Whole milliseconds: cheaper than nanoseconds in u128, and a tick is 32 of them.
        let ms =
            u64::try_from(at.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX);
        ms.div_ceil(TICK_MS).max(next)
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
            let mut state = self.0.lock();
            self.0.alive.store(false, Ordering::Release);
            state.take_due(u64::MAX - 1)
        };
        for w in waiting {
            w.wake();
        }
    }
}

async fn tick(alive: Alive) {
    let ticker = alive.0.clone();
    let start = ticker.start;
    let mut idle = 0;
    let mut epoch = 0u64;
    loop {
        epoch += 1;
        tokio::time::sleep_until(start + TICK * u32::try_from(epoch).unwrap_or(u32::MAX)).await;
        ticker.epoch.store(epoch, Ordering::Release);
        let due = {
            let mut state = ticker.lock();
            if state.used == 0 {
                idle += 1;
                if idle >= IDLE_TICKS {
                    // `Alive` marks the ticker dead under the lock: a waiter registering
                    // meanwhile either made it in before (and is woken) or sees it dead.
                    return;
                }
                // Lists of waiters that left early.
                state.due.clear();
                continue;
            }
            idle = 0;
            state.take_due(epoch)
        };
        for w in due {
            w.wake();
        }
    }
}

/// A sleep's place with a ticker: the ticker, the slot and generation, the due epoch.
struct Registration {
    ticker: Arc<Ticker>,
    key: (u32, u32),
    due: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Woken already, or the slot is emptied here: either way nothing is left behind.
        let _ = self.ticker.lock().remove(self.key);
    }
}

/// Registers `waker` with this thread's ticker (starting one if needed) to be woken
/// once, at the first tick at or after `at()`, unless `registered` is still waiting
/// there; `false` outside a tokio runtime.
fn register(
    waker: &Waker,
    at: impl FnOnce() -> Instant,
    registered: &mut Option<Registration>,
) -> bool {
    TICKER.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(ticker) = slot.as_ref() {
            let mut state = ticker.lock();
            if ticker.alive.load(Ordering::Acquire) {
                if let Some(r) = registered.as_ref()
                    && Arc::ptr_eq(&r.ticker, ticker)
                    && r.due > ticker.epoch.load(Ordering::Acquire)
                    && state.slots.get(r.key.0 as usize).is_some_and(|s| {
                        s.generation == r.key.1
                            && s.waker.as_ref().is_some_and(|w| w.will_wake(waker))
                    })
                {
                    return true;
                }
                let due = ticker.epoch_at(at());
                let key = state.insert(due, waker.clone());
                drop(state);
                // Replacing an earlier registration empties its slot.
                *registered = Some(Registration { ticker: ticker.clone(), key, due });
                return true;
            }
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return false };
        let ticker = Arc::new(Ticker {
            state: Mutex::default(),
            epoch: AtomicU64::new(0),
            start: Instant::now(),
            alive: AtomicBool::new(true),
        });
        let due = ticker.epoch_at(at());
        let key = ticker.lock().insert(due, waker.clone());
        handle.spawn(tick(Alive(ticker.clone())));
        *registered = Some(Registration { ticker: ticker.clone(), key, due });
        *slot = Some(ticker);
        true
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
    /// Where this sleep's waker waits with a ticker; dropping it leaves.
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

    /// Makes this a sleep of `duration` from `now`, keeping its place with the ticker:
    /// a connection that waits for one request head after another re-arms one sleep
    /// instead of registering and leaving a slot per request. A place due before the
    /// new deadline wakes the task once for nothing, and it registers again then.
    pub(crate) fn reset(&mut self, now: Instant, duration: Duration) {
        self.deadline = now + duration;
        self.made = Some(now);
        self.precise = None;
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
        // Far from the deadline: be woken two ticks before it (or in a second, if that
        // is sooner: a waker left by a request that finished early is then kept no
        // longer than that) and arm the precise timer then.
        let deadline = this.deadline;
        let wake_at = || (deadline - 2 * TICK).min(now + HORIZON);
        if deadline - now > 2 * TICK && register(cx.waker(), wake_at, &mut this.registered) {
            return Poll::Pending;
        }
        this.registered = None;
        this.precise.insert(Box::pin(tokio::time::sleep_until(this.deadline))).as_mut().poll(cx)
    }
}

/// `fut`, or `Err(())` when it is not done within `after` (a [`LazySleep`] timer),
/// counted from now.
pub(crate) fn timeout<F: Future>(after: Duration, fut: F) -> Timeout<F> {
    Timeout { fut, sleep: LazySleep::after(Instant::now(), after) }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`]: the wrapped future and its sleep side by side (an
    /// `async fn` would hold the wrapped future twice, as its argument and as its
    /// local, and the request's whole exchange is in it).
    pub(crate) struct Timeout<F> {
        #[pin]
        fut: F,
        sleep: LazySleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        Pin::new(this.sleep).poll(cx).map(Err)
    }
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
    async fn a_long_wait_wakes_its_task_about_once_a_horizon() {
        let mut sleep = LazySleep::after(Instant::now(), Duration::from_secs(10));
        let mut polls = 0;
        std::future::poll_fn(|cx| {
            polls += 1;
            Pin::new(&mut sleep).poll(cx)
        })
        .await;
        // Once a second for ten seconds, then the precise timer: nowhere near one poll
        // per tick (over 300).
        assert!((10..=14).contains(&polls), "{polls} polls");
    }

    /// Counts the times it is woken.
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_dropped_early_leaves_nothing_to_wake() {
        let counter = Arc::new(Counter(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut kept = LazySleep::after(Instant::now(), Duration::from_secs(30));
        assert!(Pin::new(&mut kept).poll(&mut cx).is_pending());
        for _ in 0..100 {
            // Like requests that finish long before their timeout.
            let mut sleep = LazySleep::after(Instant::now(), Duration::from_secs(30));
            assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        }
        let used = TICKER.with(|t| t.borrow().as_ref().map(|t| t.lock().used));
        assert_eq!(used, Some(1), "only the sleep still waiting holds a slot");
        tokio::time::sleep(HORIZON + 4 * TICK).await;
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "woken once, for the kept sleep");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_sleep_keeps_one_slot_and_ends_at_its_new_deadline() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut sleep = LazySleep::after(Instant::now(), Duration::from_secs(10));
        for _ in 0..100 {
            // Like a connection waiting for one request head after another.
            sleep.reset(Instant::now(), Duration::from_secs(10));
            assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
        }
        let used = TICKER.with(|t| t.borrow().as_ref().map(|t| t.lock().used));
        assert_eq!(used, Some(1), "one slot, however often it is re-armed");
        // Re-armed late: the old deadline passes and it does not fire.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = Instant::now();
        sleep.reset(start, Duration::from_secs(10));
        std::future::poll_fn(|cx| Pin::new(&mut sleep).poll(cx)).await;
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(10) && took < Duration::from_secs(10) + TICK,
            "{took:?}"
        );
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
