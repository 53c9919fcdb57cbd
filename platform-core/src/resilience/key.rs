//! Extracting a key from a request, for keyed breakers and keyed rate limits.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Pulls a key out of a request. `None` means "no key": keyed layers then apply their
/// global (unkeyed) behaviour to the request.
pub trait KeyExtractor<Req>: Send + Sync + 'static {
    /// The key type; keep it small (it is stored per key).
    type Key: std::hash::Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static;

    /// The key of `req`, if it has one.
    fn extract(&self, req: &Req) -> Option<Self::Key>;
}

/// Keys by the value of an HTTP header (e.g. `x-api-key`, `x-tenant`).
#[derive(Debug, Clone)]
pub struct HeaderKey {
    name: http::HeaderName,
}

impl HeaderKey {
    /// Keys by header `name`; requests without it (or with a non-UTF-8 value) have no key.
    pub fn new(name: http::HeaderName) -> Self {
        Self { name }
    }
}

impl<B> KeyExtractor<http::Request<B>> for HeaderKey {
    type Key = Arc<str>;

    fn extract(&self, req: &http::Request<B>) -> Option<Arc<str>> {
        req.headers().get(&self.name)?.to_str().ok().map(Arc::from)
    }
}

/// Keys by the client's IP address, read from a [`SocketAddr`] request extension, or from
/// axum's `ConnectInfo<SocketAddr>` when the `axum` feature is on.
///
/// Behind proxies, put the trusted client address into the `SocketAddr` extension first
/// (the gateway does this from its trusted-proxy settings): never key on the leftmost
/// `X-Forwarded-For` entry, which any client can forge.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientIpKey;

impl<B> KeyExtractor<http::Request<B>> for ClientIpKey {
    type Key = IpAddr;

    fn extract(&self, req: &http::Request<B>) -> Option<IpAddr> {
        if let Some(addr) = req.extensions().get::<SocketAddr>() {
            return Some(addr.ip());
        }
        #[cfg(feature = "axum")]
        if let Some(info) = req.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>() {
            return Some(info.0.ip());
        }
        None
    }
}

/// Keys by route: axum's `MatchedPath` when present (with the `axum` feature), otherwise
/// the request path. Prefer the matched route so that `/users/1` and `/users/2` share a key.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteKey;

impl<B> KeyExtractor<http::Request<B>> for RouteKey {
    type Key = Arc<str>;

    fn extract(&self, req: &http::Request<B>) -> Option<Arc<str>> {
        #[cfg(feature = "axum")]
        if let Some(m) = req.extensions().get::<axum::extract::MatchedPath>() {
            return Some(Arc::from(m.as_str()));
        }
        Some(Arc::from(req.uri().path()))
    }
}

/// Any closure `Fn(&Req) -> Option<K>` as an extractor.
///
/// ```
/// use platform_core::resilience::key::{KeyExtractor, KeyFn};
///
/// let by_len = KeyFn::new(|s: &String| Some(s.len()));
/// assert_eq!(by_len.extract(&"abc".to_string()), Some(3));
/// ```
#[derive(Clone, Copy)]
pub struct KeyFn<F> {
    f: F,
}

impl<F> KeyFn<F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> fmt::Debug for KeyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFn").finish_non_exhaustive()
    }
}

impl<Req, K, F> KeyExtractor<Req> for KeyFn<F>
where
    F: Fn(&Req) -> Option<K> + Send + Sync + 'static,
    K: std::hash::Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static,
{
    type Key = K;

    fn extract(&self, req: &Req) -> Option<K> {
        (self.f)(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_key() {
        let req = http::Request::builder().header("x-tenant", "acme").body(()).expect("req");
        let k = HeaderKey::new(http::HeaderName::from_static("x-tenant"));
        assert_eq!(k.extract(&req).as_deref(), Some("acme"));
        let req = http::Request::builder().body(()).expect("req");
        assert_eq!(k.extract(&req), None);
    }

    #[test]
    fn client_ip_from_socket_addr_extension() {
        let mut req = http::Request::builder().body(()).expect("req");
        assert_eq!(ClientIpKey.extract(&req), None);
        let addr: SocketAddr = "10.1.2.3:5555".parse().expect("addr");
        req.extensions_mut().insert(addr);
        assert_eq!(ClientIpKey.extract(&req), Some(addr.ip()));
    }

    #[test]
    fn route_key_falls_back_to_path() {
        let req = http::Request::builder().uri("/a/b?q=1").body(()).expect("req");
        assert_eq!(RouteKey.extract(&req).as_deref(), Some("/a/b"));
    }
}
