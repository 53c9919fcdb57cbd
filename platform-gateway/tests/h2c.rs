//! HTTP/2 with prior knowledge (h2c) through the gateway, to HTTP/1.1 and h2c upstreams.

mod common;

use bytes::Bytes;
use common::{echo_upstream, serve};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use platform_gateway::upstream::UpstreamProtocol;
use platform_gateway::{Gateway, Route, Upstream, UpstreamConfig};

async fn h2_send(req: Request<Full<Bytes>>) -> (StatusCode, serde_json::Value) {
    let client = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_2);
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn h2c_client_to_http1_and_h2c_upstreams() {
    let h1 = echo_upstream("h1").await;
    let h2 = echo_upstream("h2").await;
    let gateway = Gateway::builder()
        .upstream(Upstream::builder("h1").endpoint(h1.to_string()).build().await.unwrap())
        .upstream(
            Upstream::builder("h2")
                .endpoint(h2.to_string())
                .config(UpstreamConfig {
                    protocol: UpstreamProtocol::H2c,
                    ..UpstreamConfig::default()
                })
                .build()
                .await
                .unwrap(),
        )
        .route(Route::builder("h2").path_prefix("/h2").upstream("h2").build().unwrap())
        .route(Route::builder("h1").path_prefix("/").upstream("h1").build().unwrap())
        .build()
        .unwrap();
    let gw = serve(gateway).await;

    let (status, doc) =
        h2_send(Request::get(format!("http://{gw}/x/../hello")).body(Full::default()).unwrap())
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["version"], "HTTP/1.1");
    assert_eq!(doc["uri"], "/hello");
    assert_eq!(common::echoed(&doc, "host"), [gw.to_string().as_str()], "authority becomes Host");

    let body = Full::new(Bytes::from(vec![7u8; 100_000]));
    let (status, doc) =
        h2_send(Request::post(format!("http://{gw}/h2/upload")).body(body).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["version"], "HTTP/2.0");
    assert_eq!(doc["body_len"], 100_000);
}
