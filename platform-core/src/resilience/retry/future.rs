//! The [`ResponseFuture`] of the [`Retry`](super::Retry) service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use backon::ExponentialBackoff;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::layer::Shared;
use super::replay::{Attempts, Replay, RetryAfter};
use super::{RetryEvent, RetryReason};
use crate::classify::{Classify, Outcome};
use crate::error::{BoxError, BudgetExhausted};
use crate::resilience::Deadline;

pub use super::replay::{CloneAttempts, HttpAttempts};

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called { #[pin] fut: F },
        Backoff { #[pin] sleep: Sleep },
        Readying,
    }
}

pin_project! {
    /// Runs attempts until one succeeds or the layer decides to stop, then resolves to
    /// the last attempt's result.
    pub struct ResponseFuture<S, C, P, Req>
    where
        P: Replay<Req>,
        S: Service<P::Request>,
    {
        shared: Arc<Shared<C>>,
        service: S,
        attempts: P::Attempts,
        next: Option<P::Request>,
        attempt: u32,
        backoff: Option<ExponentialBackoff>,
        #[pin]
        state: State<S::Future>,
    }
}

impl<S, C, P, Req> ResponseFuture<S, C, P, Req>
where
    P: Replay<Req>,
    S: Service<P::Request>,
{
    pub(super) fn new(
        shared: Arc<Shared<C>>,
        service: S,
        attempts: P::Attempts,
        fut: S::Future,
    ) -> Self {
        Self {
            shared,
            service,
            attempts,
            next: None,
            attempt: 1,
            backoff: None,
            state: State::Called { fut },
        }
    }
}

impl<S, C, P, Req> std::fmt::Debug for ResponseFuture<S, C, P, Req>
where
    P: Replay<Req>,
    S: Service<P::Request>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("attempt", &self.attempt).finish_non_exhaustive()
    }
}

/// What to do after a failed attempt.
enum Next<T> {
    Return(Result<T, BoxError>),
    Retry(Duration),
}

impl<S, C, P, Req> Future for ResponseFuture<S, C, P, Req>
where
    P: Replay<Req>,
    P::Attempts: RetryAfter<S::Response>,
    S: Service<P::Request>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { fut } => {
                    let result = ready!(fut.poll(cx)).map_err(Into::into);
                    let shared = &**this.shared;
                    let outcome = match &result {
                        Ok(res) => shared.classifier.classify_response(res),
                        Err(e) => shared.classifier.classify_error(&**e),
                    };
                    if *this.attempt == 1 && !outcome.is_rejected() {
                        // Only calls that reached the service earn retries (see `budget`).
                        shared.core.budget.deposit();
                    }
                    if outcome != Outcome::Failure {
                        return Poll::Ready(result);
                    }
                    let next = decide(
                        shared,
                        *this.attempt,
                        this.backoff,
                        this.attempts,
                        this.next,
                        result,
                    );
                    match next {
                        Next::Return(result) => return Poll::Ready(result),
                        Next::Retry(delay) => {
                            let sleep = tokio::time::sleep(delay);
                            this.state.set(State::Backoff { sleep });
                        }
                    }
                }
                StateProj::Backoff { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    ready!(this.service.poll_ready(cx)).map_err(Into::into)?;
                    let Some(req) = this.next.take() else {
                        return Poll::Ready(Err("retry future polled after completion".into()));
                    };
                    *this.attempt += 1;
                    let fut = this.service.call(req);
                    this.state.set(State::Called { fut });
                }
            }
        }
    }
}

/// Decides whether the failed attempt `attempt` is retried, and after how long. Emits an
/// event for every refusal that is not a plain success.
fn decide<C, A, T>(
    shared: &Shared<C>,
    attempt: u32,
    backoff: &mut Option<ExponentialBackoff>,
    attempts: &mut A,
    next: &mut Option<A::Request>,
    result: Result<T, BoxError>,
) -> Next<T>
where
    A: Attempts + RetryAfter<T>,
{
    let core = &shared.core;
    let settings = core.settings();
    let cfg = &settings.cfg;
    if attempt >= cfg.max_attempts {
        core.emit(RetryEvent::AttemptsExhausted { attempts: attempt });
        return Next::Return(result);
    }
    let req = match attempts.next_request() {
        Ok(req) => req,
        Err(event) => {
            core.emit(event);
            return Next::Return(result);
        }
    };
    let backoff = backoff.get_or_insert_with(|| settings.backoff());
    let mut delay = backoff.next().unwrap_or(cfg.backoff.max_delay);
    let (reason, asked) = match &result {
        Ok(res) => (RetryReason::FailedResponse, attempts.retry_after(res)),
        Err(_) => (RetryReason::Error, None),
    };
    if let Some(asked) = asked {
        if asked > cfg.max_retry_after {
            core.emit(RetryEvent::RetryAfterTooLong {
                retry_after: asked,
                max: cfg.max_retry_after,
            });
            return Next::Return(result);
        }
        delay = delay.max(asked);
    }
    if let Some(deadline) = Deadline::current()
        && Instant::now() + delay >= deadline.instant()
    {
        let remaining = deadline.remaining();
        core.emit(RetryEvent::GaveUpAtDeadline { attempt, delay, remaining });
        return Next::Return(result);
    }
    if !core.budget.withdraw() {
        core.emit(RetryEvent::BudgetExhausted { attempt });
        return Next::Return(
            result.map_err(|e| Box::new(BudgetExhausted::new(Some(e))) as BoxError),
        );
    }
    core.emit(RetryEvent::Retrying { attempt, delay, reason });
    *next = Some(req);
    Next::Retry(delay)
}
