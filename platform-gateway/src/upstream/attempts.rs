//! Which endpoints the attempts of one request went to.

use std::sync::{Arc, Mutex, PoisonError};

/// The endpoints earlier attempts of a request were sent to, shared by the attempts (a
/// request extension set by a route's retry filter), so a retry goes to another endpoint
/// while one is left.
#[derive(Debug, Clone, Default)]
pub struct Attempts {
    tried: Arc<Mutex<Vec<Arc<str>>>>,
}

impl Attempts {
    /// The endpoint ids tried so far, in order.
    pub fn tried(&self) -> Vec<Arc<str>> {
        self.tried.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn record(&self, endpoint: Arc<str>) {
        self.tried.lock().unwrap_or_else(PoisonError::into_inner).push(endpoint);
    }
}
