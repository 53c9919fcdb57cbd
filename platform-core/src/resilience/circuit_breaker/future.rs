//! The [`ResponseFuture`] of the circuit breaker services.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::handle::{Guard, Shared};
use super::state::Decision;
use crate::classify::{Classify, Outcome, ResultClassifier};
use crate::error::{BoxError, CircuitOpen};
use std::sync::Arc;

pin_project! {
    #[project = KindProj]
    enum Kind<F, C> {
        // A closed-state call with nothing to track while it runs (see
        // `Breaker::closed_is_plain`): the breaker is reached only to record the outcome.
        Plain { #[pin] fut: F, shared: Arc<Shared<C>> },
        Tracked { #[pin] fut: F, guard: Guard<C> },
        Untracked { #[pin] fut: F },
        Rejected { retry_after: Option<Duration> },
    }
}

pin_project! {
    /// Resolves to the inner response and records its outcome in the breaker, or resolves
    /// at once to [`CircuitOpen`] when the breaker rejected the call.
    ///
    /// Dropping it before it finishes forgets the call (and gives back a half-open probe
    /// permit, so a cancelled probe never blocks the breaker).
    pub struct ResponseFuture<F, C = ResultClassifier> {
        #[pin]
        kind: Kind<F, C>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    #[inline]
    pub(crate) fn new<Fut>(shared: &Arc<Shared<C>>, decision: Decision, call: Fut) -> Self
    where
        Fut: FnOnce() -> F,
    {
        let kind = match decision {
            Decision::Closed if shared.breaker.closed_is_plain() => {
                Kind::Plain { fut: call(), shared: shared.clone() }
            }
            Decision::Reject(retry_after) => Kind::Rejected { retry_after },
            Decision::Pass => Kind::Untracked { fut: call() },
            decision => match Guard::start(shared, decision) {
                Some(guard) => Kind::Tracked { fut: call(), guard },
                None => Kind::Untracked { fut: call() },
            },
        };
        Self { kind }
    }

    /// Same as [`new`](Self::new) for a probe whose permit was reserved in `poll_ready`.
    pub(crate) fn probe(guard: Guard<C>, fut: F) -> Self {
        Self { kind: Kind::Tracked { fut, guard } }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.kind {
            Kind::Plain { .. } | Kind::Tracked { .. } => "tracked",
            Kind::Untracked { .. } => "untracked",
            Kind::Rejected { .. } => "rejected",
        };
        f.debug_struct("ResponseFuture").field("state", &state).finish()
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Plain { fut, shared } => {
                let res = ready!(fut.poll(cx)).map_err(Into::into);
                shared.breaker.finish_plain(failure(&shared.classifier, &res));
                Poll::Ready(res)
            }
            KindProj::Tracked { fut, guard } => {
                let res = ready!(fut.poll(cx)).map_err(Into::into);
                guard.finish(failure(&guard.shared.classifier, &res));
                Poll::Ready(res)
            }
            KindProj::Untracked { fut } => fut.poll(cx).map_err(Into::into),
            KindProj::Rejected { retry_after } => {
                Poll::Ready(Err(Box::new(CircuitOpen::new(*retry_after))))
            }
        }
    }
}

/// The breaker's view of an outcome: `Some(true)` failure, `Some(false)` success, `None`
/// a local rejection (not counted).
#[inline]
fn failure<C: Classify<T>, T>(classifier: &C, res: &Result<T, BoxError>) -> Option<bool> {
    match classifier.classify(res) {
        Outcome::Success => Some(false),
        Outcome::Failure => Some(true),
        Outcome::Rejected => None,
    }
}
