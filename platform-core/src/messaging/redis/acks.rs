//! Acknowledgements coalesced into one script call: acks that arrive while a call is in
//! flight go out together in the next one (group commit), each still fenced on its own.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::conn::failed;
use super::{Shared, scripts};
use crate::messaging::MessagingError;

/// Most acks in one script call (the script runs atomically; keep it short).
const MAX_BATCH: usize = 256;

/// One fenced ack: `entry_id` of `stream`, held by `consumer` of `group` at
/// `deliveries`.
pub(super) struct Ack {
    pub(super) stream: Arc<str>,
    pub(super) group: Arc<str>,
    pub(super) consumer: Arc<str>,
    pub(super) entry_id: String,
    pub(super) deliveries: i64,
}

type Waiting = (Ack, oneshot::Sender<Result<bool, MessagingError>>);

#[derive(Default)]
pub(super) struct AckQueue {
    state: Mutex<(Vec<Waiting>, bool)>,
}

impl std::fmt::Debug for AckQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckQueue").finish_non_exhaustive()
    }
}

impl AckQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Waiting>, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Acks `ack`; `Ok(false)` when the fence failed (the lease was lost).
pub(super) async fn ack(shared: &Arc<Shared>, ack: Ack) -> Result<bool, MessagingError> {
    let (tx, rx) = oneshot::channel();
    let start_flusher = {
        let mut state = shared.acks.lock();
        state.0.push((ack, tx));
        !std::mem::replace(&mut state.1, true)
    };
    if start_flusher {
        tokio::spawn(flush(shared.clone()));
    }
    rx.await.map_err(|_| failed("the ack flusher stopped"))?
}

/// Sends queued acks until none are left.
async fn flush(shared: Arc<Shared>) {
    loop {
        let mut batch = {
            let mut state = shared.acks.lock();
            if state.0.is_empty() {
                state.1 = false;
                return;
            }
            let n = state.0.len().min(MAX_BATCH);
            state.0.drain(..n).collect::<Vec<_>>()
        };
        // Usually one stream and group; the script takes one of each per call.
        while !batch.is_empty() {
            let (stream, group) = (batch[0].0.stream.clone(), batch[0].0.group.clone());
            let (same, rest): (Vec<_>, Vec<_>) =
                batch.into_iter().partition(|(a, _)| a.stream == stream && a.group == group);
            batch = rest;
            send(&shared, &stream, &group, same).await;
        }
    }
}

async fn send(shared: &Shared, stream: &str, group: &str, acks: Vec<Waiting>) {
    let mut invocation = scripts::ACK.key(stream);
    invocation.arg(group);
    for (a, _) in &acks {
        invocation.arg(&*a.consumer).arg(&a.entry_id).arg(a.deliveries);
    }
    let res = match shared.conn.get().await {
        Ok(mut conn) => shared.conn.check(invocation.invoke_async::<Vec<i64>>(&mut conn).await),
        Err(e) => Err(e),
    };
    match res {
        Ok(flags) => {
            for ((_, tx), flag) in
                acks.into_iter().zip(flags.into_iter().chain(std::iter::repeat(0)))
            {
                let _ = tx.send(Ok(flag == 1));
            }
        }
        Err(e) => {
            let reason = e.to_string();
            for (_, tx) in acks {
                let _ = tx.send(Err(failed(reason.clone())));
            }
        }
    }
}
