//! The path is normalized once; routes match and upstreams receive that one form. Sent
//! as raw bytes: client libraries would normalize first.

mod common;

use common::raw::{raw, raw_json, raw_status};
use common::{echo_upstream, serve};
use platform_gateway::proxy::{EncodedSlash, PathPolicy, ProxyConfig};
use platform_gateway::{Gateway, Route, Upstream};

async fn gateway(path: PathPolicy) -> std::net::SocketAddr {
    let admin = echo_upstream("admin").await;
    let public = echo_upstream("public").await;
    let gateway = Gateway::builder()
        .upstream(Upstream::builder("admin").endpoint(admin.to_string()).build().await.unwrap())
        .upstream(Upstream::builder("public").endpoint(public.to_string()).build().await.unwrap())
        .route(Route::builder("admin").path_prefix("/admin").upstream("admin").build().unwrap())
        .route(Route::builder("public").path_prefix("/").upstream("public").build().unwrap())
        .proxy(ProxyConfig { path, ..ProxyConfig::default() })
        .build()
        .unwrap();
    serve(gateway).await
}

async fn fetch(gw: std::net::SocketAddr, target: &str) -> (u16, String) {
    let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let res = raw(gw, req.as_bytes()).await;
    (raw_status(&res), res)
}

/// The upstream that answered and the URI it saw, from a raw echo response.
fn upstream_and_uri(res: &str) -> (String, String) {
    let doc = raw_json(res);
    (doc["upstream"].as_str().unwrap().to_owned(), doc["uri"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn disguised_paths_match_and_forward_in_normal_form() {
    let gw = gateway(PathPolicy::default()).await;
    for disguised in
        ["/public/../admin/x", "//admin//x", "/%61dmin/x", "/./admin/./x", "/%2e%2e/admin/x"]
    {
        let (status, res) = fetch(gw, disguised).await;
        assert_eq!(status, 200, "{disguised}");
        assert_eq!(upstream_and_uri(&res), ("admin".into(), "/admin/x".into()), "{disguised}");
    }
    let (_, res) = fetch(gw, "/a/./b/../c?q=%2F..").await;
    assert_eq!(upstream_and_uri(&res), ("public".into(), "/a/c?q=%2F..".into()), "query untouched");
}

#[tokio::test]
async fn encoded_slash_is_rejected_by_default() {
    let gw = gateway(PathPolicy::default()).await;
    let (status, res) = fetch(gw, "/admin%2Fx").await;
    assert_eq!(status, 400);
    assert!(res.contains("bad_path"), "{res}");
    let (status, _) = fetch(gw, "/a%zz").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn encoded_slash_decode_and_preserve_policies() {
    let decode =
        gateway(PathPolicy { encoded_slash: EncodedSlash::Decode, ..PathPolicy::default() }).await;
    let (_, res) = fetch(decode, "/public%2F..%2Fadmin").await;
    assert_eq!(upstream_and_uri(&res), ("admin".into(), "/admin".into()));

    let keep =
        gateway(PathPolicy { encoded_slash: EncodedSlash::Preserve, ..PathPolicy::default() })
            .await;
    let (_, res) = fetch(keep, "/public%2F..%2Fadmin").await;
    assert_eq!(upstream_and_uri(&res), ("public".into(), "/public%2F..%2Fadmin".into()));
}
