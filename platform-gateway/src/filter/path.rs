//! Path rewriting: strip a prefix, or build the path from template captures.

use std::task::{Context, Poll};

use http::Request;
use http::uri::{PathAndQuery, Uri};
use tower_layer::Layer;
use tower_service::Service;

use crate::route::{Captures, PathTemplate};

/// Rewrites the (normalized) request path before it is forwarded.
///
/// `strip_prefix` removes a leading prefix by whole segments (`/api` turns `/api/users`
/// into `/users` and `/api` into `/`); `rewrite` replaces the path with a pattern whose
/// `{name}` placeholders take the route template's captures. With both, the rewrite
/// wins. The query string is kept.
#[derive(Debug, Clone, Default)]
pub struct PathRewriteLayer {
    strip_prefix: Option<String>,
    rewrite: Option<String>,
}

impl PathRewriteLayer {
    /// Removes `prefix` from the front of paths.
    pub fn strip_prefix(prefix: impl Into<String>) -> Self {
        Self { strip_prefix: Some(prefix.into().trim_end_matches('/').to_owned()), rewrite: None }
    }

    /// Replaces paths with `pattern` filled from the captures.
    pub fn rewrite(pattern: impl Into<String>) -> Self {
        Self { strip_prefix: None, rewrite: Some(pattern.into()) }
    }

    /// The new path for `path`.
    fn new_path(&self, path: &str, captures: Option<&Captures>) -> Option<String> {
        if let Some(pattern) = &self.rewrite {
            return Some(PathTemplate::expand(pattern, captures.unwrap_or(&Captures::default())));
        }
        let prefix = self.strip_prefix.as_deref()?;
        let rest = path.strip_prefix(prefix)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(if rest.is_empty() { "/".to_owned() } else { rest.to_owned() })
    }
}

impl<S> Layer<S> for PathRewriteLayer {
    type Service = PathRewrite<S>;

    fn layer(&self, inner: S) -> PathRewrite<S> {
        PathRewrite { inner, layer: self.clone() }
    }
}

/// The service of [`PathRewriteLayer`].
#[derive(Debug, Clone)]
pub struct PathRewrite<S> {
    inner: S,
    layer: PathRewriteLayer,
}

impl<S, B> Service<Request<B>> for PathRewrite<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        let path = req.uri().path();
        if let Some(new) = self.layer.new_path(path, req.extensions().get::<Captures>()) {
            let pq = match req.uri().query() {
                Some(q) => format!("{new}?{q}"),
                None => new,
            };
            if let Ok(pq) = PathAndQuery::try_from(pq) {
                let mut parts = req.uri().clone().into_parts();
                parts.path_and_query = Some(pq);
                if let Ok(uri) = Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_by_segments() {
        let l = PathRewriteLayer::strip_prefix("/api/");
        assert_eq!(l.new_path("/api/users", None).unwrap(), "/users");
        assert_eq!(l.new_path("/api", None).unwrap(), "/");
        assert_eq!(l.new_path("/apix", None), None);
    }

    #[test]
    fn rewrite_from_captures() {
        let t: PathTemplate = "/u/{id}".parse().unwrap();
        let c = t.matches("/u/9").unwrap();
        let l = PathRewriteLayer::rewrite("/users/{id}/profile");
        assert_eq!(l.new_path("/u/9", Some(&c)).unwrap(), "/users/9/profile");
    }
}
