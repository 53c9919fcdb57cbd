use std::sync::Weak;

use tokio::sync::watch;

/// Applies every new value of `rx` to the state behind `target` until either the sender
/// is dropped or the state is gone (the layer and all its clones dropped).
///
/// Layers use this for live reconfiguration: the state keeps its counters, windows and
/// in-flight permits; only the settings change. Must be called inside a tokio runtime.
pub(crate) fn spawn_watch<S, C, F>(target: Weak<S>, mut rx: watch::Receiver<C>, apply: F)
where
    S: Send + Sync + 'static,
    C: Clone + Send + Sync + 'static,
    F: Fn(&S, C) + Send + 'static,
{
    // Apply the current value right away so the layer and the channel agree.
    let first = rx.borrow_and_update().clone();
    match target.upgrade() {
        Some(state) => apply(&state, first),
        None => return,
    }
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let cfg = rx.borrow_and_update().clone();
            let Some(state) = target.upgrade() else { break };
            apply(&state, cfg);
        }
    });
}
