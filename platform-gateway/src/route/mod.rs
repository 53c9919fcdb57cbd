//! Routes: which requests a route takes (predicates), what it does to them (filters)
//! and where it sends them (its [`Backend`]).
//!
//! A route matches when **all** its predicates hold: methods, hosts (exact or
//! `*.domain`), path ([`PathMatch`]: exact, prefix by segments, or a
//! [`PathTemplate`] with captures), headers, query parameters and cookies. Routes are
//! tried by `priority` (higher first), then in the order they were added; the first
//! match serves. The path seen by predicates is the normalized one that is also
//! forwarded.
//!
//! Filters run outermost first: RED metrics, CORS, your own layers
//! ([`RouteBuilder::layer`], e.g. authentication), header rules, path rewrite, body
//! limit, rate limit, timeout (over all attempts), retry (each attempt to another
//! endpoint while one is left), circuit breaker, then the proxy.
//!
//! ```
//! use std::time::Duration;
//! use http::Method;
//! use platform_gateway::route::{Route, ValueMatch};
//!
//! let route = Route::builder("user-by-id")
//!     .method(Method::GET)
//!     .host("api.example.com")
//!     .path_template("/api/users/{id}")
//!     .header("x-env", ValueMatch::Exact("beta".into()))
//!     .rewrite_path("/users/{id}")
//!     .timeout(Duration::from_secs(2))
//!     .upstream("users")
//!     .build()
//!     .unwrap();
//! assert_eq!(route.id(), "user-by-id");
//! ```

mod builder;
mod describe;
pub(crate) mod predicate;
pub(crate) mod stack;
pub(crate) mod table;
mod template;

use std::sync::Arc;
use std::time::Duration;

use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_core::resilience::{RateLimitConfig, RetryConfig};

pub use builder::RouteBuilder;
pub use predicate::{
    CookiePredicate, HeaderPredicate, HostMatch, PathMatch, QueryPredicate, ValueMatch,
};
pub use table::{MatchedRoute, RouteService, RouteTable};
pub use template::{Captures, PathTemplate, TemplateError};

use crate::filter::{HeaderRules, RateKey};
use crate::proxy::HostPolicy;
use crate::upstream::Backend;
use predicate::Predicates;

/// Where a route sends requests.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// The upstream of this name.
    Upstream(String),
    /// A random split between upstreams by weight.
    Weighted(Vec<(String, u32)>),
    /// A backend you built (e.g. a canary split over versions).
    Backend(Arc<dyn Backend>),
}

/// A layer of your own in a route's stack, type-erased.
pub(crate) type CustomLayer = Arc<dyn Fn(RouteService) -> RouteService + Send + Sync>;

/// A route: predicates, filters and target, as built by [`RouteBuilder`] or compiled
/// from a config file. The gateway turns it into a service stack when it is added.
#[derive(Clone)]
pub struct Route {
    pub(crate) id: String,
    pub(crate) priority: i32,
    pub(crate) predicates: Predicates,
    pub(crate) target: Target,
    pub(crate) host_policy: HostPolicy,
    pub(crate) strip_prefix: Option<String>,
    pub(crate) rewrite: Option<String>,
    pub(crate) request_headers: HeaderRules,
    pub(crate) response_headers: HeaderRules,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryConfig>,
    pub(crate) circuit_breaker: Option<CircuitBreakerConfig>,
    pub(crate) rate_limit: Option<(RateLimitConfig, RateKey)>,
    pub(crate) max_body_bytes: Option<u64>,
    #[cfg(feature = "cors")]
    pub(crate) cors: Option<tower_http::cors::CorsLayer>,
    pub(crate) layers: Vec<CustomLayer>,
    /// Some of `layers` may read forwarding headers: a layer of the user's, or
    /// authentication reading one as its API-key header.
    pub(crate) layers_read_forwarding: bool,
}

impl Route {
    /// A builder for the route `id` (unique within a gateway).
    pub fn builder(id: impl Into<String>) -> RouteBuilder {
        RouteBuilder::new(id.into())
    }

    /// The route id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The priority (higher is tried first).
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("id", &self.id)
            .field("priority", &self.priority)
            .field("predicates", &self.predicates)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}
