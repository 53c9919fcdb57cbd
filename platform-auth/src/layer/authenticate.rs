//! [`AuthenticateLayer`] and [`Authenticate`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::authenticator::{Authenticator, Credential};
use super::future::AuthenticateFuture;
use crate::error::AuthError;
use crate::principal::Principal;

/// The boxed credential check a [`AuthenticateFuture`] waits on.
pub(crate) type CheckFuture =
    Pin<Box<dyn Future<Output = Result<Option<Principal>, AuthError>> + Send>>;

/// Authenticates every request with an [`Authenticator`] and puts the [`Principal`] in
/// the request extensions; answers `401` (with `WWW-Authenticate`) on failure, `503` when
/// the key source or store is unavailable. Clones share one authenticator.
#[derive(Debug, Clone)]
pub struct AuthenticateLayer {
    auth: Arc<Authenticator>,
}

impl AuthenticateLayer {
    /// A layer checking requests with `auth`.
    pub fn new(auth: Authenticator) -> Self {
        Self { auth: Arc::new(auth) }
    }

    /// The [`Authenticator`] this layer checks requests with.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, auth: self.auth.clone() }
    }
}

/// The service of [`AuthenticateLayer`].
#[derive(Debug, Clone)]
pub struct Authenticate<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

impl<S> Authenticate<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, auth: Authenticator) -> Self {
        Self { inner, auth: Arc::new(auth) }
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

enum Owned {
    Bearer(String),
    ApiKey(String),
    Cookie(String),
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Authenticate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthenticateFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The ready service goes into the future; `self` keeps a fresh clone.
        let clone = self.inner.clone();
        let svc = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        let owned = self.auth.find(&parts).map(|c| match c {
            Credential::Bearer(t) => Owned::Bearer(t.to_owned()),
            Credential::ApiKey(t) => Owned::ApiKey(t.to_owned()),
            Credential::Cookie(t) => Owned::Cookie(t.to_owned()),
        });
        let auth = self.auth.clone();
        let check: CheckFuture = Box::pin(async move {
            let cred = match &owned {
                Some(Owned::Bearer(t)) => Credential::Bearer(t),
                Some(Owned::ApiKey(t)) => Credential::ApiKey(t),
                Some(Owned::Cookie(t)) => Credential::Cookie(t),
                None if auth.optional => return Ok(None),
                None => return Err(AuthError::Missing),
            };
            auth.check(cred).await.map(Some)
        });
        AuthenticateFuture::new(check, Request::from_parts(parts, body), svc, self.auth.clone())
    }
}
