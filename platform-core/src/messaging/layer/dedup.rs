//! [`DedupLayer`]: skip messages already processed, by id, within a bounded window.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::BoxError;
use crate::messaging::{Message, MessageId};

/// Another delivery of the same message is being processed; this one is nacked and
/// will be skipped once the first succeeds.
#[derive(Debug)]
pub struct DuplicateInFlight {
    id: MessageId,
}

impl fmt::Display for DuplicateInFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message {} is already being processed", self.id)
    }
}

impl std::error::Error for DuplicateInFlight {}

/// Remembers the ids of the last `window` successfully processed messages; a redelivery
/// of one of them is acknowledged without calling the handler. Memory is bounded by
/// `window` ids plus those in flight. Clones share one window.
///
/// This is a best-effort, per-process filter: for exactly-once effects across processes
/// record ids in the same database transaction as the effects (the inbox).
#[derive(Debug, Clone)]
pub struct DedupLayer {
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    /// `true`: processed; `false`: in flight.
    ids: HashMap<MessageId, bool>,
    done_order: VecDeque<MessageId>,
    window: usize,
}

impl DedupLayer {
    /// Remembers up to `window` processed ids (at least 1).
    pub fn new(window: usize) -> Self {
        Self { seen: Arc::new(Mutex::new(Seen { window: window.max(1), ..Seen::default() })) }
    }
}

impl<S> Layer<S> for DedupLayer {
    type Service = Dedup<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Dedup { inner, seen: self.seen.clone() }
    }
}

/// The service built by [`DedupLayer`].
#[derive(Debug, Clone)]
pub struct Dedup<S> {
    inner: S,
    seen: Arc<Mutex<Seen>>,
}

impl<S> Dedup<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S> Service<Message> for Dedup<S>
where
    S: Service<Message, Response = ()>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, msg: Message) -> Self::Future {
        let id = msg.id.clone();
        match lock(&self.seen).ids.get(&id).copied() {
            Some(true) => {
                tracing::debug!(target: "platform::messaging::dedup", %id, "duplicate skipped");
                return Box::pin(async { Ok(()) });
            }
            Some(false) => return Box::pin(async move { Err(DuplicateInFlight { id }.into()) }),
            None => {}
        }
        lock(&self.seen).ids.insert(id.clone(), false);
        let fut = self.inner.call(msg);
        let seen = self.seen.clone();
        Box::pin(async move {
            let res = fut.await.map_err(Into::into);
            let mut seen = lock(&seen);
            if res.is_ok() {
                seen.ids.insert(id.clone(), true);
                seen.done_order.push_back(id);
                while seen.done_order.len() > seen.window {
                    if let Some(old) = seen.done_order.pop_front() {
                        seen.ids.remove(&old);
                    }
                }
            } else {
                seen.ids.remove(&id);
            }
            res
        })
    }
}
