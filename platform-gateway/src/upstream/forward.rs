//! Sending one attempt of a request to one endpoint of an upstream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use http::uri::{PathAndQuery, Uri};
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use platform_core::BoxError;
use platform_core::resilience::Deadline;
use tokio::time::Instant;
use tower_service::Service;

use super::client::client_caused;
use super::idle::IdleTimeout;
use super::{Attempts, EndpointService, Upstream, upgrade};
use crate::balance::{BalancePolicy, HashKey, hash_key};
use crate::body::{self, Body};
use crate::error::ProxyError;
use crate::gateway::AccessRecord;
use crate::proxy::{
    ClientInfo, FromUpstream, GRPC_TIMEOUT, GrpcCall, HostPolicy, Ingress, Stripped, grpc_timeout,
    set_upgrade, strip_hop_by_hop,
};
use crate::route::predicate::cookie_values;

impl Upstream {
    /// The consistent-hash key of `req`, when the policy hashes and the key is present.
    fn hash_of(&self, req: &Request<Body>) -> Option<u64> {
        let BalancePolicy::ConsistentHash(c) = self.inner.balancer.policy() else {
            return None;
        };
        match &c.key {
            HashKey::Header(name) => {
                req.headers().get(name.as_str()).map(|v| hash_key(v.as_bytes()))
            }
            HashKey::Cookie(name) => {
                cookie_values(req.headers(), name).next().map(|v| hash_key(v.as_bytes()))
            }
            HashKey::ClientAddress => req.extensions().get::<ClientInfo>().map(|c| match c.addr {
                std::net::IpAddr::V4(a) => hash_key(&a.octets()),
                std::net::IpAddr::V6(a) => hash_key(&a.octets()),
            }),
        }
    }

    /// The endpoint a request like `req` would be sent to now (for explanations; the
    /// round-robin position does not move).
    pub(crate) fn preview(&self, req: &Request<Body>) -> Option<Arc<crate::balance::Endpoint>> {
        let set = self.inner.endpoints.load();
        self.inner.balancer.preview(&set, self.hash_of(req))
    }

    /// Picks an endpoint and sends `req` to it; the response streams back with its
    /// hop-by-hop headers removed.
    ///
    /// The endpoint is picked and the request prepared and handed to the endpoint's
    /// client at once: the future returned holds only what the response needs (the
    /// request itself has moved on), so the boxed future around it stays small.
    pub(crate) fn forward(&self, req: Request<Body>, host: &HostPolicy) -> Forwarding {
        match self.send(req, host) {
            Ok(sending) => Forwarding { inner: self.inner.clone(), sending: Ok(sending) },
            Err(e) => Forwarding { inner: self.inner.clone(), sending: Err(Some(e)) },
        }
    }

    /// The synchronous part of [`forward`](Self::forward): picks, prepares, calls.
    fn send(&self, mut req: Request<Body>, host: &HostPolicy) -> Result<Sending, BoxError> {
        let inner = &self.inner;
        let key = self.hash_of(&req);
        let attempts = req.extensions().get::<Attempts>().cloned();
        let tried = attempts.as_ref().map(Attempts::tried).unwrap_or_default();
        let endpoint = {
            let set = inner.endpoints.load();
            inner.balancer.pick(&set, key, &tried)
        }
        .ok_or_else(|| ProxyError::NoEndpoint { upstream: inner.name.clone() })?;
        if let Some(a) = &attempts {
            a.record(endpoint.id_arc().clone());
        }
        if let Some(r) = req.extensions().get::<AccessRecord>() {
            r.attempt(&inner.name, endpoint.id_arc());
        }
        // Left in the request: the pool writes any deferred forwarding headers from it.
        let ingress = req.extensions().get::<Ingress>();
        let (client_host, extended_connect, hop) = match ingress {
            Some(i) => (i.host.clone(), i.extended_connect, i.hop.clone()),
            None => (None, false, Stripped::default()),
        };
        let pq =
            req.uri().path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(inner.scheme.clone());
        parts.authority = Some(endpoint.authority().clone());
        parts.path_and_query = Some(pq);
        *req.uri_mut() = Uri::from_parts(parts)?;
        let http2_only = inner.config.protocol.http2_only();
        *req.version_mut() = if http2_only { Version::HTTP_2 } else { Version::HTTP_11 };
        match host {
            HostPolicy::Preserve => {
                // Usually the request still carries it: only a missing or changed
                // `Host` is written.
                if let Some(h) = client_host
                    && req.headers().get(header::HOST) != Some(&h)
                {
                    req.headers_mut().insert(header::HOST, h);
                }
            }
            HostPolicy::Rewrite => {
                // The client sets it from the URI authority: the endpoint.
                req.headers_mut().remove(header::HOST);
            }
            HostPolicy::Set(v) => {
                req.headers_mut().insert(header::HOST, v.clone());
            }
        }
        if hop.te_trailers {
            req.headers_mut().insert(header::TE, HeaderValue::from_static("trailers"));
        }
        let grpc = req.extensions().get::<GrpcCall>().is_some();
        if grpc && let Some(deadline) = Deadline::current() {
            // The tighter of the client's deadline and the route's timeout, less the
            // time already spent, so the upstream gives up when the gateway does.
            req.headers_mut().insert(GRPC_TIMEOUT, grpc_timeout(deadline.remaining()));
        }
        let mut websocket_key = None;
        let client_upgrade = match hop.upgrade {
            Some(protocol) if !http2_only => {
                if extended_connect && protocol.as_bytes().eq_ignore_ascii_case(b"websocket") {
                    websocket_key = Some(upgrade::websocket_key(req.headers_mut()));
                }
                set_upgrade(req.headers_mut(), protocol);
                Some(hyper::upgrade::on(&mut req))
            }
            Some(_) if extended_connect => {
                return Err(ProxyError::UpgradeUnsupported { upstream: inner.name.clone() }.into());
            }
            _ => None,
        };

        let in_flight = endpoint.start();
        let started = Instant::now();
        let mut service = endpoint.service.clone();
        // The endpoint's client is always ready (its pool opens connections on demand);
        // a stack that is not is waited for in the response future.
        let call = match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Call::Called(service.call(req)),
            Poll::Ready(Err(e)) => Call::Failed(Some(e)),
            Poll::Pending => Call::NotReady(Box::new((service, req))),
        };
        Ok(Sending {
            call,
            endpoint,
            in_flight,
            started,
            client_upgrade,
            websocket_key,
            extended_connect,
            grpc,
        })
    }
}

/// The future of [`Upstream::forward`]: the endpoint's response, recorded and prepared
/// for the client.
pub(crate) struct Forwarding {
    inner: Arc<super::Inner>,
    /// The request handed to its endpoint, or why it could not be (taken when done).
    sending: Result<Sending, Option<BoxError>>,
}

impl Future for Forwarding {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sending = match &mut this.sending {
            Ok(sending) => sending,
            Err(e) => {
                return Poll::Ready(Err(e.take().expect("Forwarding polled after completion")));
            }
        };
        let result = ready!(sending.call.poll(cx));
        match std::mem::replace(&mut this.sending, Err(None)) {
            Ok(sending) => Poll::Ready(sending.finish(&this.inner, result)),
            Err(_) => unreachable!("checked above"),
        }
    }
}

/// What the endpoint's client answers.
type EndpointResponse = <EndpointService as Service<Request<Body>>>::Response;

/// How the endpoint's client was called.
enum Call {
    Called(<EndpointService as Service<Request<Body>>>::Future),
    Failed(Option<BoxError>),
    /// Rare: the client was not ready (boxed, to keep the usual future small).
    NotReady(Box<(EndpointService, Request<Body>)>),
}

impl Call {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<EndpointResponse, BoxError>> {
        loop {
            match self {
                Call::Called(fut) => return Pin::new(fut).poll(cx),
                Call::Failed(e) => {
                    return Poll::Ready(Err(e
                        .take()
                        .expect("endpoint call polled after completion")));
                }
                Call::NotReady(pending) => {
                    if let Err(e) = ready!(pending.0.poll_ready(cx)) {
                        *self = Call::Failed(Some(e));
                        continue;
                    }
                    if let Call::NotReady(pending) = std::mem::replace(self, Call::Failed(None)) {
                        let (mut service, req) = *pending;
                        *self = Call::Called(service.call(req));
                    }
                }
            }
        }
    }
}

/// A request handed to its endpoint, and what its response needs.
struct Sending {
    call: Call,
    endpoint: Arc<crate::balance::Endpoint>,
    in_flight: crate::balance::InFlight,
    started: Instant,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    websocket_key: Option<HeaderValue>,
    extended_connect: bool,
    grpc: bool,
}

impl Sending {
    /// Records the endpoint's response (or failure) and prepares it for the client.
    fn finish(
        self,
        inner: &super::Inner,
        result: Result<EndpointResponse, BoxError>,
    ) -> Result<Response<Body>, BoxError> {
        let endpoint = &self.endpoint;
        let answered = Instant::now();
        let rtt = answered.saturating_duration_since(self.started);
        drop(self.in_flight);
        match &result {
            Ok(res) => {
                let status = res.status();
                endpoint.observe_at(
                    rtt,
                    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
                    answered,
                );
            }
            Err(e) if !client_caused(&**e) => endpoint.observe_at(rtt, true, answered),
            Err(_) => {}
        }
        let mut res = result?;
        let (upstream, address) = (inner.name.clone(), endpoint.address().clone());

        if res.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_side) = self.client_upgrade
        {
            let upstream_side = hyper::upgrade::on(&mut res);
            let res = upgrade::emptied(res);
            let res = if self.extended_connect {
                let key = self.websocket_key.as_ref();
                upgrade::accept_extended_connect(res, key, &upstream, &address)?
            } else {
                let protocol = res.headers().get(header::UPGRADE).cloned();
                let mut res = res;
                strip_hop_by_hop(res.headers_mut());
                if let Some(p) = protocol {
                    set_upgrade(res.headers_mut(), p);
                }
                res
            };
            tokio::spawn(upgrade::tunnel(client_side, upstream_side, upstream));
            return Ok(res);
        }
        if self.extended_connect && res.status().is_success() {
            return Err(upgrade::not_switched(&upstream, &address, res.status()).into());
        }
        strip_hop_by_hop(res.headers_mut());
        if self.grpc {
            res.extensions_mut().insert(FromUpstream);
        }
        let after = inner.config.idle_timeout;
        Ok(res.map(|b| body::boxed(IdleTimeout::new(b, after, upstream, address))))
    }
}
