//! [`AuthorizeLayer`] and [`Authorize`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, Uri};
use tower_layer::Layer;
use tower_service::Service;

use super::future::AuthorizeFuture;
use super::response;
use crate::error::AuthError;
use crate::principal::Principal;

/// What an access check sees: the principal and the request line and headers.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AccessRequest<'a> {
    /// The authenticated principal.
    pub principal: &'a Principal,
    /// The request method.
    pub method: &'a Method,
    /// The request URI.
    pub uri: &'a Uri,
    /// The request headers.
    pub headers: &'a HeaderMap,
}

type Check = dyn Fn(&AccessRequest<'_>) -> bool + Send + Sync;

/// Requires a permission per route: a scope, all of several scopes, or any closure.
/// Requests without a [`Principal`] (no [`AuthenticateLayer`](super::AuthenticateLayer)
/// before it, or optional authentication without credentials) get `401`; principals
/// lacking the permission get `403` with a JSON [`ErrorBody`](platform_core::error::ErrorBody).
#[derive(Clone)]
pub struct AuthorizeLayer {
    check: Arc<Check>,
    required: Arc<str>,
    realm: Arc<str>,
}

impl fmt::Debug for AuthorizeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeLayer").field("required", &self.required).finish_non_exhaustive()
    }
}

impl AuthorizeLayer {
    /// Requires the scope `scope`.
    pub fn scope(scope: impl Into<String>) -> Self {
        let scope: String = scope.into();
        let required: Arc<str> = Arc::from(scope.as_str());
        let check = move |r: &AccessRequest<'_>| r.principal.has_scope(&scope);
        Self::build(Arc::new(check), required)
    }

    /// Requires every scope in `scopes`.
    pub fn all_scopes<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let required: Arc<str> = Arc::from(scopes.join(" "));
        let check = move |r: &AccessRequest<'_>| scopes.iter().all(|s| r.principal.has_scope(s));
        Self::build(Arc::new(check), required)
    }

    /// Allows when `f` returns `true`; `describe` names the requirement in 403 answers
    /// and audit events.
    pub fn from_fn(
        describe: impl Into<String>,
        f: impl Fn(&AccessRequest<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self::build(Arc::new(f), Arc::from(describe.into()))
    }

    fn build(check: Arc<Check>, required: Arc<str>) -> Self {
        Self { check, required, realm: Arc::from("api") }
    }

    /// The `realm` of its challenges (default `api`; match the [`Authenticator`]'s).
    ///
    /// [`Authenticator`]: super::Authenticator
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = Arc::from(realm);
        self
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize { inner, layer: self.clone() }
    }
}

/// The service of [`AuthorizeLayer`].
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
    layer: AuthorizeLayer,
}

impl<S> Authorize<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, layer: AuthorizeLayer) -> Self {
        Self { inner, layer }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Authorize<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthorizeFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(principal) = req.extensions().get::<Principal>() else {
            tracing::warn!(target: "audit", event = "access_denied", reason = "unauthenticated", path = req.uri().path(), "no principal");
            let res = response::unauthorized(&self.layer.realm, &AuthError::Missing);
            return AuthorizeFuture::refused(res);
        };
        let access = AccessRequest {
            principal,
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
        };
        if (self.layer.check)(&access) {
            return AuthorizeFuture::allowed(self.inner.call(req));
        }
        tracing::warn!(
            target: "audit",
            event = "access_denied",
            reason = "insufficient_scope",
            sub = %principal.subject,
            required = &*self.layer.required,
            method = %req.method(),
            path = req.uri().path(),
            "access denied"
        );
        AuthorizeFuture::refused(response::forbidden(&self.layer.realm, &self.layer.required))
    }
}
