//! Helpers shared by the `config_*` integration tests.

use std::time::Duration;

use platform_core::config::ConfigEvent;
use tokio::sync::broadcast;

/// Upper bound of every wait; tests wait for the expected event, never for a fixed time.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The next event matching `want`, within [`WAIT`].
pub(crate) async fn next_event(
    events: &mut broadcast::Receiver<ConfigEvent>,
    want: impl Fn(&ConfigEvent) -> bool,
) -> ConfigEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("handle alive");
            if want(&event) {
                return event;
            }
        }
    })
    .await
    .expect("expected event within the wait bound")
}
