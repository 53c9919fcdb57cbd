//! Bodiless requests reach HTTP/1.1 upstreams over the gateway's inline client:
//! keep-alive reuse, every body framing, and malformed answers named in the 502.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::{client, get, serve};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use platform_gateway::{Gateway, Route, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw upstream answering the request numbered `n` on its connection with
/// `answer(n)`; counts the connections it accepted.
async fn raw_upstream(answer: fn(usize) -> &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let addr = common::listen(move |mut stream| {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut buf = Vec::new();
            for n in 0.. {
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 4096];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                buf.drain(..end);
                if stream.write_all(answer(n).as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    (addr, accepted)
}

async fn gateway_to(upstream: SocketAddr) -> SocketAddr {
    let upstream = Upstream::builder("u").endpoint(upstream.to_string()).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("u").build().unwrap();
    serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await
}

#[tokio::test]
async fn sequential_requests_share_one_upstream_connection_whatever_the_framing() {
    let (up, accepted) = raw_upstream(|n| match n % 3 {
        0 => "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nlength",
        1 => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nchu\r\n4\r\nnked\r\n0\r\n\r\n",
        _ => "HTTP/1.1 204 No Content\r\n\r\n",
    })
    .await;
    let gw = gateway_to(up).await;
    for _ in 0..2 {
        let (status, body) = get(gw, "/").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, Some("length")));
        let (status, body) = get(gw, "/").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, Some("chunked")));
        let (status, body) = get(gw, "/").await;
        assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, Some("")));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn head_answers_keep_their_content_length_and_have_no_body() {
    let (up, accepted) = raw_upstream(|_| "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n").await;
    let gw = gateway_to(up).await;
    for _ in 0..2 {
        let req = Request::builder()
            .method(Method::HEAD)
            .uri(format!("http://{gw}/"))
            .body(Full::<Bytes>::default())
            .unwrap();
        let res = client().request(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-length"], "1234");
        assert!(res.into_body().collect().await.unwrap().to_bytes().is_empty());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_malformed_answer_is_a_502_naming_what_was_wrong() {
    let (up, _) =
        raw_upstream(|_| "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab")
            .await;
    let gw = gateway_to(up).await;
    let (status, body) = get(gw, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "bad_gateway", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("conflicting content-length values"), "{message}");

    let (up, _) = raw_upstream(|_| "SPDY/3 200 OK\r\n\r\n").await;
    let gw = gateway_to(up).await;
    let (status, body) = get(gw, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("invalid response head"), "{message}");
}
