use std::sync::Arc;

use tokio::time::Instant;

use super::state::Shared;
use crate::classify::Outcome;

/// One admitted call's hold on the concurrency limit. Dropping it releases the permit;
/// with an outcome set, the call's RTT also feeds the limiter.
#[derive(Debug)]
pub(super) struct Permit {
    shared: Arc<Shared>,
    started: Instant,
    in_flight: usize,
    outcome: Option<Outcome>,
}

impl Permit {
    pub(super) fn new(shared: Arc<Shared>, in_flight: usize) -> Self {
        Self { shared, started: Instant::now(), in_flight, outcome: None }
    }

    /// Records how the call ended; the sample is taken when the permit drops.
    pub(super) fn finish(mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let sample = self.outcome.map(|o| (self.started, o, self.in_flight));
        self.shared.release(sample);
    }
}
