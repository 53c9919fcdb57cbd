//! [`RetentionTask`]: applies a [`RetentionPolicy`] periodically.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::ship::OWN_TARGET;
use super::store::{LogStore, RetentionPolicy};

/// Applies a [`RetentionPolicy`] to a store now and then every `every`; stops when
/// dropped. Each pass is [`LogStore::enforce_retention`], which you can also call
/// directly (e.g. from an admin endpoint or a cron job).
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use platform_core::store::Store;
/// use platform_observe::logs::{RetentionPolicy, RetentionTask, SqlLogStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let logs = Arc::new(SqlLogStore::new(Store::connect("sqlite::memory:").await?).await?);
/// let retention = RetentionTask::spawn(logs, RetentionPolicy::default(), Duration::from_secs(600));
/// // ... serve; dropping `retention` stops it.
/// # drop(retention); Ok(()) }
/// ```
#[derive(Debug)]
pub struct RetentionTask {
    handle: JoinHandle<()>,
}

impl RetentionTask {
    /// Spawns the periodic pass on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn spawn(store: Arc<dyn LogStore>, policy: RetentionPolicy, every: Duration) -> Self {
        let every = every.max(Duration::from_secs(1));
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = store.enforce_retention(&policy, SystemTime::now()).await {
                    tracing::warn!(
                        target: OWN_TARGET,
                        error = %e,
                        "log retention pass failed; retrying at the next interval"
                    );
                }
            }
        });
        Self { handle }
    }
}

impl Drop for RetentionTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
