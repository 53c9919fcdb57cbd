//! The compiled route table: routes in match order, each with its service stack.

use std::fmt;
use std::sync::Arc;

use http::{Request, Response};
use platform_core::BoxError;
use tower::util::BoxCloneSyncService;

use super::Captures;
use super::predicate::{Predicates, RequestView};
use crate::body::Body;
use crate::proxy::is_forwarding_header;
use crate::upstream::Backend;

/// The type-erased service of one route: its filters, then the proxy to its backend.
pub type RouteService = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// The name of the route that matched a request (a request extension, and the `route`
/// label of the RED metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute(pub Arc<str>);

/// One route ready to serve.
#[derive(Clone)]
pub(crate) struct CompiledRoute {
    pub(crate) id: Arc<str>,
    /// Nothing in the stack reads the forwarding headers before the upstream client
    /// (they may stay out of the header map until then).
    pub(crate) defers_forwarding: bool,
    pub(crate) priority: i32,
    pub(crate) predicates: Predicates,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) service: RouteService,
}

/// Routes in the order they are tried: higher `priority` first, then the order they were
/// added. The first route whose predicates all hold serves the request.
#[derive(Clone, Default)]
pub struct RouteTable {
    routes: Vec<CompiledRoute>,
    /// Some route's predicates read a forwarding header: it must be in the header map
    /// when routes are matched.
    matches_forwarding: bool,
}

impl RouteTable {
    pub(crate) fn new(mut routes: Vec<CompiledRoute>) -> Self {
        // Stable: equal priorities keep the order they were added in.
        routes.sort_by_key(|r| std::cmp::Reverse(r.priority));
        let matches_forwarding = routes
            .iter()
            .any(|r| r.predicates.headers.iter().any(|h| is_forwarding_header(&h.name)));
        Self { routes, matches_forwarding }
    }

    /// Route ids in match order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| &*r.id)
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// `true` without routes.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The backend of route `id`.
    pub fn backend(&self, id: &str) -> Option<&Arc<dyn Backend>> {
        self.routes.iter().find(|r| &*r.id == id).map(|r| &r.backend)
    }

    /// A copy of the compiled route `id` (its stack shares state with this one).
    pub(crate) fn compiled(&self, id: &str) -> Option<CompiledRoute> {
        self.routes.iter().find(|r| &*r.id == id).cloned()
    }

    /// The compiled routes in match order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &CompiledRoute> {
        self.routes.iter()
    }

    /// Whether the forwarding headers may stay out of requests' header maps until
    /// routing is done (no route's predicates read them).
    pub(crate) fn defers_forwarding(&self) -> bool {
        !self.matches_forwarding
    }

    /// The first matching route and its captures.
    pub(crate) fn find(&self, req: &RequestView<'_>) -> Option<(&CompiledRoute, Captures)> {
        self.routes.iter().find_map(|r| r.predicates.matches(req).map(|c| (r, c)))
    }
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.routes.iter().map(|r| (&r.id, r.priority))).finish()
    }
}
