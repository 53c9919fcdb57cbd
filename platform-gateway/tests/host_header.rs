//! HTTP/1.1 requests need exactly one `Host`; several are refused in any version.

mod common;

use common::{echo_upstream, raw, raw_body, raw_status, serve};
use platform_gateway::{Gateway, Route, Upstream};

async fn gateway() -> std::net::SocketAddr {
    let up = echo_upstream("a").await;
    let upstream = Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("a").build().unwrap();
    serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await
}

#[tokio::test]
async fn missing_host_on_http11_is_400() {
    let gw = gateway().await;
    let res = raw(gw, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&res), 400, "{res}");
    assert!(raw_body(&res).contains("\"error\":\"bad_host\""), "{res}");
    assert!(raw_body(&res).contains("trace_id"), "{res}");
}

#[tokio::test]
async fn duplicate_host_is_400() {
    let gw = gateway().await;
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
    let gw = gateway().await;
    let res = raw(gw, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(raw_status(&res), 200, "{res}");
}

#[tokio::test]
async fn one_host_is_preserved_by_default() {
    let gw = gateway().await;
    let res =
        raw(gw, b"GET / HTTP/1.1\r\nHost: shop.example:8443\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&res), 200, "{res}");
    let doc: serde_json::Value = serde_json::from_str(raw_body(&res).trim()).unwrap_or_else(|_| {
        // A chunked body: take the JSON between the chunk-size lines.
        let body = raw_body(&res);
        let start = body.find('{').unwrap();
        let end = body.rfind('}').unwrap();
        serde_json::from_str(&body[start..=end]).unwrap()
    });
    assert_eq!(common::echoed(&doc, "host"), ["shop.example:8443"]);
    assert_eq!(common::echoed(&doc, "x-forwarded-host"), ["shop.example:8443"]);
}
