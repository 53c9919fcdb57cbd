//! The request body size limit.

use std::task::{Context, Poll};

use http::{Request, header};
use http_body::Body as _;
use http_body_util::Limited;
use platform_core::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{self, Body};

/// A request body is larger than the route accepts (answered with 413).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body is larger than the {limit} bytes this route accepts")]
pub struct BodyTooLarge {
    /// The limit in bytes.
    pub limit: u64,
}

/// Refuses request bodies over `limit` bytes: at once when `Content-Length` says so,
/// otherwise when the streamed body passes the limit (the upstream exchange then fails
/// and the client gets 413 if no response was sent yet).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: u64,
}

impl BodyLimitLayer {
    /// A limit of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        BodyLimit { inner, limit: self.limit }
    }
}

/// The service of [`BodyLimitLayer`].
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    limit: u64,
}

impl<S> Service<Request<Body>> for BodyLimit<S>
where
    S: Service<Request<Body>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = futures_util::future::Either<
        S::Future,
        futures_util::future::Ready<Result<S::Response, BoxError>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limit) {
            let err: BoxError = Box::new(BodyTooLarge { limit: self.limit });
            return futures_util::future::Either::Right(futures_util::future::ready(Err(err)));
        }
        if req.body().is_end_stream() {
            // An ended body cannot grow past the limit.
            return futures_util::future::Either::Left(self.inner.call(req));
        }
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let req = req.map(|b| body::boxed(Limited::new(b, limit)));
        futures_util::future::Either::Left(self.inner.call(req))
    }
}
