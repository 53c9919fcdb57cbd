//! Request bodies over the route's limit are refused with 413: by `Content-Length`
//! before anything is forwarded, and by counting a chunked body as it streams.

mod common;

use common::raw::{raw, raw_body, raw_status};
use common::{echo_gateway, serve};
use platform_gateway::Route;
use platform_gateway::proxy::ProxyConfig;

async fn gateway() -> std::net::SocketAddr {
    let small = Route::builder("small").path_prefix("/small").max_body_bytes(1024);
    serve(echo_gateway(small, ProxyConfig::default()).await).await
}

#[tokio::test]
async fn declared_length_over_the_limit_is_413() {
    let gw = gateway().await;
    let res = raw(
        gw,
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&res), 413, "{res}");
    assert!(raw_body(&res).contains("body_too_large"), "{res}");
}

#[tokio::test]
async fn streamed_body_over_the_limit_is_413() {
    let gw = gateway().await;
    let chunk = "x".repeat(3000);
    let req = format!(
        "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let res = raw(gw, req.as_bytes()).await;
    assert_eq!(raw_status(&res), 413, "{res}");
}

#[tokio::test]
async fn bodies_within_the_limit_pass() {
    let gw = gateway().await;
    let res = raw(
        gw,
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(raw_status(&res), 200, "{res}");
    assert!(res.contains("\"body_len\":5"), "{res}");
}
