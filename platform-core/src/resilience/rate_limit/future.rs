//! The [`ResponseFuture`] of the [`RateLimit`](super::RateLimit) service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::limiter::Decision;
use crate::error::{BoxError, Overloaded, RateLimited};

type PendingDecision = Pin<Box<dyn Future<Output = Decision> + Send>>;

pin_project! {
    #[project = StateProj]
    enum State<F, S, Req> {
        Inner { #[pin] fut: F },
        Refused { decision: Decision },
        Deciding { decision: PendingDecision, call: Option<(S, Req)> },
    }
}

pin_project! {
    /// Resolves to the inner response, or to [`RateLimited`] when the call was refused
    /// ([`Overloaded`] when a fail-closed distributed limiter cannot reach Redis).
    ///
    /// `S` and `Req` are the inner service and request, held only while a distributed
    /// decision is pending.
    pub struct ResponseFuture<F, S, Req> {
        #[pin]
        state: State<F, S, Req>,
    }
}

impl<F, S, Req> ResponseFuture<F, S, Req> {
    #[inline]
    pub(super) fn admitted(fut: F) -> Self {
        Self { state: State::Inner { fut } }
    }

    pub(super) fn rejected(decision: Decision) -> Self {
        Self { state: State::Refused { decision } }
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn deciding(decision: PendingDecision, svc: S, req: Req) -> Self {
        Self { state: State::Deciding { decision, call: Some((svc, req)) } }
    }
}

impl<F, S, Req> fmt::Debug for ResponseFuture<F, S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Inner { .. } => "admitted",
            State::Refused { .. } => "refused",
            State::Deciding { .. } => "deciding",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}

fn refusal(decision: Decision) -> BoxError {
    match decision {
        Decision::Reject(after) => Box::new(RateLimited::new(after)),
        _ => Box::new(Overloaded::new("rate limit store unavailable")),
    }
}

impl<F, S, Req, T, E> Future for ResponseFuture<F, S, Req>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    S: Service<Req, Future = F>,
{
    type Output = Result<T, BoxError>;

    /// The admitted state (the hot path) is polled inline; the other states are out of
    /// line so this stays small enough to inline into the caller.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let StateProj::Inner { fut } = this.state.as_mut().project() {
            return fut.poll(cx).map_err(Into::into);
        }
        poll_not_admitted(this.state, cx)
    }
}

/// Polls a refused or deciding future (calling the inner service once admitted).
#[cold]
#[inline(never)]
fn poll_not_admitted<F, S, Req, T, E>(
    mut state: Pin<&mut State<F, S, Req>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, BoxError>>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    S: Service<Req, Future = F>,
{
    loop {
        let fut = match state.as_mut().project() {
            StateProj::Inner { fut } => return fut.poll(cx).map_err(Into::into),
            StateProj::Refused { decision } => return Poll::Ready(Err(refusal(*decision))),
            StateProj::Deciding { decision, call } => {
                let d = ready!(decision.as_mut().poll(cx));
                if d != Decision::Admit {
                    state.set(State::Refused { decision: d });
                    continue;
                }
                let Some((mut svc, req)) = call.take() else {
                    unreachable!("a decided call is made once")
                };
                svc.call(req)
            }
        };
        state.set(State::Inner { fut });
    }
}
