//! Route predicates, priorities and filters, through a live gateway.

mod common;

use common::{echo_upstream, echoed, send, serve};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use platform_gateway::filter::HeaderRules;
use platform_gateway::proxy::HostPolicy;
use platform_gateway::route::ValueMatch;
use platform_gateway::{Gateway, Route, Upstream};

async fn gateway() -> std::net::SocketAddr {
    let mut builder = Gateway::builder();
    for name in [
        "exact", "template", "host", "wild", "method", "header", "query", "cookie", "low", "high",
        "fallback", "rewrite", "split-a", "split-b",
    ] {
        let up = echo_upstream(name).await;
        builder = builder
            .upstream(Upstream::builder(name).endpoint(up.to_string()).build().await.unwrap());
    }
    let r = |id: &str| Route::builder(id).upstream(id);
    let gateway = builder
        .route(r("exact").path_exact("/exact").build().unwrap())
        .route(r("template").path_template("/users/{id}/orders/{order}").build().unwrap())
        .route(r("host").host("api.example.com").path_prefix("/h").build().unwrap())
        .route(r("wild").host("*.example.com").path_prefix("/h").build().unwrap())
        .route(r("method").method(Method::DELETE).path_prefix("/m").build().unwrap())
        .route(
            r("header")
                .header("x-env", ValueMatch::Exact("beta".into()))
                .path_prefix("/m")
                .build()
                .unwrap(),
        )
        .route(r("query").query("debug", ValueMatch::Present).path_prefix("/m").build().unwrap())
        .route(
            r("cookie")
                .cookie("canary", ValueMatch::Exact("1".into()))
                .path_prefix("/m")
                .build()
                .unwrap(),
        )
        .route(r("low").path_prefix("/p").build().unwrap())
        .route(r("high").path_prefix("/p/q").priority(10).build().unwrap())
        .route(
            r("rewrite")
                .path_template("/api/v1/items/{id}")
                .rewrite_path("/items/{id}/detail")
                .request_headers(HeaderRules {
                    remove: vec!["x-drop".parse().unwrap()],
                    set: vec![("x-set".parse().unwrap(), "1".parse().unwrap())],
                    add: vec![],
                })
                .set_response_header("x-route", "rewrite")
                .host_policy(HostPolicy::Rewrite)
                .build()
                .unwrap(),
        )
        .route(
            Route::builder("strip")
                .path_prefix("/strip")
                .strip_prefix("/strip")
                .upstream("exact")
                .build()
                .unwrap(),
        )
        .route(
            Route::builder("split")
                .path_prefix("/split")
                .weighted_upstreams([("split-a", 1), ("split-b", 0)])
                .build()
                .unwrap(),
        )
        .route(r("fallback").path_prefix("/").build().unwrap())
        .build()
        .unwrap();
    serve(gateway).await
}

async fn upstream_for(
    gw: std::net::SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(format!("http://{gw}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (status, doc) = send(req.body(Full::default()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{path}: {doc}");
    (doc["upstream"].as_str().unwrap().to_owned(), doc)
}

/// Method, path, headers, the upstream that should answer.
type Case<'a> = (Method, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn predicates_pick_the_route() {
    let gw = gateway().await;
    let get = Method::GET;
    let cases: &[Case<'_>] = &[
        (get.clone(), "/exact", &[], "exact"),
        (get.clone(), "/exact/more", &[], "fallback"),
        (get.clone(), "/users/7/orders/9", &[], "template"),
        (get.clone(), "/users/7/orders", &[], "fallback"),
        (get.clone(), "/h", &[("host", "api.example.com")], "host"),
        (get.clone(), "/h", &[("host", "eu.example.com:8080")], "wild"),
        (get.clone(), "/h", &[("host", "example.com")], "fallback"),
        (Method::DELETE, "/m", &[], "method"),
        (get.clone(), "/m", &[("x-env", "beta")], "header"),
        (get.clone(), "/m?debug", &[], "query"),
        (get.clone(), "/m", &[("cookie", "a=b; canary=1")], "cookie"),
        (get.clone(), "/m", &[], "fallback"),
        (get.clone(), "/p/q/r", &[], "high"),
        (get.clone(), "/p/x", &[], "low"),
        (get.clone(), "/split", &[], "split-a"),
    ];
    for (method, path, headers, want) in cases {
        let (got, _) = upstream_for(gw, method.clone(), path, headers).await;
        assert_eq!(got, *want, "{method} {path} {headers:?}");
    }
}

#[tokio::test]
async fn filters_rewrite_the_request_and_response() {
    let gw = gateway().await;
    let req = Request::get(format!("http://{gw}/api/v1/items/42?x=1"))
        .header("x-drop", "secret")
        .body(Full::default())
        .unwrap();
    let res = common::client().request(req).await.unwrap();
    assert_eq!(res.headers()["x-route"], "rewrite");
    let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["uri"], "/items/42/detail?x=1");
    assert!(echoed(&doc, "x-drop").is_empty());
    assert_eq!(echoed(&doc, "x-set"), ["1"]);
    let host = echoed(&doc, "host")[0];
    assert!(
        host.starts_with("127.0.0.1:") && host != gw.to_string(),
        "rewritten to the endpoint: {host}"
    );

    let (_, doc) = upstream_for(gw, Method::GET, "/strip/a/b", &[]).await;
    assert_eq!(doc["uri"], "/a/b");
    let (_, doc) = upstream_for(gw, Method::GET, "/strip", &[]).await;
    assert_eq!(doc["uri"], "/");
}

#[tokio::test]
async fn routes_can_be_swapped_atomically() {
    let up = echo_upstream("one").await;
    let upstream = Upstream::builder("one").endpoint(up.to_string()).build().await.unwrap();
    let gateway = Gateway::builder()
        .upstream(upstream)
        .route(Route::builder("a").path_prefix("/a").upstream("one").build().unwrap())
        .build()
        .unwrap();
    let gw = serve(gateway.clone()).await;
    assert_eq!(common::get(gw, "/b").await.0, StatusCode::NOT_FOUND);
    gateway
        .replace_routes(&[Route::builder("b").path_prefix("/b").upstream("one").build().unwrap()])
        .unwrap();
    assert_eq!(common::get(gw, "/b").await.0, StatusCode::OK);
    let bad = Route::builder("c").path_prefix("/c").upstream("missing").build().unwrap();
    let err = gateway.replace_routes(&[bad]).unwrap_err().to_string();
    assert!(err.contains("route `c`") && err.contains("`missing`"), "{err}");
    assert_eq!(common::get(gw, "/b").await.0, StatusCode::OK, "the old table stays");
}
