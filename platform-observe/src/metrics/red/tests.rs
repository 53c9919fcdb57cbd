use std::convert::Infallible;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use tower::{Service, ServiceExt, service_fn};

use super::*;
use crate::metrics::{FamilyLimits, MetricsRegistry};

fn ok_service(
    status: u16,
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone {
    service_fn(move |_req: Request<()>| async move {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::from_u16(status).unwrap();
        Ok::<_, Infallible>(res)
    })
}

fn req(method: Method, route: Option<&'static str>) -> Request<()> {
    let mut r = Request::builder().method(method).uri("/raw/path/123").body(()).unwrap();
    if let Some(route) = route {
        r.extensions_mut().insert(Route(route));
    }
    r
}

#[tokio::test]
async fn counts_by_route_method_and_status_class_never_the_raw_path() {
    let registry = MetricsRegistry::new();
    let layer = MetricsLayer::new(&registry).unwrap();
    let ok = tower::Layer::layer(&layer, ok_service(200));
    let missing = tower::Layer::layer(&layer, ok_service(404));
    ok.clone().oneshot(req(Method::GET, Some("/users/{id}"))).await.unwrap();
    ok.clone().oneshot(req(Method::GET, Some("/users/{id}"))).await.unwrap();
    missing.oneshot(req(Method::GET, Some("/users/{id}"))).await.unwrap();
    ok.clone().oneshot(req(Method::from_bytes(b"PURGE").unwrap(), None)).await.unwrap();
    let text = registry.encode();
    assert!(
        text.contains(
            r#"http_server_requests_total{route="/users/{id}",method="GET",status="2xx"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_server_requests_total{route="/users/{id}",method="GET",status="4xx"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_server_requests_total{route="unmatched",method="_OTHER",status="2xx"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"http_server_request_duration_seconds_count{route="/users/{id}",method="GET",status="2xx"} 2"#));
    assert!(text.contains(r#"http_server_request_duration_seconds_bucket{route="/users/{id}",method="GET",status="2xx",le="+Inf"} 2"#));
    assert!(!text.contains("/raw/path"));
}

#[tokio::test]
async fn errors_count_in_the_error_class() {
    let registry = MetricsRegistry::new();
    let svc = MetricsLayer::new(&registry).unwrap().layer_fn(service_fn(|_r: Request<()>| async {
        Err::<Response<()>, _>(std::io::Error::other("boom"))
    }));
    assert!(svc.oneshot(req(Method::POST, Some("/x"))).await.is_err());
    assert!(
        registry
            .encode()
            .contains(r#"http_server_requests_total{route="/x",method="POST",status="error"} 1"#)
    );
}

trait LayerFn {
    fn layer_fn<S>(&self, s: S) -> Metrics<S>;
}
impl LayerFn for MetricsLayer {
    fn layer_fn<S>(&self, s: S) -> Metrics<S> {
        tower::Layer::layer(self, s)
    }
}

#[tokio::test(start_paused = true)]
async fn in_flight_rises_while_served_and_falls_after_or_on_cancel() {
    let registry = MetricsRegistry::new();
    let layer = MetricsLayer::new(&registry).unwrap();
    let slow = service_fn(|_r: Request<()>| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, Infallible>(Response::new(()))
    });
    let mut svc = layer.layer_fn(slow);
    let fut = svc.ready().await.unwrap().call(req(Method::GET, Some("/slow")));
    let cancelled = svc.ready().await.unwrap().call(req(Method::GET, Some("/slow")));
    let gauge =
        |n: u32| format!(r#"http_server_requests_in_flight{{route="/slow",method="GET"}} {n}"#);
    assert!(registry.encode().contains(&gauge(2)));
    drop(cancelled);
    assert!(registry.encode().contains(&gauge(1)));
    fut.await.unwrap();
    let text = registry.encode();
    assert!(text.contains(&gauge(0)));
    assert!(
        text.contains(r#"http_server_requests_total{route="/slow",method="GET",status="2xx"} 1"#)
    );
}

#[tokio::test]
async fn routes_beyond_the_cap_go_to_the_overflow_series() {
    let registry = MetricsRegistry::new();
    let cfg = MetricsConfig {
        limits: FamilyLimits { max_series: 2, idle_timeout: None },
        ..Default::default()
    };
    let layer = MetricsLayer::from_config(&registry, &cfg)
        .unwrap()
        .with_route(raw_path as fn(&Request<()>) -> Option<&str>);
    let svc = tower::Layer::layer(&layer, ok_service(200));
    for p in ["/a", "/b", "/c", "/d", "/e"] {
        svc.clone().oneshot(Request::get(p).body(()).unwrap()).await.unwrap();
    }
    let text = registry.encode();
    assert!(
        text.contains(
            r#"http_server_requests_total{route="__overflow__",method="GET",status="2xx"} 3"#
        ),
        "{text}"
    );
    assert!(!text.contains(r#"route="/c""#));
}

#[test]
fn config_validation_names_the_field() {
    let bad = MetricsConfig { buckets: vec![0.5, 0.1], ..Default::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("ascending"));
    let bad = MetricsConfig {
        limits: FamilyLimits { max_series: 0, idle_timeout: None },
        ..Default::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("limits.max_series"));
    assert!(serde_json::from_str::<MetricsConfig>(r#"{"bukets": []}"#).is_err());
}

#[test]
fn the_same_registry_refuses_a_second_red_layer() {
    let registry = MetricsRegistry::new();
    MetricsLayer::new(&registry).unwrap();
    assert!(matches!(MetricsLayer::new(&registry), Err(MetricsLayerError::Registry(_))));
}

fn raw_path(r: &Request<()>) -> Option<&str> {
    Some(r.uri().path())
}
