//! Response futures of the authentication and authorization layers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::authenticate::CheckFuture;
use super::authenticator::Authenticator;
use super::response;
use crate::error::AuthError;

pin_project! {
    /// The response future of [`Authenticate`](super::Authenticate): waits for the
    /// credential check, then calls the inner service or answers 401/503.
    pub struct AuthenticateFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
        auth: Arc<Authenticator>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Checking { check: CheckFuture, req: Option<Request<ReqBody>>, svc: Option<S> },
        Calling { #[pin] fut: S::Future },
    }
}

impl<S, ReqBody> AuthenticateFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn new(
        check: CheckFuture,
        req: Request<ReqBody>,
        svc: S,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self { state: State::Checking { check, req: Some(req), svc: Some(svc) }, auth }
    }
}

impl<S, ReqBody> std::fmt::Debug for AuthenticateFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticateFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Future for AuthenticateFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking { check, req, svc } => {
                    let outcome = ready!(check.as_mut().poll(cx));
                    let (Some(mut req), Some(mut svc)) = (req.take(), svc.take()) else {
                        panic!("AuthenticateFuture polled after completion");
                    };
                    match outcome {
                        Ok(principal) => {
                            if let Some(p) = principal {
                                req.extensions_mut().insert(p);
                            }
                            let fut = svc.call(req);
                            this.state.set(State::Calling { fut });
                        }
                        Err(err) => return Poll::Ready(Ok(refuse(this.auth, &req, &err))),
                    }
                }
                StateProj::Calling { fut } => return fut.poll(cx),
            }
        }
    }
}

fn refuse<B, ResBody: From<Bytes>>(
    auth: &Authenticator,
    req: &Request<B>,
    err: &AuthError,
) -> Response<ResBody> {
    tracing::warn!(
        target: "audit",
        event = "authentication_failed",
        reason = err.reason(),
        method = %req.method(),
        path = req.uri().path(),
        "request refused"
    );
    match err {
        AuthError::Unavailable(_) => response::unavailable(err),
        _ => response::unauthorized(&auth.realm, err),
    }
}

pin_project! {
    /// The response future of [`Authorize`](super::Authorize): the inner call, or an
    /// immediate 401/403.
    pub struct AuthorizeFuture<F, ResBody> {
        #[pin]
        kind: Kind<F, ResBody>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, ResBody> {
        Allowed { #[pin] fut: F },
        Refused { res: Option<Response<ResBody>> },
    }
}

impl<F, ResBody> AuthorizeFuture<F, ResBody> {
    pub(crate) fn allowed(fut: F) -> Self {
        Self { kind: Kind::Allowed { fut } }
    }

    pub(crate) fn refused(res: Response<ResBody>) -> Self {
        Self { kind: Kind::Refused { res: Some(res) } }
    }
}

impl<F, ResBody> std::fmt::Debug for AuthorizeFuture<F, ResBody> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for AuthorizeFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Allowed { fut } => fut.poll(cx),
            KindProj::Refused { res } => {
                Poll::Ready(Ok(res.take().expect("AuthorizeFuture polled after completion")))
            }
        }
    }
}
