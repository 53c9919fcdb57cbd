//! The client address comes from trusted proxies only, walking `X-Forwarded-For` from
//! the right; the gateway always sets X-Forwarded-* and `Forwarded`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::raw::{nth_response, raw, raw_body, raw_json, raw_status};
use common::{catch_all, echo_gateway, echoed, listen, serve, serve_with};
use http::Request;
use platform_gateway::proxy::{ForwardedConfig, ProxyConfig};
use platform_gateway::route::{RouteService, ValueMatch};
use platform_gateway::{Body, Gateway, Route, RouteBuilder, ServerConfig, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::Service;

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

/// An upstream answering each request with its head exactly as received (the body is
/// read and dropped), and `x-conn` naming the connection it came on.
async fn raw_head_upstream() -> std::net::SocketAddr {
    let conns = Arc::new(AtomicUsize::new(0));
    listen(move |mut stream: TcpStream| {
        let conn = conns.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut buf = Vec::new();
            loop {
                let head_end = |buf: &[u8]| buf.windows(4).position(|w| w == b"\r\n\r\n");
                while head_end(&buf).is_none() {
                    if !read_more(&mut stream, &mut buf).await {
                        return;
                    }
                }
                let end = head_end(&buf).unwrap() + 4;
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let length: usize =
                    lines(&head, "content-length").first().map_or(0, |v| v.parse().unwrap());
                while buf.len() < end + length {
                    if !read_more(&mut stream, &mut buf).await {
                        return;
                    }
                }
                buf.drain(..end + length);
                let res = format!(
                    "HTTP/1.1 200 OK\r\nx-conn: {conn}\r\ncontent-length: {}\r\n\r\n{head}",
                    head.len()
                );
                if stream.write_all(res.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
}

/// Reads what `stream` has into `buf`; `false` once it is closed or failed.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// The values of the header lines named `name` in a raw request head.
fn lines<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

const FORGED: &str = "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\
                      X-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6\r\n";

/// What the upstream must see of the forwarding headers for a request to
/// `shop.example` from this machine, once each, whatever the client sent.
fn assert_sanitized(head: &str, what: &str) {
    assert_eq!(lines(head, "x-forwarded-for"), ["127.0.0.1"], "{what}: {head}");
    assert_eq!(lines(head, "x-forwarded-proto"), ["http"], "{what}: {head}");
    assert_eq!(lines(head, "x-forwarded-host"), ["shop.example"], "{what}: {head}");
    let forwarded = lines(head, "forwarded");
    assert_eq!(forwarded, ["for=127.0.0.1;host=shop.example;proto=http"], "{what}: {head}");
    assert!(!head.contains("6.6.6.6") && !head.contains("evil"), "{what}: {head}");
}

/// A gateway routing everything to [`raw_head_upstream`] with `route`'s settings.
async fn raw_head_gateway(route: RouteBuilder, inline: bool) -> std::net::SocketAddr {
    let up = raw_head_upstream().await;
    let upstream = Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap();
    let gateway = Gateway::builder()
        .upstream(upstream)
        .route(route.upstream("a").build().unwrap())
        .build()
        .unwrap();
    serve_with(gateway, ServerConfig { inline_http1: inline, ..ServerConfig::default() }).await
}

#[tokio::test]
async fn forwarding_headers_are_sanitized_on_every_way_to_the_upstream() {
    // A plain route: the forwarding headers stay out of the header map until the
    // upstream client writes them. On one client connection: a GET on a new upstream
    // connection, a GET on that connection reused (the inline client's fast path), a
    // POST through hyper's client, and a last GET.
    for inline in [true, false] {
        let gw = raw_head_gateway(catch_all(), inline).await;
        let get = |path: &str, last: bool| {
            let close = if last { "Connection: close\r\n" } else { "" };
            format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\n{FORGED}{close}\r\n")
        };
        let post = format!(
            "POST /3 HTTP/1.1\r\nHost: shop.example\r\n{FORGED}Content-Length: 5\r\n\r\nhello"
        );
        let text = raw(
            gw,
            format!("{}{}{post}{}", get("/1", false), get("/2", false), get("/4", true)).as_bytes(),
        )
        .await;
        let answers: Vec<&str> = (0..4).map(|n| nth_response(&text, n)).collect();
        for (n, res) in answers.iter().enumerate() {
            assert_eq!(raw_status(res), 200, "inline {inline}, request {n}: {res}");
            assert_sanitized(
                raw_body(res).split("HTTP/1.1 ").next().unwrap(),
                &format!("inline {inline}, request {n}"),
            );
        }
        let conn = |res: &str| lines(res.split_once("\r\n\r\n").unwrap().0, "x-conn")[0].to_owned();
        assert_eq!(conn(answers[0]), conn(answers[1]), "the second GET reused the connection");
        assert!(raw_body(answers[2]).starts_with("POST /3 "), "{}", answers[2]);
    }
}

#[tokio::test]
async fn what_reads_forwarding_headers_on_the_way_sees_them_sanitized() {
    // A predicate naming X-Forwarded-For matches on the gateway's value, not the
    // client's.
    let up = raw_head_upstream().await;
    let upstream = Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap();
    let forged = Route::builder("forged")
        .priority(10)
        .path_prefix("/")
        .header("x-forwarded-for", ValueMatch::Exact("6.6.6.6".into()))
        .set_response_header("x-route", "forged")
        .upstream("a");
    let local = Route::builder("local")
        .path_prefix("/")
        .header("x-forwarded-for", ValueMatch::Exact("127.0.0.1".into()))
        .set_response_header("x-route", "local")
        .upstream("a");
    let gateway = Gateway::builder()
        .upstream(upstream)
        .route(forged.build().unwrap())
        .route(local.build().unwrap())
        .build()
        .unwrap();
    let gw = serve_with(gateway, ServerConfig::default()).await;
    let req = format!("GET / HTTP/1.1\r\nHost: shop.example\r\n{FORGED}Connection: close\r\n\r\n");
    let res = raw(gw, req.as_bytes()).await;
    assert_eq!(raw_status(&res), 200, "{res}");
    assert_eq!(lines(res.split_once("\r\n\r\n").unwrap().0, "x-route"), ["local"], "{res}");
    assert_sanitized(raw_body(&res), "predicate");

    // A layer of the user's reading X-Forwarded-For sees the gateway's value.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let layer = tower::layer::layer_fn(move |inner: RouteService| {
        let record = record.clone();
        tower::service_fn(move |req: Request<Body>| {
            let values = req.headers().get_all("x-forwarded-for").iter();
            record.lock().unwrap().extend(values.map(|v| v.to_str().unwrap().to_owned()));
            let mut inner = inner.clone();
            async move { inner.call(req).await }
        })
    });
    let gw = raw_head_gateway(catch_all().layer(layer), true).await;
    let res = raw(gw, req.as_bytes()).await;
    assert_sanitized(raw_body(&res), "custom layer");
    assert_eq!(*seen.lock().unwrap(), ["127.0.0.1"]);
}
