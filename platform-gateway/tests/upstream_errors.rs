//! Upstream failures become 502 / 503 / 504 with a JSON body carrying the trace id.

mod common;

use std::time::Duration;

use common::{echo_upstream, get, serve};
use http::StatusCode;
use platform_gateway::{Gateway, Route, Upstream, UpstreamConfig};

async fn gateway_to(address: &str, config: UpstreamConfig) -> std::net::SocketAddr {
    let upstream = Upstream::builder("u").endpoint(address).config(config).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("u").build().unwrap();
    serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await
}

fn assert_json_error(body: &serde_json::Value, code: &str) {
    assert_eq!(body["error"], code, "{body}");
    let trace = body["trace_id"].as_str().unwrap_or_else(|| panic!("no trace id: {body}"));
    assert_eq!(trace.len(), 32, "{trace}");
}

#[tokio::test]
async fn refused_connection_is_502() {
    // Bind then drop: nothing listens there any more.
    let port =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let gw = gateway_to(&format!("127.0.0.1:{port}"), UpstreamConfig::default()).await;
    let (status, body) = get(gw, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_json_error(&body, "upstream_connect_failed");
}

#[tokio::test]
async fn slow_response_is_504() {
    let up = echo_upstream("slow").await;
    let config = UpstreamConfig {
        response_timeout: Duration::from_millis(100),
        ..UpstreamConfig::default()
    };
    let gw = gateway_to(&up.to_string(), config).await;
    let (status, body) = get(gw, "/?sleep_ms=5000").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_json_error(&body, "upstream_timeout");
}

#[tokio::test]
async fn connect_that_never_completes_is_504() {
    // A loopback listener that never accepts, its backlog filled: further connection
    // attempts get no answer, so the connect timeout fires.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr))
                .await
        {
            fillers.push(s);
        }
    }
    let config =
        UpstreamConfig { connect_timeout: Duration::from_millis(300), ..UpstreamConfig::default() };
    let gw = gateway_to(&addr.to_string(), config).await;
    let (status, body) = get(gw, "/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_json_error(&body, "upstream_connect_timeout");
    drop((listener, fillers));
}

#[tokio::test]
async fn route_timeout_is_504_and_unmatched_is_404() {
    let up = echo_upstream("slow").await;
    let upstream = Upstream::builder("u").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("slow")
        .path_prefix("/slow")
        .timeout(Duration::from_millis(100))
        .upstream("u")
        .build()
        .unwrap();
    let gw = serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;
    let (status, body) = get(gw, "/slow?sleep_ms=5000").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_json_error(&body, "timeout");
    let (status, body) = get(gw, "/elsewhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_json_error(&body, "no_route");
}
