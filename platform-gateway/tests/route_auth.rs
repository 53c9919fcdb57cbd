//! platform-auth's `AuthenticateLayer` on a route: no or a bad token gets the layer's
//! 401 (never reaching the upstream), a good one is forwarded with the body streamed.

mod common;

use bytes::Bytes;
use common::raw::{nth_response, raw, raw_json};
use common::{echo_upstream, echoed, send, serve};
use http::Request;
use http_body_util::Full;
use platform_auth::jwt::{Issuer, Key, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator};
use platform_gateway::{Gateway, Route, Upstream};

/// A gateway whose route `private` (on `prefix`) checks bearer tokens issued by the
/// returned issuer, in front of the echo upstream `private`.
async fn jwt_gateway(prefix: &str) -> (std::net::SocketAddr, Issuer) {
    let keys = KeySet::new(Key::hs256("k1", b"a-secret-for-gateway-tests-0123456789").unwrap());
    let issuer = Issuer::new(keys.clone(), "https://auth.test", "api");
    let auth = Authenticator::new()
        .jwt(Verifier::new(keys, VerifierConfig::new("https://auth.test", "api")));
    let up = echo_upstream("private").await;
    let gateway = Gateway::builder()
        .upstream(Upstream::builder("private").endpoint(up.to_string()).build().await.unwrap())
        .route(
            Route::builder("private")
                .path_prefix(prefix)
                .authenticate(AuthenticateLayer::new(auth))
                .upstream("private")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    (serve(gateway).await, issuer)
}

#[tokio::test]
async fn the_route_checks_the_bearer_token() {
    let (gw, issuer) = jwt_gateway("/private").await;

    let request = |token: Option<&str>| {
        let mut req = Request::post(format!("http://{gw}/private/x"));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.body(Full::new(Bytes::from_static(b"payload"))).unwrap()
    };
    let (status, body) = send(request(None)).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = send(request(Some("not.a.jwt"))).await;
    assert_eq!(status, 401);

    let token = issuer.issue("alice", &["orders:read"]).unwrap();
    let (status, doc) = send(request(Some(&token))).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["upstream"], "private");
    assert_eq!(doc["body_len"], 7);
}

#[tokio::test]
async fn an_authenticated_route_forwards_the_gateway_s_forwarding_headers() {
    // Authentication reads only its credential headers, so on this route the
    // forwarding headers are written by the upstream client: the upstream must still
    // see the gateway's values, never the client's, on a new and a reused connection.
    let (gw, issuer) = jwt_gateway("/").await;
    let token = issuer.issue("alice", &["orders:read"]).unwrap();
    let get = |close: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: shop.example\r\nAuthorization: Bearer {token}\r\n\
             X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\n\
             Forwarded: for=6.6.6.6\r\n{close}\r\n"
        )
    };
    let text = raw(gw, format!("{}{}", get(""), get("Connection: close\r\n")).as_bytes()).await;
    for n in 0..2 {
        let res = nth_response(&text, n);
        let doc = raw_json(res[1..].find("HTTP/1.1 ").map_or(res, |end| &res[..=end]));
        assert_eq!(echoed(&doc, "x-forwarded-for"), ["127.0.0.1"], "request {n}");
        assert_eq!(echoed(&doc, "x-forwarded-host"), ["shop.example"], "request {n}");
        assert_eq!(echoed(&doc, "x-forwarded-proto"), ["http"], "request {n}");
        let forwarded = echoed(&doc, "forwarded");
        assert_eq!(forwarded, ["for=127.0.0.1;host=shop.example;proto=http"], "request {n}");
    }
}
