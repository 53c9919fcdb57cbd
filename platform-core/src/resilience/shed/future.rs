//! The [`ResponseFuture`] of the [`LoadShed`](super::LoadShed) service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::error::{BoxError, Overloaded};

pin_project! {
    /// Resolves to the inner response, or at once to [`Overloaded`] for a shed request.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called { #[pin] fut: F },
        Rejected { error: Option<Overloaded> },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn called(fut: F) -> Self {
        Self { state: State::Called { fut } }
    }

    pub(super) fn rejected(error: Overloaded) -> Self {
        Self { state: State::Rejected { error: Some(error) } }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shed = matches!(self.state, State::Rejected { .. });
        f.debug_struct("ResponseFuture").field("shed", &shed).finish()
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { fut } => fut.poll(cx).map_err(Into::into),
            StateProj::Rejected { error } => {
                let error = error.take().expect("ResponseFuture polled after completion");
                Poll::Ready(Err(Box::new(error)))
            }
        }
    }
}
