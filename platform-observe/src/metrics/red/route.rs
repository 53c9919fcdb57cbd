//! Where the route label comes from.

use http::Request;

/// The label used when no route matched (never the raw path).
pub const UNMATCHED: &str = "unmatched";

/// Reads the route label of a request: a route *template* such as `/users/{id}`, never
/// the raw path (raw paths make one series per user id).
///
/// Closures `Fn(&Request<B>) -> Option<&str>` implement it.
pub trait RouteLabel<B>: Send + Sync + 'static {
    /// The route of `req`, or `None` when no route matched.
    fn route<'r>(&self, req: &'r Request<B>) -> Option<&'r str>;
}

impl<B, F> RouteLabel<B> for F
where
    F: for<'r> Fn(&'r Request<B>) -> Option<&'r str> + Send + Sync + 'static,
{
    fn route<'r>(&self, req: &'r Request<B>) -> Option<&'r str> {
        self(req)
    }
}

/// A route name set by an earlier layer or router as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route(pub &'static str);

/// The default route label: the [`Route`] extension if present, else (feature `axum`)
/// axum's `MatchedPath`, else [`UNMATCHED`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRoute;

impl<B> RouteLabel<B> for DefaultRoute {
    fn route<'r>(&self, req: &'r Request<B>) -> Option<&'r str> {
        if let Some(Route(r)) = req.extensions().get::<Route>() {
            return Some(r);
        }
        #[cfg(feature = "axum")]
        if let Some(p) = req.extensions().get::<axum::extract::MatchedPath>() {
            return Some(p.as_str());
        }
        None
    }
}

/// The method label: standard methods by name, anything else `_OTHER` (bounded).
pub(crate) fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}
