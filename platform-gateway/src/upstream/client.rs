//! The HTTP client of one upstream, and how its outcomes are classified.

use std::error::Error as StdError;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use platform_core::classify::{Classify, HttpClassifier, Outcome, default_error_outcome};
use platform_core::error::Elapsed;
use platform_core::registry::health::Outlier;
use platform_observe::trace::ClientTrace;
use tower_service::Service;

use super::connect::{Connector, TlsHandshakeError};
use super::{Transport, UpstreamConfig, UpstreamProtocol};
use crate::BoxFuture;
use crate::body::Body;
use crate::error::{ProxyError, chain, is_body_too_large};

/// What one endpoint call goes through: a client span with `traceparent`, outlier
/// reporting, then the pooled client with its timeouts.
pub(crate) type EndpointService = ClientTrace<Outlier<EndpointClient, EndpointClassifier>>;

/// The pooled hyper clients of an upstream, shared by its endpoints.
#[derive(Clone)]
pub(crate) struct Clients {
    main: Client<Connector, Body>,
    /// For upgrade requests when `main` may settle on HTTP/2 (`auto` over TLS):
    /// upgrades need HTTP/1.1.
    upgrade: Option<Client<Connector, Body>>,
}

impl Clients {
    /// The clients for `config`, reaching endpoints over `transport`.
    pub(crate) fn new(config: &UpstreamConfig, transport: &Transport) -> Self {
        let protocol = config.protocol;
        let main = pooled(config, connector(config, transport, protocol.alpn()));
        let upgrade = (transport.is_tls() && protocol == UpstreamProtocol::Auto)
            .then(|| pooled(config, connector(config, transport, UpstreamProtocol::Http1.alpn())));
        Self { main, upgrade }
    }
}

fn connector(
    config: &UpstreamConfig,
    transport: &Transport,
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))] alpn: &[&[u8]],
) -> Connector {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(config.connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(true);
    match transport {
        Transport::Plain => Connector::plain(http),
        #[cfg(feature = "tls")]
        Transport::Tls(tls) => Connector::tls(http, tls.connect(alpn, config.connect_timeout)),
    }
}

fn pooled(config: &UpstreamConfig, connector: Connector) -> Client<Connector, Body> {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .http2_only(config.protocol.http2_only())
        .build(connector)
}

/// Sends one request to one endpoint, with the response timeout, and names failures.
#[derive(Clone)]
pub(crate) struct EndpointClient {
    clients: Clients,
    upstream: Arc<str>,
    endpoint: Arc<str>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl EndpointClient {
    pub(crate) fn new(
        clients: Clients,
        upstream: Arc<str>,
        endpoint: Arc<str>,
        config: &UpstreamConfig,
    ) -> Self {
        Self {
            clients,
            upstream,
            endpoint,
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        }
    }

    fn name_error(&self, err: hyper_util::client::legacy::Error) -> ProxyError {
        let (upstream, endpoint) = (self.upstream.clone(), self.endpoint.clone());
        if err.is_connect() {
            // The handshake's own words ("invalid peer certificate: UnknownIssuer"), not
            // the client's wrapper ("client error (Connect)").
            if let Some(tls) = chain(&err).find_map(|e| e.downcast_ref::<TlsHandshakeError>()) {
                return ProxyError::Tls { upstream, endpoint, source: tls.to_string().into() };
            }
            let timed_out = chain(&err).any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            });
            if timed_out {
                return ProxyError::ConnectTimeout {
                    upstream,
                    endpoint,
                    after: self.connect_timeout,
                };
            }
            return ProxyError::Connect { upstream, endpoint, source: Box::new(err) };
        }
        ProxyError::Upstream { upstream, endpoint, source: Box::new(err) }
    }
}

impl std::fmt::Debug for EndpointClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointClient")
            .field("upstream", &self.upstream)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Service<Request<Body>> for EndpointClient {
    type Response = Response<Incoming>;
    type Error = ProxyError;
    type Future = BoxFuture<Result<Response<Incoming>, ProxyError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        // The pool opens connections on demand: always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let after = this.response_timeout;
            let client = match &this.clients.upgrade {
                Some(h1) if req.headers().contains_key(http::header::UPGRADE) => h1,
                _ => &this.clients.main,
            };
            match tokio::time::timeout(after, client.request(req)).await {
                Ok(Ok(res)) => Ok(res),
                Ok(Err(e)) => Err(this.name_error(e)),
                Err(_) => Err(ProxyError::ResponseTimeout {
                    upstream: this.upstream.clone(),
                    endpoint: this.endpoint.clone(),
                    after,
                    source: Elapsed::new(after),
                }),
            }
        })
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
