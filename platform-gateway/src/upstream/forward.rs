//! Sending one attempt of a request to one endpoint of an upstream.

use std::sync::Arc;

use http::uri::{PathAndQuery, Scheme, Uri};
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use hyper_util::rt::TokioIo;
use platform_core::BoxError;
use tokio::time::Instant;
use tower_service::Service;

use super::client::client_caused;
use super::idle::IdleTimeout;
use super::{Attempts, Upstream, UpstreamProtocol};
use crate::balance::{BalancePolicy, HashKey, hash_key};
use crate::body::{self, Body};
use crate::error::ProxyError;
use crate::gateway::AccessRecord;
use crate::proxy::{ClientInfo, HostPolicy, Ingress, set_upgrade, strip_hop_by_hop};
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
    pub(crate) async fn forward(
        &self,
        mut req: Request<Body>,
        host: &HostPolicy,
    ) -> Result<Response<Body>, BoxError> {
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
        let ingress = req.extensions_mut().remove::<Ingress>();
        let pq =
            req.uri().path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(endpoint.authority().clone())
            .path_and_query(pq)
            .build()?;
        *req.version_mut() = match inner.config.protocol {
            UpstreamProtocol::Http1 => Version::HTTP_11,
            UpstreamProtocol::H2c => Version::HTTP_2,
        };
        match host {
            HostPolicy::Preserve => {
                if let Some(h) = ingress.as_ref().and_then(|i| i.host.clone()) {
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
        let hop = ingress.map(|i| i.hop).unwrap_or_default();
        if hop.te_trailers {
            req.headers_mut().insert(header::TE, HeaderValue::from_static("trailers"));
        }
        let client_upgrade = match hop.upgrade {
            Some(protocol) if inner.config.protocol == UpstreamProtocol::Http1 => {
                set_upgrade(req.headers_mut(), protocol);
                Some(hyper::upgrade::on(&mut req))
            }
            _ => None,
        };

        let in_flight = endpoint.start();
        let started = Instant::now();
        let mut service = endpoint.service.clone();
        let result = match std::future::poll_fn(|cx| service.poll_ready(cx)).await {
            Ok(()) => service.call(req).await,
            Err(e) => Err(e),
        };
        let rtt = started.elapsed();
        drop(in_flight);
        match &result {
            Ok(res) => {
                let status = res.status();
                endpoint.observe(
                    rtt,
                    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
                );
            }
            Err(e) if !client_caused(&**e) => endpoint.observe(rtt, true),
            Err(_) => {}
        }
        let mut res = result?;

        if res.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_side) = client_upgrade
        {
            let protocol = res.headers().get(header::UPGRADE).cloned();
            let upstream_side = hyper::upgrade::on(&mut res);
            strip_hop_by_hop(res.headers_mut());
            if let Some(p) = protocol {
                set_upgrade(res.headers_mut(), p);
            }
            tokio::spawn(tunnel(client_side, upstream_side, inner.name.clone()));
            return Ok(res.map(|_| body::empty()));
        }
        strip_hop_by_hop(res.headers_mut());
        let after = inner.config.idle_timeout;
        let (upstream, address): (Arc<str>, Arc<str>) =
            (inner.name.clone(), endpoint.authority().as_str().into());
        Ok(res.map(|b| body::boxed(IdleTimeout::new(b, after, upstream, address))))
    }
}

/// Copies bytes both ways between the upgraded client and upstream connections.
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    name: Arc<str>,
) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(target: "platform::gateway", upstream = %name, error = %e, "upgraded connection ended with an error");
            }
        }
        Err(e) => {
            tracing::debug!(target: "platform::gateway", upstream = %name, error = %e, "upgrade did not complete");
        }
    }
}
