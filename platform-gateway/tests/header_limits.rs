//! Too many or too large request headers: 431.

mod common;

use common::raw::{raw, raw_status};
use common::{catch_all, echo_gateway, serve};
use platform_gateway::proxy::ProxyConfig;

async fn gateway(proxy: ProxyConfig) -> std::net::SocketAddr {
    serve(echo_gateway(catch_all(), proxy).await).await
}

fn request_with(headers: usize, value_len: usize) -> Vec<u8> {
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_vec();
    for i in 0..headers {
        req.extend_from_slice(format!("x-h{i}: {}\r\n", "v".repeat(value_len)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req
}

#[tokio::test]
async fn too_many_headers_is_431() {
    let gw = gateway(ProxyConfig { max_headers: 20, ..ProxyConfig::default() }).await;
    assert_eq!(raw_status(&raw(gw, &request_with(10, 10)).await), 200);
    let res = raw(gw, &request_with(40, 10)).await;
    assert_eq!(raw_status(&res), 431, "{res}");
    assert!(
        common::raw::raw_body(&res).contains("too_many_headers"),
        "the gateway's JSON answer: {res}"
    );
    // Far over: hyper stops it while reading.
    assert_eq!(raw_status(&raw(gw, &request_with(200, 10)).await), 431);
}

#[tokio::test]
async fn oversized_head_is_431() {
    let gw = gateway(ProxyConfig { max_header_bytes: 16 * 1024, ..ProxyConfig::default() }).await;
    assert_eq!(raw_status(&raw(gw, &request_with(2, 1000)).await), 200);
    // Far past hyper's read buffer too.
    assert_eq!(raw_status(&raw(gw, &request_with(8, 8 * 1024)).await), 431);
}

#[tokio::test]
async fn header_bytes_over_the_limit_but_within_the_buffer_are_431() {
    // 12 KiB of headers: within the 16 KiB head buffer, over the 10 KiB-ish count the
    // gateway checks itself (names + values).
    let gw = gateway(ProxyConfig { max_header_bytes: 8192, ..ProxyConfig::default() }).await;
    let res = raw(gw, &request_with(3, 2600)).await;
    assert_eq!(raw_status(&res), 200, "{res}");
    let res = raw(gw, &request_with(4, 2600)).await;
    assert_eq!(raw_status(&res), 431, "{res}");
    assert!(
        common::raw::raw_body(&res).contains("headers_too_large"),
        "the gateway's JSON answer: {res}"
    );
}
