//! The [`ResponseFuture`] of the [`Bulkhead`](super::Bulkhead) service, and the
//! [`PermitBody`] that holds an HTTP call's slot until its body ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::permit::Permit;
use crate::error::{BoxError, Overloaded};

mod sealed {
    pub trait Sealed {}
}

/// When a call's slot is returned; see [`OnResponse`] and [`OnBodyEnd`].
pub trait Release<Res>: sealed::Sealed {
    /// The response the bulkhead returns.
    type Output;

    /// Attaches the slot to the response (or drops it).
    #[doc(hidden)]
    fn attach(res: Res, permit: SlotGuard) -> Self::Output;
}

/// A call's slot in the bulkhead; returned when dropped.
#[derive(Debug)]
pub struct SlotGuard {
    _permit: Permit,
}

/// The slot is returned when the response future completes (any response type).
#[derive(Debug, Clone, Copy, Default)]
pub struct OnResponse;

/// The slot is held until the `http::Response` body has finished streaming or is dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnBodyEnd;

impl sealed::Sealed for OnResponse {}
impl sealed::Sealed for OnBodyEnd {}

impl<Res> Release<Res> for OnResponse {
    type Output = Res;

    fn attach(res: Res, _slot: SlotGuard) -> Res {
        res
    }
}

impl<B> Release<http::Response<B>> for OnBodyEnd {
    type Output = http::Response<PermitBody<B>>;

    fn attach(res: http::Response<B>, slot: SlotGuard) -> Self::Output {
        res.map(|inner| PermitBody { inner, slot: Some(slot) })
    }
}

pin_project! {
    /// A response body that holds its call's bulkhead slot until the last frame (or an
    /// error) has been read, or the body is dropped.
    #[derive(Debug)]
    pub struct PermitBody<B> {
        #[pin]
        inner: B,
        slot: Option<SlotGuard>,
    }
}

impl<B: Body> Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.slot.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Admitted { #[pin] fut: F, slot: Option<SlotGuard> },
        Rejected { reason: &'static str },
    }
}

pin_project! {
    /// Resolves to the inner response (with the slot attached per `R`), or at once to
    /// [`Overloaded`] when the bulkhead rejected the call.
    pub struct ResponseFuture<F, R> {
        #[pin]
        kind: Kind<F>,
        _release: std::marker::PhantomData<fn() -> R>,
    }
}

impl<F, R> ResponseFuture<F, R> {
    pub(super) fn admitted(fut: F, permit: Permit) -> Self {
        let kind = Kind::Admitted { fut, slot: Some(SlotGuard { _permit: permit }) };
        Self { kind, _release: std::marker::PhantomData }
    }

    pub(super) fn rejected(reason: &'static str) -> Self {
        Self { kind: Kind::Rejected { reason }, _release: std::marker::PhantomData }
    }
}

impl<F, R> std::fmt::Debug for ResponseFuture<F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, R, T, E> Future for ResponseFuture<F, R>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    R: Release<T>,
{
    type Output = Result<R::Output, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Rejected { reason } => Poll::Ready(Err(Box::new(Overloaded::new(reason)))),
            KindProj::Admitted { fut, slot } => {
                let res = ready!(fut.poll(cx)).map_err(Into::into)?;
                match slot.take() {
                    Some(slot) => Poll::Ready(Ok(R::attach(res, slot))),
                    None => Poll::Ready(Err("bulkhead future polled after completion".into())),
                }
            }
        }
    }
}
