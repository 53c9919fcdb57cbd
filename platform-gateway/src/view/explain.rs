//! `/admin/explain`: how the gateway would route a request, and why.

use std::collections::BTreeMap;

use http::Request;
use serde::Serialize;

use super::policy_name;
use crate::Gateway;
use crate::body;
use crate::proxy::admit;
use crate::route::predicate::RequestView;
use crate::server::ConnectionInfo;

/// How the gateway would handle a request: refused at ingress, or which routes were
/// passed over (and which of their predicates failed), which one matched, and the
/// upstream and endpoint that would serve it. Nothing is sent anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The request as routes see it (after path normalization).
    pub request: RequestSeen,
    /// Why the ingress checks would refuse it (then no route is tried).
    pub refused: Option<String>,
    /// Routes tried before the match (or all of them, without a match), in order.
    pub skipped: Vec<SkippedRoute>,
    /// The route that matches, if any (without one the answer is 404 `no_route`).
    pub matched: Option<MatchedView>,
}

/// The request as routes see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RequestSeen {
    /// The method.
    pub method: String,
    /// The host routes compare (lower case, no port).
    pub host: String,
    /// The normalized path (what routes match and upstreams receive).
    pub path: String,
    /// The query string.
    pub query: Option<String>,
}

/// A route passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SkippedRoute {
    /// Its id.
    pub route: String,
    /// Its priority.
    pub priority: i32,
    /// Each predicate that does not hold, and why.
    pub failed: Vec<String>,
}

/// The route that matches, and where it would send the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MatchedView {
    /// Its id.
    pub route: String,
    /// Its priority.
    pub priority: i32,
    /// Path-template captures.
    pub captures: BTreeMap<String, String>,
    /// The upstreams its backend may choose from.
    pub candidates: Vec<String>,
    /// The upstream its backend chose for this request.
    pub upstream: String,
    /// The endpoint the upstream's balancer would pick now (`None`: no endpoint in
    /// rotation, 503).
    pub endpoint: Option<String>,
    /// Its `host:port`.
    pub address: Option<String>,
    /// How that endpoint is chosen.
    pub balance: String,
}

impl Gateway {
    /// Explains how `req` (its head: method, URI, headers; a
    /// [`ConnectionInfo`] extension gives the client address) would be routed now.
    pub fn explain<B>(&self, req: &Request<B>) -> Explanation {
        let mut probe = Request::new(body::empty());
        *probe.method_mut() = req.method().clone();
        *probe.uri_mut() = req.uri().clone();
        *probe.version_mut() = req.version();
        *probe.headers_mut() = req.headers().clone();
        let conn = req.extensions().get::<ConnectionInfo>();
        let admitted = admit(self.proxy_config(), &mut probe, conn, false);
        let mut explanation = Explanation {
            request: RequestSeen {
                method: probe.method().to_string(),
                host: String::new(),
                path: probe.uri().path().to_owned(),
                query: probe.uri().query().map(str::to_owned),
            },
            refused: None,
            skipped: Vec::new(),
            matched: None,
        };
        let ingress = match admitted {
            Ok(i) => i,
            Err(r) => {
                explanation.refused =
                    Some(format!("{} {}: {}", r.status.as_u16(), r.code, r.message));
                return explanation;
            }
        };
        ingress.match_host().clone_into(&mut explanation.request.host);
        let table = self.routes();
        let view = RequestView {
            method: probe.method(),
            host: ingress.match_host(),
            path: probe.uri().path(),
            query: probe.uri().query(),
            headers: probe.headers(),
        };
        for route in table.iter() {
            match route.predicates.explain(&view) {
                Err(failed) => explanation.skipped.push(SkippedRoute {
                    route: route.id.to_string(),
                    priority: route.priority,
                    failed,
                }),
                Ok(captures) => {
                    let upstream = route.backend.select(&probe);
                    let endpoint = upstream.preview(&probe);
                    let policy = policy_name(&upstream.config().balance);
                    let pool = upstream.endpoints().len();
                    explanation.matched = Some(MatchedView {
                        route: route.id.to_string(),
                        priority: route.priority,
                        captures: captures
                            .iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                        candidates: route
                            .backend
                            .upstreams()
                            .iter()
                            .map(|u| u.name().to_owned())
                            .collect(),
                        upstream: upstream.name().to_owned(),
                        endpoint: endpoint.as_ref().map(|e| e.id().to_owned()),
                        address: endpoint.as_ref().map(|e| e.authority().to_string()),
                        balance: format!("{policy} over {pool} endpoint(s) in rotation"),
                    });
                    break;
                }
            }
        }
        explanation
    }
}
