//! WebSockets over HTTP/2 (RFC 8441): an h2 client opens one with an extended CONNECT,
//! the gateway asks an HTTP/1.1 upstream for a classic `Upgrade: websocket` (RFC 6455,
//! with a key it checks the accept of), answers the client `200`, and WebSocket frames
//! flow both ways.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use platform_gateway::upstream::UpstreamProtocol;
use platform_gateway::{Gateway, Route, Upstream, UpstreamConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;

/// One WebSocket frame (FIN set), masked with `mask` when given (clients must mask).
fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(bit | u8::try_from(n).unwrap()),
        n if n <= usize::from(u16::MAX) => {
            out.push(bit | 126);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Reads one frame: opcode, unmasked payload, whether it was masked.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<(u8, Vec<u8>, bool)> {
    let mut head = [0u8; 2];
    r.read_exact(&mut head).await.ok()?;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7f {
        126 => u64::from(r.read_u16().await.ok()?),
        127 => r.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    if masked {
        r.read_exact(&mut mask).await.ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    r.read_exact(&mut payload).await.ok()?;
    if masked {
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
    }
    Some((head[0] & 0x0f, payload, masked))
}

/// Echoes frames back unmasked until a close frame, which it answers.
async fn echo_frames<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    while let Some((opcode, payload, masked)) = read_frame(&mut io).await {
        assert!(masked, "frames from the client side arrive masked");
        if io.write_all(&frame(opcode, &payload, None)).await.is_err() || opcode == CLOSE {
            return;
        }
    }
}

fn accept_of(key: &[u8]) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.digest().bytes())
}

/// An RFC 6455 server: checks the handshake, answers `101` with the accept for the
/// key (a wrong one on `/bad-accept`), the first subprotocol offered, and what it saw
/// in `x-upstream-*` headers; then echoes frames.
async fn handshake(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let h = req.headers();
    let has = |name: &str, value: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(value)))
    };
    let Some(key) = h.get("sec-websocket-key").cloned() else {
        return Ok(Response::builder().status(400).body(Full::from("no key")).unwrap());
    };
    if !(has("upgrade", "websocket")
        && has("connection", "upgrade")
        && has("sec-websocket-version", "13"))
    {
        return Ok(Response::builder()
            .status(400)
            .body(Full::from("not a WebSocket handshake"))
            .unwrap());
    }
    let accept =
        if req.uri().path() == "/bad-accept" { "wrong".into() } else { accept_of(key.as_bytes()) };
    let mut res = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept)
        .header("x-upstream-method", req.method().as_str())
        .header("x-upstream-version", format!("{:?}", req.version()))
        .header("x-upstream-path", req.uri().path());
    if let Some(first) = h.get("sec-websocket-protocol").and_then(|v| v.to_str().ok()) {
        res = res.header("sec-websocket-protocol", first.split(',').next().unwrap().trim());
    }
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on.await {
            echo_frames(TokioIo::new(upgraded)).await;
        }
    });
    Ok(res.body(Full::default()).unwrap())
}

async fn websocket_upstream() -> SocketAddr {
    common::listen(|stream| async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handshake))
            .with_upgrades()
            .await;
    })
    .await
}

/// A gateway whose GET route `/` sends to `endpoint` over `protocol`.
async fn gateway(endpoint: SocketAddr, protocol: UpstreamProtocol) -> SocketAddr {
    let config = UpstreamConfig { protocol, eject_outliers: false, ..UpstreamConfig::default() };
    let upstream = Upstream::builder("ws").endpoint(endpoint.to_string()).config(config);
    let route = Route::builder("ws").method(Method::GET).path_prefix("/").upstream("ws");
    common::serve(
        Gateway::builder()
            .upstream(upstream.build().await.unwrap())
            .route(route.build().unwrap())
            .build()
            .unwrap(),
    )
    .await
}

/// An h2c connection to the gateway that has seen the gateway's SETTINGS (which allow
/// extended CONNECT): one ordinary exchange completes first.
async fn connect(gw: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(gw).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let ready = Request::get(format!("http://{gw}/ready")).body(Empty::new()).unwrap();
    send.send_request(ready).await.unwrap();
    send
}

fn extended_connect(gw: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("http://{gw}{path}"))
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "chat, superchat")
        .body(Empty::new())
        .unwrap();
    req.extensions_mut().insert(hyper::ext::Protocol::from_static("websocket"));
    req
}

async fn json(res: Response<Incoming>) -> serde_json::Value {
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn websocket_over_h2_reaches_an_http1_upstream() {
    let gw = gateway(websocket_upstream().await, UpstreamProtocol::Http1).await;
    let mut send = connect(gw).await;
    let mut res = send.send_request(extended_connect(gw, "/chat")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{res:?}");
    let h = res.headers();
    assert_eq!(h["x-upstream-method"], "GET");
    assert_eq!(h["x-upstream-version"], "HTTP/1.1");
    assert_eq!(h["x-upstream-path"], "/chat");
    assert_eq!(h["sec-websocket-protocol"], "chat");
    for gone in ["sec-websocket-accept", "upgrade", "connection"] {
        assert!(!h.contains_key(gone), "{gone} is HTTP/1.1's: {h:?}");
    }

    let mut io = TokioIo::new(hyper::upgrade::on(&mut res).await.unwrap());
    let large = vec![7u8; 70_000];
    for (opcode, payload) in [(TEXT, &b"hello over h2"[..]), (BINARY, &large[..])] {
        io.write_all(&frame(opcode, payload, Some([1, 2, 3, 4]))).await.unwrap();
        let (op, back, masked) = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut io))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((op, masked), (opcode, false));
        assert_eq!(back, payload);
    }
    io.write_all(&frame(CLOSE, &[0x03, 0xe8], Some([9, 9, 9, 9]))).await.unwrap();
    let (op, _, _) = read_frame(&mut io).await.unwrap();
    assert_eq!(op, CLOSE);

    // The connection still serves other streams.
    let again = send.send_request(extended_connect(gw, "/second")).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_or_missing_switch_is_502() {
    let gw = gateway(websocket_upstream().await, UpstreamProtocol::Auto).await;
    let res = connect(gw).await.send_request(extended_connect(gw, "/bad-accept")).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let doc = json(res).await;
    assert!(doc["message"].as_str().unwrap().contains("Sec-WebSocket-Accept"), "{doc}");

    // An upstream that answers 200 instead of switching must not open the tunnel.
    let gw = gateway(common::echo_upstream("plain").await, UpstreamProtocol::Http1).await;
    let res = connect(gw).await.send_request(extended_connect(gw, "/chat")).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let doc = json(res).await;
    assert!(doc["message"].as_str().unwrap().contains("not 101"), "{doc}");
}

#[tokio::test]
async fn h2_only_upstreams_answer_501() {
    let gw = gateway(websocket_upstream().await, UpstreamProtocol::H2c).await;
    let res = connect(gw).await.send_request(extended_connect(gw, "/chat")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(json(res).await["error"], "upgrade_unsupported");
}

#[tokio::test]
async fn http1_websockets_keep_their_own_key() {
    let gw = gateway(websocket_upstream().await, UpstreamProtocol::Http1).await;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let head = format!(
        "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    );
    let (mut stream, got) = common::raw::send_head(gw, head.as_bytes()).await;
    assert!(got.starts_with("http/1.1 101"), "{got}");
    assert!(
        got.contains(
            &format!("sec-websocket-accept: {}", accept_of(key.as_bytes())).to_ascii_lowercase()
        ),
        "{got}"
    );
    stream.write_all(&frame(TEXT, b"h1", Some([5, 6, 7, 8]))).await.unwrap();
    assert_eq!(read_frame(&mut stream).await.unwrap().1, b"h1");
}
