//! A custom `Backend` is told how each attempt it chose ended, unless it opts out.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, StatusCode};
use platform_core::classify::Outcome;
use platform_gateway::body::Body;
use platform_gateway::upstream::Backend;
use platform_gateway::{Gateway, Route, Upstream};

/// Sends everything to one upstream and records what it is told; leaves `observes`
/// at its default, as backends written before it existed do.
#[derive(Debug)]
struct Recording {
    upstream: Upstream,
    seen: Mutex<Vec<(String, Outcome)>>,
}

impl Backend for Recording {
    fn select(&self, _req: &Request<Body>) -> Upstream {
        self.upstream.clone()
    }

    fn upstreams(&self) -> Vec<Upstream> {
        vec![self.upstream.clone()]
    }

    fn observe(&self, upstream: &Upstream, outcome: Outcome, latency: Duration) {
        assert!(latency < Duration::from_secs(10), "{latency:?}");
        self.seen.lock().unwrap().push((upstream.name().to_owned(), outcome));
    }
}

/// [`Recording`], opting out of observations.
#[derive(Debug)]
struct OptedOut(Arc<Recording>);

impl Backend for OptedOut {
    fn select(&self, req: &Request<Body>) -> Upstream {
        self.0.select(req)
    }

    fn upstreams(&self) -> Vec<Upstream> {
        self.0.upstreams()
    }

    fn observe(&self, upstream: &Upstream, outcome: Outcome, latency: Duration) {
        self.0.observe(upstream, outcome, latency);
    }

    fn observes(&self) -> bool {
        false
    }
}

async fn gateway_with(observes: bool) -> (std::net::SocketAddr, Arc<Recording>) {
    let ok = common::status_upstream("ok", 200).await;
    let upstream = Upstream::builder("ok").endpoint(ok.to_string()).build().await.unwrap();
    let backend = Arc::new(Recording { upstream, seen: Mutex::default() });
    let chosen: Arc<dyn Backend> =
        if observes { backend.clone() } else { Arc::new(OptedOut(backend.clone())) };
    let route = Route::builder("all").path_prefix("/").backend(chosen).build().unwrap();
    let gateway = Gateway::builder().route(route).build().unwrap();
    (common::serve(gateway).await, backend)
}

#[tokio::test]
async fn a_backend_that_observes_hears_of_every_attempt() {
    let (addr, backend) = gateway_with(true).await;
    for _ in 0..3 {
        let (status, _) = common::get(addr, "/x").await;
        assert_eq!(status, StatusCode::OK);
    }
    let seen = backend.seen.lock().unwrap().clone();
    assert_eq!(seen, vec![("ok".to_owned(), Outcome::Success); 3]);
}

#[tokio::test]
async fn a_backend_that_opts_out_is_not_told() {
    let (addr, backend) = gateway_with(false).await;
    let (status, _) = common::get(addr, "/x").await;
    assert_eq!(status, StatusCode::OK);
    assert!(backend.seen.lock().unwrap().is_empty());
}
