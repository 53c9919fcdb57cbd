//! HTTP/1.1 requests need exactly one `Host`; several are refused in any version.

mod common;

use common::raw::{raw, raw_body, raw_json, raw_status};
use common::serve_echo_gateway;

#[tokio::test]
async fn missing_host_on_http11_is_400() {
    let gw = serve_echo_gateway().await;
    let res = raw(gw, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&res), 400, "{res}");
    assert!(raw_body(&res).contains("\"error\":\"bad_host\""), "{res}");
    assert!(raw_body(&res).contains("trace_id"), "{res}");
}

#[tokio::test]
async fn duplicate_host_is_400() {
    let gw = serve_echo_gateway().await;
    let res = raw(
        gw,
        b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&res), 400, "{res}");
    assert!(raw_body(&res).contains("several Host headers"), "{res}");
}

#[tokio::test]
async fn http10_without_host_is_served() {
    let gw = serve_echo_gateway().await;
    let res = raw(gw, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(raw_status(&res), 200, "{res}");
}

#[tokio::test]
async fn one_host_is_preserved_by_default() {
    let gw = serve_echo_gateway().await;
    let res =
        raw(gw, b"GET / HTTP/1.1\r\nHost: shop.example:8443\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&res), 200, "{res}");
    let doc = raw_json(&res);
    assert_eq!(common::echoed(&doc, "host"), ["shop.example:8443"]);
    assert_eq!(common::echoed(&doc, "x-forwarded-host"), ["shop.example:8443"]);
}
