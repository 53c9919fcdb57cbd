//! Adding, setting and removing headers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Header changes, applied in this order: remove, set (replacing every value), add
/// (appending another value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderRules {
    /// Headers removed.
    pub remove: Vec<HeaderName>,
    /// Headers set, replacing any value.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Headers added beside any existing value.
    pub add: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderRules {
    /// `true` when there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.add.is_empty()
    }

    /// Applies the rules to `headers`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// Applies [`HeaderRules`] to requests on the way in and responses on the way out.
#[derive(Debug, Clone, Default)]
pub struct HeaderFilterLayer {
    request: Arc<HeaderRules>,
    response: Arc<HeaderRules>,
}

impl HeaderFilterLayer {
    /// Changes `request` headers before the inner service, `response` headers after.
    pub fn new(request: HeaderRules, response: HeaderRules) -> Self {
        Self { request: Arc::new(request), response: Arc::new(response) }
    }
}

impl<S> Layer<S> for HeaderFilterLayer {
    type Service = HeaderFilter<S>;

    fn layer(&self, inner: S) -> HeaderFilter<S> {
        HeaderFilter { inner, request: self.request.clone(), response: self.response.clone() }
    }
}

/// The service of [`HeaderFilterLayer`].
#[derive(Debug, Clone)]
pub struct HeaderFilter<S> {
    inner: S,
    request: Arc<HeaderRules>,
    response: Arc<HeaderRules>,
}

impl<S, B, ResB> Service<Request<B>> for HeaderFilter<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        self.request.apply(req.headers_mut());
        ResponseFuture { inner: self.inner.call(req), rules: self.response.clone() }
    }
}

pin_project! {
    /// Applies the response rules when the inner response arrives.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        rules: Arc<HeaderRules>,
    }
}

impl<F, ResB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        this.rules.apply(res.headers_mut());
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_then_set_then_add() {
        let rules = HeaderRules {
            remove: vec![HeaderName::from_static("x-a")],
            set: vec![(HeaderName::from_static("x-b"), HeaderValue::from_static("set"))],
            add: vec![(HeaderName::from_static("x-b"), HeaderValue::from_static("added"))],
        };
        let mut h = HeaderMap::new();
        h.insert("x-a", HeaderValue::from_static("1"));
        h.append("x-b", HeaderValue::from_static("old1"));
        h.append("x-b", HeaderValue::from_static("old2"));
        rules.apply(&mut h);
        assert!(!h.contains_key("x-a"));
        assert_eq!(h.get_all("x-b").iter().collect::<Vec<_>>(), ["set", "added"]);
    }
}
