//! The client address comes from trusted proxies only, walking `X-Forwarded-For` from
//! the right; the gateway always sets X-Forwarded-* and `Forwarded`.

mod common;

use common::raw::{raw, raw_json};
use common::{catch_all, echo_gateway, echoed, serve};
use platform_gateway::proxy::{ForwardedConfig, ProxyConfig};

async fn gateway(forwarded: ForwardedConfig) -> std::net::SocketAddr {
    let proxy = ProxyConfig { forwarded, ..ProxyConfig::default() };
    serve(echo_gateway(catch_all(), proxy).await).await
}

async fn echo_with(gw: std::net::SocketAddr, extra: &str) -> serde_json::Value {
    let req = format!("GET / HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n{extra}\r\n");
    raw_json(&raw(gw, req.as_bytes()).await)
}

#[tokio::test]
async fn untrusted_peer_cannot_forge_its_address() {
    let gw = gateway(ForwardedConfig::default()).await;
    let doc = echo_with(gw, "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9\r\n").await;
    assert_eq!(echoed(&doc, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echoed(&doc, "x-forwarded-proto"), ["http"]);
    assert_eq!(echoed(&doc, "x-forwarded-host"), ["shop.example"]);
    assert_eq!(echoed(&doc, "forwarded"), ["for=127.0.0.1;host=shop.example;proto=http"]);
}

#[tokio::test]
async fn trusted_cidrs_find_the_first_untrusted_hop_from_the_right() {
    let cfg = ForwardedConfig {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()],
        ..ForwardedConfig::default()
    };
    let gw = gateway(cfg).await;
    // A client forged 6.6.6.6; 198.51.100.7 is what the trusted 10.0.0.5 proxy saw.
    let doc = echo_with(
        gw,
        "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.5\r\nX-Forwarded-Proto: https\r\n",
    )
    .await;
    assert_eq!(echoed(&doc, "x-forwarded-for"), ["198.51.100.7, 10.0.0.5, 127.0.0.1"]);
    assert_eq!(echoed(&doc, "x-forwarded-proto"), ["https"], "kept from a trusted proxy");
}

#[tokio::test]
async fn trusted_hop_count() {
    let cfg = ForwardedConfig { trusted_hops: Some(2), ..ForwardedConfig::default() };
    let gw = gateway(cfg).await;
    let doc = echo_with(gw, "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.5\r\n").await;
    assert_eq!(echoed(&doc, "x-forwarded-for"), ["198.51.100.7, 10.0.0.5, 127.0.0.1"]);
    let forwarded = echoed(&doc, "forwarded");
    assert_eq!(forwarded, ["for=127.0.0.1;host=shop.example;proto=http"]);
}
