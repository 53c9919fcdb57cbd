//! Hop-by-hop headers are removed in both directions, including every header named in
//! `Connection` (RFC 9110 §7.6.1), as seen by an echo upstream and a raw client.

mod common;

use common::raw::{raw, raw_json};
use common::{echoed, serve_echo_gateway};

#[tokio::test]
async fn request_hop_headers_do_not_reach_the_upstream() {
    let gw = serve_echo_gateway().await;
    let res = raw(
        gw,
        b"GET / HTTP/1.1\r\nHost: x\r\n\
Connection: close, X-Private-A, x-private-b\r\n\
X-Private-A: 1\r\nX-Private-B: 2\r\n\
Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\n\
Proxy-Authorization: Basic Zm9vOmJhcg==\r\nUpgrade: h2c\r\n\
X-Public: kept\r\n\r\n",
    )
    .await;
    let doc = raw_json(&res);
    for gone in [
        "x-private-a",
        "x-private-b",
        "keep-alive",
        "proxy-connection",
        "te",
        "proxy-authorization",
        "upgrade",
    ] {
        assert!(echoed(&doc, gone).is_empty(), "{gone} reached the upstream: {doc}");
    }
    // The gateway's own connection to the upstream may carry `connection: keep-alive`,
    // never the client's tokens.
    for c in echoed(&doc, "connection") {
        assert!(!c.to_ascii_lowercase().contains("private"), "{c}");
    }
    assert_eq!(echoed(&doc, "x-public"), ["kept"]);
}

#[tokio::test]
async fn te_trailers_is_kept_for_grpc() {
    let gw = serve_echo_gateway().await;
    let res =
        raw(gw, b"GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n").await;
    assert_eq!(echoed(&raw_json(&res), "te"), ["trailers"]);
}

#[tokio::test]
async fn response_hop_headers_do_not_reach_the_client() {
    let gw = serve_echo_gateway().await;
    let res = raw(gw, b"GET /?hop=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let head = res.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.contains("x-up-public: visible"), "{head}");
    assert!(!head.contains("x-up-private"), "{head}");
    assert!(!head.contains("keep-alive"), "{head}");
    assert!(!head.contains("proxy-authenticate"), "{head}");
}
