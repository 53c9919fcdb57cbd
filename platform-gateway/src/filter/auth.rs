//! platform-auth's [`AuthenticateLayer`] as a route filter.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::TryFutureExt;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use platform_auth::layer::AuthenticateLayer;
use platform_core::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;
use crate::body::{self, Body};
use crate::route::RouteService;

/// The body the authentication layer sees: the gateway's streamed [`Body`], which it
/// can also build from bytes (its 401 and 503 answers).
pub(crate) struct AuthBody(Body);

impl From<Bytes> for AuthBody {
    fn from(bytes: Bytes) -> Self {
        Self(body::full(bytes))
    }
}

impl HttpBody for AuthBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// The route's inner stack, answering with [`AuthBody`].
#[derive(Clone)]
struct Inner(RouteService);

impl Service<Request<Body>> for Inner {
    type Response = Response<AuthBody>;
    type Error = BoxError;
    type Future = futures_util::future::MapOk<
        <RouteService as Service<Request<Body>>>::Future,
        fn(Response<Body>) -> Response<AuthBody>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.0.call(req).map_ok(|res| res.map(AuthBody))
    }
}

/// Authentication in front of the inner stack, answering with the gateway's [`Body`]
/// again (unwrapped, not re-boxed).
#[derive(Clone)]
struct Outer<S>(S);

impl<S> Service<Request<Body>> for Outer<S>
where
    S: Service<Request<Body>, Response = Response<AuthBody>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        Box::pin(self.0.call(req).map_ok(|res| res.map(|b| b.0)))
    }
}

/// Wraps a route's stack in `layer`.
pub(crate) fn authenticate(layer: &AuthenticateLayer, inner: RouteService) -> RouteService {
    RouteService::new(Outer(layer.layer(Inner(inner))))
}
