use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::OwnedSemaphorePermit;

use super::layer::Shared;

/// One slot of the bulkhead, returned when dropped.
///
/// When the limit was lowered while calls were in flight, a returning slot is retired
/// instead (the limit shrinks as calls finish; in-flight calls are never cut off).
#[derive(Debug)]
pub(super) struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
}

impl Permit {
    pub(super) fn new(permit: OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        Self { permit: Some(permit), shared }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        let retire = self
            .shared
            .retire
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok();
        if retire {
            permit.forget();
        }
    }
}
