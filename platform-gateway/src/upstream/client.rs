//! The HTTP client of one endpoint, and how its outcomes are classified.

use std::error::Error as StdError;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use http::uri::Authority;
use http::{Request, Response};
use platform_core::classify::{Classify, HttpClassifier, Outcome, default_error_outcome};
use platform_core::error::Elapsed;
use platform_core::registry::health::Outlier;
use platform_observe::trace::ClientTrace;
use tower_service::Service;

use super::UpstreamConfig;
use super::connect::TlsHandshakeError;
use super::pool::{Connectors, Pool, SendError, UpstreamBody};
use crate::BoxFuture;
use crate::body::Body;
use crate::error::{ProxyError, chain, is_body_too_large};

/// What one endpoint call goes through: a client span with `traceparent`, outlier
/// reporting, then the endpoint's connection pool with its timeouts.
pub(crate) type EndpointService = ClientTrace<Outlier<EndpointClient, EndpointClassifier>>;

/// Sends one request to one endpoint through its own connection [`Pool`], with the
/// response timeout, and names failures. Clones share the pool.
#[derive(Clone)]
pub(crate) struct EndpointClient {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    upstream: Arc<str>,
    endpoint: Arc<str>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl EndpointClient {
    pub(crate) fn new(
        connectors: Connectors,
        authority: Authority,
        upstream: Arc<str>,
        endpoint: Arc<str>,
        config: &UpstreamConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool: Pool::new(connectors, authority),
                upstream,
                endpoint,
                connect_timeout: config.connect_timeout,
                response_timeout: config.response_timeout,
            }),
        }
    }
}

impl Inner {
    fn name_error(&self, err: SendError) -> ProxyError {
        let (upstream, endpoint) = (self.upstream.clone(), self.endpoint.clone());
        let err = match err {
            SendError::Http(e) => {
                return ProxyError::Upstream { upstream, endpoint, source: Box::new(e) };
            }
            SendError::Inline(e) => {
                return ProxyError::Upstream { upstream, endpoint, source: Box::new(e) };
            }
            SendError::Connect(e) => e,
        };
        // The handshake's own words ("invalid peer certificate: UnknownIssuer").
        if let Some(tls) = chain(&*err).find_map(|e| e.downcast_ref::<TlsHandshakeError>()) {
            return ProxyError::Tls { upstream, endpoint, source: tls.to_string().into() };
        }
        let timed_out = chain(&*err).any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        });
        if timed_out {
            return ProxyError::ConnectTimeout { upstream, endpoint, after: self.connect_timeout };
        }
        ProxyError::Connect { upstream, endpoint, source: err }
    }
}

impl std::fmt::Debug for EndpointClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointClient")
            .field("upstream", &self.inner.upstream)
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl Service<Request<Body>> for EndpointClient {
    type Response = Response<UpstreamBody>;
    type Error = ProxyError;
    type Future = BoxFuture<Result<Response<UpstreamBody>, ProxyError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        // The pool opens connections on demand: always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let after = inner.response_timeout;
        // Combinators rather than an `async` block, which would hold the exchange's
        // future twice (moved in, then pinned).
        let exchange = crate::timer::timeout(after, inner.pool.send(req));
        Box::pin(exchange.map(move |result| match result {
            Ok(Ok(res)) => Ok(res),
            Ok(Err(e)) => Err(inner.name_error(e)),
            Err(()) => Err(ProxyError::ResponseTimeout {
                upstream: inner.upstream.clone(),
                endpoint: inner.endpoint.clone(),
                after,
                source: Elapsed::new(after),
            }),
        }))
    }
}

/// An error in the request body the client sent, not the endpoint's fault.
#[derive(Debug, thiserror::Error)]
#[error("reading the client's request body failed: {0}")]
pub(crate) struct ClientBodyError(#[source] pub(crate) platform_core::BoxError);

/// Whether an error was caused by the client (its body too large or broken).
pub(crate) fn client_caused(err: &(dyn StdError + 'static)) -> bool {
    is_body_too_large(err) || chain(err).any(|e| e.is::<ClientBodyError>())
}

/// The shared HTTP classification (5xx and 429 fail), except that failures the client
/// caused — an oversized or broken request body — say nothing about the endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct EndpointClassifier(HttpClassifier);

impl<B> Classify<Response<B>> for EndpointClassifier {
    fn classify_response(&self, res: &Response<B>) -> Outcome {
        self.0.classify_response(res)
    }

    fn classify_error(&self, err: &(dyn StdError + 'static)) -> Outcome {
        if client_caused(err) { Outcome::Rejected } else { default_error_outcome(err) }
    }
}
