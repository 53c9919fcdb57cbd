//! gRPC through the gateway, with a real exchange: an HTTP/2 client sending
//! length-prefixed gRPC messages and an upstream answering with messages and
//! `grpc-status` trailers. Streaming both ways, trailers kept, `grpc-timeout` as the
//! call's deadline, and the gateway's own errors answered as gRPC statuses.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use platform_core::resilience::RateLimitConfig;
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_gateway::filter::RateKey;
use platform_gateway::route::RouteService;
use platform_gateway::upstream::UpstreamProtocol;
use platform_gateway::{Gateway, Route, RouteBuilder, Upstream, UpstreamConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

type GrpcBody = UnsyncBoxBody<Bytes, Infallible>;

/// One gRPC message on the wire: not compressed, 4-byte big-endian length, payload.
fn message(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + payload.len());
    b.put_u8(0);
    b.put_u32(u32::try_from(payload.len()).unwrap());
    b.put_slice(payload);
    b.freeze()
}

/// Takes the complete messages at the front of `buf`.
fn take_messages(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut out = Vec::new();
    while buf.len() >= 5 {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if buf.len() < 5 + len {
            break;
        }
        buf.advance(5);
        out.push(buf.split_to(len).freeze());
    }
    out
}

/// A body fed frame by frame through the returned sender; it ends when the sender drops.
fn channel_body() -> (mpsc::Sender<Frame<Bytes>>, GrpcBody) {
    let (tx, rx) = mpsc::channel(16);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|f| (Ok::<_, Infallible>(f), rx))
    });
    (tx, StreamBody::new(frames).boxed_unsync())
}

fn trailers(status: u8, message: &str, extra: &[(&'static str, String)]) -> Frame<Bytes> {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", u16::from(status).into());
    if !message.is_empty() {
        t.insert("grpc-message", message.parse().unwrap());
    }
    for (k, v) in extra {
        t.insert(*k, v.parse().unwrap());
    }
    Frame::trailers(t)
}

/// The test service `test.Echo`:
/// * `Chat` answers every message at once with it upper-cased, then `grpc-status: 0`
///   and `x-count` (messages seen) in the trailers when the request ends;
/// * `Fail` answers `grpc-status: 5` in the trailers;
/// * `Hang` sends one message and then nothing, never ending;
/// * `Stall` never answers.
///
/// Response headers echo the `grpc-timeout` and `te` the upstream received.
async fn echo_service(req: Request<Incoming>) -> Result<Response<GrpcBody>, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/test.Echo/Stall" {
        std::future::pending::<()>().await;
    }
    let mut res = Response::builder().header("content-type", "application/grpc");
    for (seen, name) in [("x-seen-grpc-timeout", "grpc-timeout"), ("x-seen-te", "te")] {
        if let Some(v) = req.headers().get(name) {
            res = res.header(seen, v);
        }
    }
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        match path.as_str() {
            "/test.Echo/Chat" => {
                let mut incoming = req.into_body();
                let (mut buf, mut count) = (BytesMut::new(), 0);
                while let Some(Ok(frame)) = incoming.frame().await {
                    let Ok(data) = frame.into_data() else { continue };
                    buf.extend_from_slice(&data);
                    for m in take_messages(&mut buf) {
                        count += 1;
                        let _ = tx.send(Frame::data(message(&m.to_ascii_uppercase()))).await;
                    }
                }
                let _ = tx.send(trailers(0, "", &[("x-count", count.to_string())])).await;
            }
            "/test.Echo/Fail" => {
                let _ = tx.send(trailers(5, "no such thing", &[])).await;
            }
            _ => {
                let _ = tx.send(Frame::data(message(b"first"))).await;
                std::future::pending::<()>().await;
            }
        }
    });
    Ok(res.body(body).unwrap())
}

/// Serves [`echo_service`] over HTTP/2 on `io`.
async fn serve_grpc<I>(io: I)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), hyper::service::service_fn(echo_service))
        .await;
}

/// The gRPC upstream over h2c.
async fn h2c_upstream() -> SocketAddr {
    common::listen(serve_grpc).await
}

/// A gateway with the upstream `grpc` and one route to it, made by `route`.
async fn gateway(upstream: Upstream, route: RouteBuilder) -> SocketAddr {
    let gateway = Gateway::builder()
        .upstream(upstream)
        .route(route.path_prefix("/test.Echo/").upstream("grpc").build().unwrap())
        .build()
        .unwrap();
    common::serve(gateway).await
}

async fn h2c_gateway(route: RouteBuilder) -> SocketAddr {
    let up = h2c_upstream().await;
    let config = UpstreamConfig { protocol: UpstreamProtocol::H2c, ..UpstreamConfig::default() };
    let upstream =
        Upstream::builder("grpc").endpoint(up.to_string()).config(config).build().await.unwrap();
    gateway(upstream, route).await
}

/// An HTTP/2 (h2c) client connection to the gateway.
async fn connect(gw: SocketAddr) -> SendRequest<GrpcBody> {
    let tcp = TcpStream::connect(gw).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

fn call(gw: SocketAddr, method: &str, timeout: Option<&str>, body: GrpcBody) -> Request<GrpcBody> {
    let mut req = Request::post(format!("http://{gw}/test.Echo/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = timeout {
        req = req.header("grpc-timeout", t);
    }
    req.body(body).unwrap()
}

/// What a call got back.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    messages: Vec<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Reply {
    async fn read(res: Response<Incoming>) -> Self {
        let (parts, mut body) = res.into_parts();
        let (mut buf, mut trailers) = (BytesMut::new(), None);
        while let Some(frame) = body.frame().await {
            let frame = frame.unwrap();
            match frame.into_data() {
                Ok(data) => buf.extend_from_slice(&data),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        let messages = take_messages(&mut buf);
        Self { status: parts.status, headers: parts.headers, messages, trailers }
    }

    /// `grpc-status` from the trailers, or from the headers of a trailers-only reply.
    fn grpc(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()
            .and_then(|t| t.get(name))
            .or_else(|| self.headers.get(name))
            .map(|v| v.to_str().unwrap())
    }
}

/// Sends `messages` as one call and reads the whole reply.
async fn unary(gw: SocketAddr, method: &str, timeout: Option<&str>, messages: &[&[u8]]) -> Reply {
    let (tx, body) = channel_body();
    for m in messages {
        tx.send(Frame::data(message(m))).await.unwrap();
    }
    drop(tx);
    let res = connect(gw).await.send_request(call(gw, method, timeout, body)).await.unwrap();
    Reply::read(res).await
}

/// A `grpc-timeout` value read back as a duration.
fn timeout_of(value: &str) -> Duration {
    let (n, unit) = value.split_at(value.len() - 1);
    let n: u64 = n.parse().unwrap();
    match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        other => panic!("unit {other}"),
    }
}

/// Streams both ways on one call: each message's answer arrives before the next
/// message is sent, and the trailers come at the end.
async fn chat_streams_both_ways(gw: SocketAddr) {
    let (tx, body) = channel_body();
    let res = connect(gw).await.send_request(call(gw, "Chat", None, body)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-seen-te"], "trailers", "TE: trailers reaches the upstream");
    let mut body = res.into_body();
    let mut buf = BytesMut::new();
    for word in ["hello", "streaming", "world"] {
        tx.send(Frame::data(message(word.as_bytes()))).await.unwrap();
        let answer = loop {
            if let Some(m) = take_messages(&mut buf).pop() {
                break m;
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
                .await
                .expect("the answer arrives while the request is still open")
                .unwrap()
                .unwrap();
            buf.extend_from_slice(&frame.into_data().unwrap());
        };
        assert_eq!(answer, word.to_ascii_uppercase().as_bytes());
    }
    drop(tx);
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        if let Ok(t) = frame.unwrap().into_trailers() {
            trailers = Some(t);
        }
    }
    let trailers = trailers.expect("the upstream's trailers reach the client");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-count"], "3");
}

#[tokio::test]
async fn grpc_streams_both_ways_over_h2c_with_trailers() {
    let gw = h2c_gateway(Route::builder("grpc")).await;
    chat_streams_both_ways(gw).await;

    let reply = unary(gw, "Fail", None, &[b"x"]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.grpc("grpc-status"), Some("5"));
    assert_eq!(reply.grpc("grpc-message"), Some("no such thing"));
}

#[tokio::test]
async fn grpc_timeout_is_the_deadline_of_the_call() {
    let gw = h2c_gateway(Route::builder("grpc")).await;

    // The upstream is told the time left, never more than the client gave.
    let reply = unary(gw, "Chat", Some("5S"), &[b"a"]).await;
    let seen = timeout_of(reply.headers["x-seen-grpc-timeout"].to_str().unwrap());
    assert!(seen <= Duration::from_secs(5) && seen > Duration::from_secs(4), "{seen:?}");
    assert_eq!(reply.grpc("grpc-status"), Some("0"));

    // No answer in time: DEADLINE_EXCEEDED, as a gRPC status.
    let started = Instant::now();
    let reply = unary(gw, "Stall", Some("200m"), &[]).await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/grpc");
    assert_eq!(reply.grpc("grpc-status"), Some("4"), "{reply:?}");

    // The deadline passes mid-stream: the messages so far, then DEADLINE_EXCEEDED.
    let reply = unary(gw, "Hang", Some("300m"), &[]).await;
    assert_eq!(reply.messages, [Bytes::from_static(b"first")]);
    assert_eq!(reply.grpc("grpc-status"), Some("4"), "{reply:?}");
}

#[tokio::test]
async fn a_route_timeout_tightens_the_upstream_deadline() {
    let gw = h2c_gateway(Route::builder("grpc").timeout(Duration::from_secs(1))).await;
    let reply = unary(gw, "Chat", Some("30S"), &[b"a"]).await;
    let seen = timeout_of(reply.headers["x-seen-grpc-timeout"].to_str().unwrap());
    assert!(seen <= Duration::from_secs(1), "{seen:?}");

    // The route timeout answers a stalled call with DEADLINE_EXCEEDED too.
    let reply = unary(gw, "Stall", None, &[]).await;
    assert_eq!(reply.grpc("grpc-status"), Some("4"), "{reply:?}");
}

/// A route whose layer answers `status` with a JSON error body, as an authentication
/// layer does.
fn refusing(status: u16, text: &'static str) -> RouteBuilder {
    Route::builder("grpc").layer(tower::layer::layer_fn(move |_inner: RouteService| {
        tower::service_fn(move |_req: Request<platform_gateway::Body>| async move {
            let body = format!(r#"{{"error":"refused","message":"{text}"}}"#);
            let res = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(platform_gateway::body::full(body))
                .unwrap();
            Ok::<_, Infallible>(res)
        })
    }))
}

/// Asserts a trailers-only gRPC answer with `code`, whose message contains `text`.
fn assert_grpc_error(reply: &Reply, code: &str, text: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers["content-type"], "application/grpc", "{reply:?}");
    assert_eq!(reply.grpc("grpc-status"), Some(code), "{reply:?}");
    let message = reply.grpc("grpc-message").unwrap_or_default();
    assert!(message.contains(text), "{message:?} should say {text:?}");
    assert!(reply.messages.is_empty() && reply.trailers.is_none(), "trailers-only: {reply:?}");
}

#[tokio::test]
async fn gateway_errors_are_answered_as_grpc_statuses() {
    // No route: UNIMPLEMENTED.
    let gw = h2c_gateway(Route::builder("grpc")).await;
    let mut req = call(gw, "Chat", None, channel_body().1);
    *req.uri_mut() = format!("http://{gw}/other.Service/Call").parse().unwrap();
    let reply = Reply::read(connect(gw).await.send_request(req).await.unwrap()).await;
    assert_grpc_error(&reply, "12", "no route");

    // Upstream down: UNAVAILABLE.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = UpstreamConfig {
        protocol: UpstreamProtocol::H2c,
        eject_outliers: false,
        ..UpstreamConfig::default()
    };
    let down = Upstream::builder("grpc").endpoint(closed.to_string()).config(config);
    let gw = gateway(down.build().await.unwrap(), Route::builder("grpc")).await;
    assert_grpc_error(&unary(gw, "Chat", None, &[b"a"]).await, "14", "connect");

    // Rate limited: RESOURCE_EXHAUSTED, with the retry pushback.
    let limit = RateLimitConfig::new(1, Duration::from_secs(60));
    let gw = h2c_gateway(Route::builder("grpc").rate_limit(limit, RateKey::ClientAddress)).await;
    assert_eq!(unary(gw, "Chat", None, &[b"a"]).await.grpc("grpc-status"), Some("0"));
    let reply = unary(gw, "Chat", None, &[b"a"]).await;
    assert_grpc_error(&reply, "8", "");
    assert!(reply.headers.contains_key("grpc-retry-pushback-ms"), "{reply:?}");

    // Breaker open: UNAVAILABLE. The upstream's own 500 passes through untouched.
    let failing = common::status_upstream("bad", 500).await;
    let breaker: CircuitBreakerConfig = serde_json::from_value(serde_json::json!({
        "consecutive_failures": 1, "open_duration": "60s"
    }))
    .unwrap();
    let config = UpstreamConfig { eject_outliers: false, ..UpstreamConfig::default() };
    let bad = Upstream::builder("grpc").endpoint(failing.to_string()).config(config);
    let gw =
        gateway(bad.build().await.unwrap(), Route::builder("grpc").circuit_breaker(breaker)).await;
    assert_eq!(unary(gw, "Chat", None, &[]).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_grpc_error(&unary(gw, "Chat", None, &[]).await, "14", "");

    // Refused by a route layer (authentication): UNAUTHENTICATED, PERMISSION_DENIED,
    // with the layer's message.
    let gw = h2c_gateway(refusing(401, "token missing")).await;
    assert_grpc_error(&unary(gw, "Chat", None, &[]).await, "16", "token missing");
    let gw = h2c_gateway(refusing(403, "not yours")).await;
    assert_grpc_error(&unary(gw, "Chat", None, &[]).await, "7", "not yours");

    // A request that is not gRPC still gets JSON.
    let (status, doc) = common::get(gw, "/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(doc["error"], "no_route");
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn grpc_streams_over_an_h2_tls_upstream() {
    use common::pki::{Ca, acceptor, serve_tls};
    use platform_gateway::upstream::UpstreamTlsConfig;

    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("grpc ca");
    let up = serve_tls(acceptor(&ca.server(&["localhost"]), &[b"h2"], None), serve_grpc).await;
    let config = UpstreamConfig {
        protocol: UpstreamProtocol::H2,
        tls: Some(UpstreamTlsConfig {
            ca_file: Some(ca.write(dir.path(), "ca.pem")),
            ..UpstreamTlsConfig::default()
        }),
        ..UpstreamConfig::default()
    };
    let upstream = Upstream::builder("grpc")
        .endpoint(format!("https://localhost:{}", up.port()))
        .config(config)
        .build()
        .await
        .unwrap();
    assert!(upstream.is_tls());
    let gw = gateway(upstream, Route::builder("grpc")).await;
    chat_streams_both_ways(gw).await;
    let reply = unary(gw, "Fail", None, &[]).await;
    assert_eq!(reply.grpc("grpc-status"), Some("5"));
}
