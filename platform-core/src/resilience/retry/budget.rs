//! The retry budget: a sliding window of requests and retries shared by every clone.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::config::BudgetConfig;

/// Slots the window is divided into; counts age out one slot at a time.
const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Index of the slot-width period this slot counts (`elapsed / width`).
    epoch: u64,
    requests: u64,
    retries: u64,
}

#[derive(Debug)]
struct Window {
    origin: Instant,
    width: Duration,
    ratio: f64,
    floor: f64,
    slots: [Slot; SLOTS],
}

impl Window {
    fn epoch(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos / self.width.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// The slot for `now`, reset if it last counted an older period.
    fn current(&mut self, now: Instant) -> &mut Slot {
        let epoch = self.epoch(now);
        let slot = &mut self.slots[(epoch % SLOTS as u64) as usize];
        if slot.epoch != epoch {
            *slot = Slot { epoch, requests: 0, retries: 0 };
        }
        slot
    }

    /// Requests and retries counted in the window ending at `now`.
    fn totals(&self, now: Instant) -> (u64, u64) {
        let epoch = self.epoch(now);
        self.slots
            .iter()
            .filter(|s| s.epoch + (SLOTS as u64) > epoch && s.epoch <= epoch)
            .fold((0, 0), |(r, t), s| (r + s.requests, t + s.retries))
    }
}

/// Retries allowed in a window that saw `requests` requests.
pub(crate) fn allowance(requests: u64, ratio: f64, floor: f64) -> f64 {
    requests as f64 * ratio + floor
}

/// Allows retries up to `ratio × requests + min_retries_per_sec × window` within a sliding
/// window. Requests are deposited only when their first attempt reached the service
/// (outcome success or failure), so local rejections cannot inflate the allowance.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    window: Mutex<Window>,
}

impl RetryBudget {
    pub(crate) fn new(cfg: &BudgetConfig) -> Self {
        let mut w = Window {
            origin: Instant::now(),
            width: Duration::ZERO,
            ratio: 0.0,
            floor: 0.0,
            slots: [Slot::default(); SLOTS],
        };
        Self::apply(&mut w, cfg);
        Self { window: Mutex::new(w) }
    }

    fn apply(w: &mut Window, cfg: &BudgetConfig) {
        w.width = (cfg.window / SLOTS as u32).max(Duration::from_millis(1));
        w.ratio = cfg.ratio;
        w.floor = f64::from(cfg.min_retries_per_sec) * cfg.window.as_secs_f64();
    }

    /// Applies new settings; the counts already in the window are kept.
    pub(crate) fn reconfigure(&self, cfg: &BudgetConfig) {
        let mut w = self.lock();
        let now = Instant::now();
        let (requests, retries) = w.totals(now);
        Self::apply(&mut w, cfg);
        // Re-anchor the kept counts in the current slot of the new geometry.
        w.origin = now;
        w.slots = [Slot::default(); SLOTS];
        let slot = w.current(now);
        slot.requests = requests;
        slot.retries = retries;
    }

    /// Counts one request whose first attempt reached the service.
    pub(crate) fn deposit(&self) {
        self.lock().current(Instant::now()).requests += 1;
    }

    /// Takes one retry from the budget; `false` when the budget is exhausted.
    pub(crate) fn withdraw(&self) -> bool {
        let mut w = self.lock();
        let now = Instant::now();
        let (requests, retries) = w.totals(now);
        if (retries + 1) as f64 > allowance(requests, w.ratio, w.floor) {
            return false;
        }
        w.current(now).retries += 1;
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // The window holds plain counters; a panic elsewhere cannot leave it inconsistent.
        self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
