//! [`KeyedOrderingLayer`]: one message per key at a time, in call order; keys in parallel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::BoxError;
use crate::messaging::Message;

/// Keys in progress; each holds the waiters for its next turns, in call order.
type Turns = Arc<Mutex<HashMap<String, VecDeque<oneshot::Sender<()>>>>>;

/// Processes messages with the same key one at a time, in the order `call` received them
/// (the consumer calls in delivery order), while messages with different keys (or none)
/// run concurrently. Clones share the key table. Memory holds only keys in progress.
///
/// The bound on parallelism is the consumer's `concurrency` (waiting messages count
/// toward it). A failed message is nacked and redelivered later, so a later message of
/// its key may run first: put retries *inside* this layer to keep order across failures.
///
/// `poll_ready` is always ready; the inner service is cloned per call and driven to
/// readiness when the key's turn comes.
#[derive(Debug, Clone, Default)]
pub struct KeyedOrderingLayer {
    turns: Turns,
}

impl KeyedOrderingLayer {
    /// A layer with an empty key table.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for KeyedOrderingLayer {
    type Service = KeyedOrdering<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedOrdering { inner, turns: self.turns.clone() }
    }
}

/// The service built by [`KeyedOrderingLayer`].
#[derive(Debug, Clone)]
pub struct KeyedOrdering<S> {
    inner: S,
    turns: Turns,
}

impl<S> KeyedOrdering<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// One message's turn on its key. Created in `call` (so turns follow call order) and
/// moved into the response future; dropping it, also when the future is cancelled before
/// or while waiting, passes the turn on if it was held or had been granted.
struct Turn {
    turns: Turns,
    key: String,
    /// `Some` while waiting for the previous message of the key.
    waiting: Option<oneshot::Receiver<()>>,
}

impl Turn {
    fn enqueue(turns: &Turns, key: String) -> Self {
        let mut table = turns.lock().unwrap_or_else(|e| e.into_inner());
        let waiting = match table.get_mut(&key) {
            Some(waiters) => {
                let (tx, rx) = oneshot::channel();
                waiters.push_back(tx);
                Some(rx)
            }
            None => {
                table.insert(key.clone(), VecDeque::new());
                None
            }
        };
        drop(table);
        Self { turns: turns.clone(), key, waiting }
    }

    async fn acquire(&mut self) {
        if let Some(rx) = &mut self.waiting {
            // The sender is dropped without sending only when this turn was skipped,
            // which happens only after this receiver is gone; so this yields `Ok`.
            let _ = rx.await;
            self.waiting = None;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(mut rx) = self.waiting.take() {
            // After `close` no send can succeed, so `try_recv` tells for sure whether the
            // turn was granted to us.
            rx.close();
            if rx.try_recv().is_err() {
                // Never granted: the holder will skip our dropped receiver.
                return;
            }
        }
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        let Some(waiters) = turns.get_mut(&self.key) else { return };
        while let Some(next) = waiters.pop_front() {
            if next.send(()).is_ok() {
                return;
            }
        }
        turns.remove(&self.key);
    }
}

impl<S> Service<Message> for KeyedOrdering<S>
where
    S: Service<Message, Response = ()> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, msg: Message) -> Self::Future {
        let inner = self.inner.clone();
        let Some(key) = msg.key.clone() else {
            return Box::pin(async move { inner.oneshot(msg).await.map_err(Into::into) });
        };
        let mut turn = Turn::enqueue(&self.turns, key);
        Box::pin(async move {
            turn.acquire().await;
            let res = inner.oneshot(msg).await.map_err(Into::into);
            drop(turn);
            res
        })
    }
}
