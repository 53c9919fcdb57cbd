//! The server's inline HTTP/1.1 path (`ServerConfig::inline_http1`, on by default)
//! answers what hyper's server answers: every case runs against both, written as raw
//! bytes. A request the inline path does not take (a body, here) hands the connection
//! to hyper with the bytes already read.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::raw::{raw, raw_json, raw_status};
use common::{catch_all, echo_gateway, listen, serve_with};
use http::Response;
use http_body::Frame;
use http_body_util::StreamBody;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use platform_gateway::proxy::ProxyConfig;
use platform_gateway::{Gateway, Route, ServerConfig, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The same echo gateway served with the inline path on, then off.
async fn both(config: ServerConfig) -> [(bool, SocketAddr); 2] {
    let mut out = [(true, "0.0.0.0:0".parse().unwrap()); 2];
    for (slot, inline) in out.iter_mut().zip([true, false]) {
        let gateway = echo_gateway(catch_all(), ProxyConfig::default()).await;
        let config = ServerConfig { inline_http1: inline, ..config.clone() };
        *slot = (inline, serve_with(gateway, config).await);
    }
    out
}

/// The responses in raw text holding several, each from its status line on.
fn responses(text: &str) -> Vec<&str> {
    let starts: Vec<usize> = text.match_indices("HTTP/1.1 ").map(|(i, _)| i).collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, s)| &text[*s..starts.get(n + 1).copied().unwrap_or(text.len())])
        .collect()
}

/// The value of header `name` (lower case) in a raw response.
fn header<'a>(res: &'a str, name: &str) -> Option<&'a str> {
    let head = res.split_once("\r\n\r\n").map_or(res, |(h, _)| h);
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    for (inline, gw) in both(ServerConfig::default()).await {
        let text = raw(
            gw,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let uris: Vec<String> = responses(&text)
            .iter()
            .map(|r| {
                assert_eq!(raw_status(r), 200, "inline {inline}: {r}");
                raw_json(r)["uri"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(uris, ["/a", "/b?q=1", "/c"], "inline {inline}");
    }
}

#[tokio::test]
async fn a_request_with_a_body_moves_the_connection_to_hyper_without_losing_bytes() {
    for (inline, gw) in both(ServerConfig::default()).await {
        // Inline, then a body (hyper from here on), then bodiless again: all in one
        // write, so the bytes after the first head are already read when hyper takes over.
        let text = raw(
            gw,
            b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let docs: Vec<_> = responses(&text).iter().map(|r| raw_json(r)).collect();
        assert_eq!(docs.len(), 3, "inline {inline}: {text}");
        assert_eq!(docs[0]["uri"], "/first");
        assert_eq!(docs[1]["uri"], "/second");
        assert_eq!(docs[1]["body_len"], 5, "inline {inline}: the body reached the upstream");
        assert_eq!(docs[2]["uri"], "/third");
    }
}

#[tokio::test]
async fn connection_close_is_answered_and_honoured() {
    for (inline, gw) in both(ServerConfig::default()).await {
        let mut stream = TcpStream::connect(gw).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
            .await
            .unwrap_or_else(|_| panic!("inline {inline}: the connection stayed open"))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(raw_status(&text), 200);
        assert_eq!(header(&text, "connection"), Some("close"), "inline {inline}: {text}");
        assert!(header(&text, "date").is_some(), "inline {inline}: no Date in {text}");
    }
}

#[tokio::test]
async fn head_responses_keep_their_length_and_send_no_body() {
    for (inline, gw) in both(ServerConfig::default()).await {
        // A body after the HEAD response would be read as the start of the next one.
        let text = raw(
            gw,
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let all = responses(&text);
        assert_eq!(all.len(), 2, "inline {inline}: {text}");
        let length: usize = header(all[0], "content-length").unwrap().parse().unwrap();
        assert!(length > 0, "inline {inline}: the upstream's length is kept: {}", all[0]);
        assert!(all[0].ends_with("\r\n\r\n"), "inline {inline}: a body followed: {text:?}");
        assert_eq!(raw_json(all[1])["uri"], "/next", "inline {inline}");
    }
}

/// An upstream answering every request with `hello world` in two chunks of unknown
/// total length (so it is sent chunked).
async fn streaming_upstream() -> SocketAddr {
    listen(|stream| async move {
        let service = hyper::service::service_fn(|_req| async {
            let frames = ["hello", " world"]
                .map(|s| Ok::<_, Infallible>(Frame::data(Bytes::from_static(s.as_bytes()))));
            let body = StreamBody::new(futures_util::stream::iter(frames));
            Ok::<_, Infallible>(Response::new(body))
        });
        let _ = auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .await;
    })
    .await
}

/// Decodes a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            assert_eq!(rest, "\r\n", "nothing after the last chunk");
            return out;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").expect("a chunk ends with CRLF");
    }
}

#[tokio::test]
async fn bodies_of_unknown_length_are_sent_chunked_and_the_connection_stays_usable() {
    for inline in [true, false] {
        let up = streaming_upstream().await;
        let upstream = Upstream::builder("s").endpoint(up.to_string()).build().await.unwrap();
        let route = Route::builder("all").path_prefix("/").upstream("s").build().unwrap();
        let gateway = Gateway::builder().upstream(upstream).route(route).build().unwrap();
        let config = ServerConfig { inline_http1: inline, ..ServerConfig::default() };
        let gw = serve_with(gateway, config).await;
        let text = raw(
            gw,
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let all = responses(&text);
        assert_eq!(all.len(), 2, "inline {inline}: {text}");
        for res in all {
            assert_eq!(raw_status(res), 200);
            assert_eq!(header(res, "transfer-encoding"), Some("chunked"), "inline {inline}: {res}");
            assert_eq!(header(res, "content-length"), None);
            let body = res.split_once("\r\n\r\n").unwrap().1;
            assert_eq!(dechunk(body), "hello world", "inline {inline}");
        }
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_close_after_the_header_read_timeout() {
    let config =
        ServerConfig { header_read_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    for (inline, gw) in both(config).await {
        let mut stream = TcpStream::connect(gw).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut out = Vec::new();
        // The response, then the end of the stream once the connection sat idle.
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
            .await
            .unwrap_or_else(|_| panic!("inline {inline}: the idle connection stayed open"))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(raw_status(&text), 200, "inline {inline}");
    }
}

#[tokio::test]
async fn an_invalid_request_target_gets_400() {
    for (inline, gw) in both(ServerConfig::default()).await {
        // httparse takes the target; `http` refuses the URI.
        let text = raw(gw, b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(raw_status(&text), 400, "inline {inline}: {text}");
        if inline {
            // The inline path says why, as JSON, and closes.
            let doc = raw_json(&text);
            assert_eq!(doc["error"], "bad_request", "{text}");
            assert!(doc["message"].as_str().unwrap().contains("request target"), "{text}");
        }
    }
}

#[tokio::test]
async fn http_1_0_and_expect_go_to_hyper_and_are_answered() {
    for (inline, gw) in both(ServerConfig::default()).await {
        // HTTP/1.0 closes after the response unless asked otherwise.
        let text = raw(gw, b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n").await;
        assert_eq!(raw_status(&text), 200, "inline {inline}: {text}");
        assert_eq!(raw_json(&text)["uri"], "/old");
        // `Expect: 100-continue` with a body: hyper's interim response, then the answer.
        let text = raw(
            gw,
            b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        )
        .await;
        let last = responses(&text).pop().unwrap_or_else(|| panic!("inline {inline}: {text}"));
        assert_eq!(raw_status(last), 200, "inline {inline}: {text}");
        assert_eq!(raw_json(last)["body_len"], 3, "inline {inline}");
    }
}
