//! The tokio runtime part of the pressure signal.

use std::time::{Duration, Instant};

/// What one runtime sample measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct RuntimeSample {
    /// Share of worker time spent busy since the previous sample (`None` on the first).
    pub(super) busy_ratio: Option<f64>,
    /// Tasks waiting in the global queue.
    pub(super) global_queue_depth: usize,
}

/// Reads a runtime's metrics and keeps the previous busy total to turn it into a ratio.
#[derive(Debug)]
pub(super) struct RuntimeProbe {
    handle: tokio::runtime::Handle,
    prev: Option<(Instant, Duration)>,
}

impl RuntimeProbe {
    pub(super) fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle, prev: None }
    }

    pub(super) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    pub(super) fn sample(&mut self) -> RuntimeSample {
        let metrics = self.handle.metrics();
        let workers = metrics.num_workers();
        let busy: Duration = (0..workers).map(|w| metrics.worker_total_busy_duration(w)).sum();
        let now = Instant::now();
        let busy_ratio = self.prev.map(|(at, prev_busy)| {
            busy_ratio(busy.saturating_sub(prev_busy), now.saturating_duration_since(at), workers)
        });
        self.prev = Some((now, busy));
        RuntimeSample { busy_ratio, global_queue_depth: metrics.global_queue_depth() }
    }
}

/// Busy time over the worker time available in `wall`, clamped to `0.0..=1.0`.
#[allow(clippy::cast_precision_loss)]
pub(super) fn busy_ratio(busy: Duration, wall: Duration, workers: usize) -> f64 {
    let available = wall.as_secs_f64() * workers as f64;
    if available <= 0.0 {
        return 0.0;
    }
    (busy.as_secs_f64() / available).clamp(0.0, 1.0)
}

/// The queue signal: the higher of lag over its tolerance and depth over its tolerance.
#[allow(clippy::cast_precision_loss)]
pub(super) fn queue_signal(
    lag: Duration,
    lag_tolerance: Duration,
    depth: usize,
    depth_tolerance: usize,
) -> f64 {
    let lag_part = lag.as_secs_f64() / lag_tolerance.as_secs_f64().max(f64::MIN_POSITIVE);
    let depth_part = depth as f64 / depth_tolerance.max(1) as f64;
    lag_part.max(depth_part)
}
