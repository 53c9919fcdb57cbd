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

/// What a check decided about one request.
enum Verdict {
    Allow,
    /// Denied: the 403 body's error code and message, and the explanation for the audit
    /// event (never sent to the client).
    Deny {
        code: &'static str,
        message: String,
        explain: String,
    },
}

type Check = dyn Fn(&AccessRequest<'_>) -> Verdict + Send + Sync;

/// Requires a permission per route: a scope, all of several scopes, any closure, or (with
/// the `authz` feature) an [`Authorizer`](crate::authz::Authorizer)'s decision.
/// Requests without a [`Principal`] (no [`AuthenticateLayer`](super::AuthenticateLayer)
/// before it, or optional authentication without credentials) get `401`; principals
/// lacking the permission get `403` with a JSON [`ErrorBody`](platform_core::error::ErrorBody)
/// (`insufficient_scope` for scopes and closures, `access_denied` for authorizers; the
/// authorizer's explanation goes to the `access_denied` audit event, not to the client).
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
        let required = scope.clone();
        Self::from_fn(required.to_string(), move |r| r.principal.has_scope(&scope))
    }

    /// Requires every scope in `scopes`.
    pub fn all_scopes<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let required = scopes.join(" ");
        Self::from_fn(required, move |r| scopes.iter().all(|s| r.principal.has_scope(s)))
    }

    /// Allows when `f` returns `true`; `describe` names the requirement in 403 answers
    /// and audit events.
    pub fn from_fn(
        describe: impl Into<String>,
        f: impl Fn(&AccessRequest<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        let required: Arc<str> = Arc::from(describe.into());
        let req = required.clone();
        let check = move |r: &AccessRequest<'_>| {
            if f(r) {
                return Verdict::Allow;
            }
            Verdict::Deny {
                code: "insufficient_scope",
                message: format!("requires `{req}`"),
                explain: "insufficient_scope".to_owned(),
            }
        };
        Self::build(Arc::new(check), required)
    }

    /// Asks `authorizer` whether the principal may do `action` on the resource named by
    /// the request path (without its leading `/`: `GET /orders/42` → `orders/42`). The
    /// context has `method` and `path`.
    #[cfg(feature = "authz")]
    pub fn permission<A>(authorizer: A, action: impl Into<String>) -> Self
    where
        A: crate::authz::Authorizer + 'static,
    {
        Self::permission_on(authorizer, action, |r| {
            crate::authz::Resource::new(r.uri.path().trim_matches('/'))
        })
    }

    /// Like [`permission`](Self::permission), with the resource (id and attributes) built
    /// from the request by `resource`.
    #[cfg(feature = "authz")]
    pub fn permission_on<A, F>(authorizer: A, action: impl Into<String>, resource: F) -> Self
    where
        A: crate::authz::Authorizer + 'static,
        F: Fn(&AccessRequest<'_>) -> crate::authz::Resource + Send + Sync + 'static,
    {
        let action: String = action.into();
        let describe = action.clone();
        Self::permission_with(authorizer, describe, move |r| (action.clone(), resource(r)))
    }

    /// Asks `authorizer` about the action and resource that `f` derives from each request
    /// (e.g. `read` for `GET`, `write` otherwise); `describe` names the requirement in
    /// audit events.
    #[cfg(feature = "authz")]
    pub fn permission_with<A, F>(authorizer: A, describe: impl Into<String>, f: F) -> Self
    where
        A: crate::authz::Authorizer + 'static,
        F: Fn(&AccessRequest<'_>) -> (String, crate::authz::Resource) + Send + Sync + 'static,
    {
        let check = move |r: &AccessRequest<'_>| {
            let (action, res) = f(r);
            let mut context = serde_json::Map::new();
            context.insert("method".into(), r.method.as_str().into());
            context.insert("path".into(), r.uri.path().into());
            let request =
                crate::authz::AuthzRequest::new(r.principal, &action, &res).context(&context);
            let decision = authorizer.authorize(&request);
            if decision.is_allowed() {
                return Verdict::Allow;
            }
            Verdict::Deny {
                code: "access_denied",
                message: format!("`{action}` on `{}` is not allowed", res.id),
                explain: decision.to_string(),
            }
        };
        Self::build(Arc::new(check), Arc::from(describe.into()))
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
        let Verdict::Deny { code, message, explain } = (self.layer.check)(&access) else {
            return AuthorizeFuture::allowed(self.inner.call(req));
        };
        tracing::warn!(
            target: "audit",
            event = "access_denied",
            reason = code,
            sub = %principal.subject,
            required = &*self.layer.required,
            explain = %explain,
            method = %req.method(),
            path = req.uri().path(),
            "access denied"
        );
        let res = if code == "insufficient_scope" {
            response::forbidden(&self.layer.realm, &self.layer.required)
        } else {
            response::denied(code, &message)
        };
        AuthorizeFuture::refused(res)
    }
}
