//! [`DeadLetterLayer`]: give up on a message after N attempts.

use std::fmt;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::BoxError;
use crate::messaging::Message;

/// The handler gives up on a message: the consumer dead-letters it with this reason.
/// Return it from a handler to dead-letter at once (e.g. a payload that can never parse).
#[derive(Debug)]
pub struct PoisonMessage {
    reason: String,
    source: Option<BoxError>,
}

impl PoisonMessage {
    /// A poison message with `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), source: None }
    }

    /// With the error that caused it.
    pub fn with_source(mut self, source: BoxError) -> Self {
        self.source = Some(source);
        self
    }

    /// Why the message is given up on.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Finds a `PoisonMessage` in `err`'s source chain.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Self> {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(p) = e.downcast_ref::<Self>() {
                return Some(p);
            }
            current = e.source();
        }
        None
    }
}

impl fmt::Display for PoisonMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "poison message: {}", self.reason)
    }
}

impl std::error::Error for PoisonMessage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Dead-letters a message once its `max_attempts`-th delivery fails, or without calling
/// the handler when a delivery arrives with `attempt > max_attempts` (a message whose
/// earlier deliveries never finished, e.g. it crashed the process).
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterLayer {
    max_attempts: u32,
}

impl DeadLetterLayer {
    /// Gives up after `max_attempts` deliveries (at least 1).
    pub fn new(max_attempts: u32) -> Self {
        Self { max_attempts: max_attempts.max(1) }
    }
}

impl<S> Layer<S> for DeadLetterLayer {
    type Service = DeadLetter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadLetter { inner, max_attempts: self.max_attempts }
    }
}

/// The service built by [`DeadLetterLayer`].
#[derive(Debug, Clone)]
pub struct DeadLetter<S> {
    inner: S,
    max_attempts: u32,
}

impl<S> DeadLetter<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, max_attempts: u32) -> Self {
        Self { inner, max_attempts: max_attempts.max(1) }
    }
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Message> for DeadLetter<S>
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
        let (attempt, max) = (msg.attempt, self.max_attempts);
        if attempt > max {
            let reason = format!("delivered {attempt} times, more than the {max} allowed");
            return Box::pin(async move { Err(PoisonMessage::new(reason).into()) });
        }
        let fut = self.inner.call(msg);
        Box::pin(async move {
            match fut.await.map_err(Into::into) {
                Err(e) if attempt >= max && PoisonMessage::find(&*e).is_none() => {
                    let reason = format!("failed {attempt} of {max} attempts; last error: {e}");
                    Err(PoisonMessage::new(reason).with_source(e).into())
                }
                other => other,
            }
        })
    }
}
