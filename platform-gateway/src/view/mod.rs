//! Read-only views of a running [`Gateway`] for operators: its routes, its upstreams
//! with their endpoints and ejections, and explanations of how a request would be
//! routed. The admin API serves them as JSON; they are plain serializable values, also
//! usable from code and tests.
//!
//! ```
//! use http::Request;
//! use platform_gateway::{Gateway, Route, Upstream};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = Gateway::builder()
//!     .upstream(Upstream::builder("users").endpoint("127.0.0.1:9001").build().await?)
//!     .route(Route::builder("admin").priority(10).path_prefix("/admin").method(http::Method::POST).upstream("users").build()?)
//!     .route(Route::builder("users").path_template("/users/{id}").upstream("users").build()?)
//!     .build()?;
//! assert_eq!(gateway.route_views()[0].predicates, ["method POST", "path under /admin"]);
//!
//! let why = gateway.explain(&Request::get("/users/7").header("host", "api").body(())?);
//! let matched = why.matched.unwrap();
//! assert_eq!(matched.route, "users");
//! assert_eq!(matched.captures["id"], "7");
//! assert_eq!(matched.endpoint.as_deref(), Some("127.0.0.1:9001"));
//! assert_eq!(why.skipped[0].route, "admin");
//! assert_eq!(why.skipped[0].failed, ["method GET is not POST", "path /users/7 does not match: path under /admin"]);
//! # Ok(()) }
//! ```

mod explain;

use std::sync::Arc;

use serde::Serialize;

pub use explain::{Explanation, MatchedView, RequestSeen, SkippedRoute};

use crate::Gateway;
use crate::balance::{BalancePolicy, Endpoint};
use crate::upstream::{Upstream, UpstreamProtocol};

/// One route, as the admin API's `/admin/routes` lists it (in match order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RouteView {
    /// The route id.
    pub id: String,
    /// Its priority (higher is tried first).
    pub priority: i32,
    /// Its predicates in words, in the order checked (empty: every request).
    pub predicates: Vec<String>,
    /// The upstreams its backend may send to.
    pub upstreams: Vec<String>,
}

/// One upstream, as `/admin/upstreams` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpstreamView {
    /// The upstream name.
    pub name: String,
    /// `auto`, `http1`, `h2c` or `h2`.
    pub protocol: UpstreamProtocol,
    /// Whether the endpoints are reached over TLS (`https`).
    pub tls: bool,
    /// The balancing policy (`peak_ewma`, `round_robin`, `weighted`, `consistent_hash`).
    pub balance: &'static str,
    /// The endpoints in rotation now.
    pub endpoints: Vec<EndpointView>,
    /// Ids of endpoints ejected by outlier detection now (out of rotation unless the
    /// panic threshold put everything back).
    pub ejected: Vec<String>,
    /// `false` when no endpoint is in rotation: requests get 503 `no_endpoint`.
    pub serving: bool,
}

/// One endpoint in rotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EndpointView {
    /// The instance id (static endpoints: their address).
    pub id: String,
    /// `host:port`.
    pub address: String,
    /// Its weight.
    pub weight: u32,
    /// Requests sent and not yet answered.
    pub in_flight: usize,
    /// The PeakEwma load estimate (decayed latency in ms × (in flight + 1)).
    pub load_ms: f64,
}

pub(crate) fn policy_name(policy: &BalancePolicy) -> &'static str {
    match policy {
        BalancePolicy::PeakEwma(_) => "peak_ewma",
        BalancePolicy::RoundRobin => "round_robin",
        BalancePolicy::Weighted => "weighted",
        BalancePolicy::ConsistentHash(_) => "consistent_hash",
    }
}

impl EndpointView {
    fn of(e: &Arc<Endpoint>) -> Self {
        Self {
            id: e.id().to_owned(),
            address: e.authority().to_string(),
            weight: e.weight(),
            in_flight: e.in_flight(),
            load_ms: e.load() / 1e6,
        }
    }
}

impl UpstreamView {
    fn of(u: &Upstream) -> Self {
        let endpoints: Vec<EndpointView> = u.endpoints().iter().map(EndpointView::of).collect();
        Self {
            name: u.name().to_owned(),
            protocol: u.config().protocol,
            tls: u.is_tls(),
            balance: policy_name(&u.config().balance),
            serving: !endpoints.is_empty(),
            endpoints,
            ejected: u.ejected(),
        }
    }
}

impl Gateway {
    /// The routes in force, in match order.
    pub fn route_views(&self) -> Vec<RouteView> {
        self.routes()
            .iter()
            .map(|r| RouteView {
                id: r.id.to_string(),
                priority: r.priority,
                predicates: r.predicates.describe(),
                upstreams: r.backend.upstreams().iter().map(|u| u.name().to_owned()).collect(),
            })
            .collect()
    }

    /// The upstreams in force, by name, with their endpoints and ejections.
    pub fn upstream_views(&self) -> Vec<UpstreamView> {
        self.upstreams().iter().map(UpstreamView::of).collect()
    }
}
