//! The gateway continues the caller's trace towards the upstream and records RED
//! metrics labelled by route id.

mod common;

use common::{echo_upstream, echoed, send, serve};
use http::Request;
use http_body_util::Full;
use platform_gateway::{Gateway, Route, Upstream};
use platform_observe::metrics::MetricsRegistry;

#[tokio::test]
async fn traceparent_continues_and_route_metrics_are_recorded() {
    let up = echo_upstream("a").await;
    let registry = MetricsRegistry::new();
    let gateway = Gateway::builder()
        .upstream(Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap())
        .route(Route::builder("users").path_template("/users/{id}").upstream("a").build().unwrap())
        .metrics(&registry)
        .build()
        .unwrap();
    let gw = serve(gateway).await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let req = Request::get(format!("http://{gw}/users/1"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .body(Full::default())
        .unwrap();
    let (_, doc) = send(req).await;
    let sent = echoed(&doc, "traceparent");
    assert_eq!(sent.len(), 1, "{doc}");
    assert!(sent[0].starts_with(&format!("00-{trace}-")), "{}", sent[0]);
    assert!(!sent[0].contains("00f067aa0ba902b7"), "the gateway's own span is the parent");

    let _ = common::get(gw, "/users/2").await;
    let text = registry.encode();
    let line = text
        .lines()
        .find(|l| l.starts_with("http_server_requests_total") && l.contains("route=\"users\""))
        .unwrap_or_else(|| panic!("no series for the route:\n{text}"));
    assert!(line.ends_with(" 2"), "{line}");
}
