//! Helpers shared by the gateway's integration tests: an echo upstream, a gateway on a
//! loopback port, library clients; raw-bytes clients in [`raw`].
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use platform_gateway::proxy::ProxyConfig;
use platform_gateway::{Gateway, Route, RouteBuilder, Server, ServerConfig, Upstream};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[cfg(feature = "tls")]
pub mod pki;
pub mod raw;

/// An upstream that answers with what it received, as JSON:
/// `{"upstream", "method", "uri", "version", "headers": [[name, value]...], "body_len"}`.
///
/// `?status=N` answers with status N; `?sleep_ms=N` waits first; `?hop=1` adds
/// hop-by-hop headers to the response; `/upgrade` switches protocols and echoes bytes.
pub async fn echo_upstream(name: &'static str) -> SocketAddr {
    listen(move |stream| serve_echo(name, stream)).await
}

/// Accepts connections on a loopback port and serves each with `serve` in its own task.
pub async fn listen<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(serve(stream));
        }
    });
    addr
}

/// Serves the echo upstream on one connection (HTTP/1.1 with upgrades, or HTTP/2).
pub async fn serve_echo<I>(name: &'static str, io: I)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| echo(name, req));
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await;
}

fn query_param(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

async fn echo(
    name: &'static str,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(ms) = query_param(&req, "sleep_ms") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
    }
    if req.uri().path() == "/upgrade" {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let upgraded = on.await.unwrap();
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 1024];
            loop {
                let n = io.read(&mut buf).await.unwrap_or(0);
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
        let res = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Full::default())
            .unwrap();
        return Ok(res);
    }
    let status = query_param(&req, "status").map_or(200, |s| s.parse().unwrap());
    let hop = query_param(&req, "hop").is_some();
    let headers: Vec<Value> = req
        .headers()
        .iter()
        .map(|(k, v)| json!([k.as_str(), v.to_str().unwrap_or("<binary>")]))
        .collect();
    let (method, uri, version) =
        (req.method().to_string(), req.uri().to_string(), format!("{:?}", req.version()));
    let mut body = req.into_body();
    let mut body_len = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map(|f| f.into_data()) {
            body_len += data.map_or(0, |d| d.len() as u64);
        } else {
            break;
        }
    }
    let doc = json!({
        "upstream": name, "method": method, "uri": uri, "version": version,
        "headers": headers, "body_len": body_len,
    });
    let mut res = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-upstream", name);
    if hop {
        res = res
            .header("connection", "x-up-private")
            .header("x-up-private", "secret")
            .header("keep-alive", "timeout=5")
            .header("proxy-authenticate", "Basic")
            .header("x-up-public", "visible");
    }
    Ok(res.body(Full::new(Bytes::from(doc.to_string()))).unwrap())
}

/// The values of header `name` in an echo document.
pub fn echoed<'a>(doc: &'a Value, name: &str) -> Vec<&'a str> {
    doc["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == name)
        .map(|h| h[1].as_str().unwrap())
        .collect()
}

/// A gateway sending what `route` matches to one echo upstream `a`, with `proxy`.
pub async fn echo_gateway(route: RouteBuilder, proxy: ProxyConfig) -> Gateway {
    let up = echo_upstream("a").await;
    let upstream = Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap();
    let route = route.upstream("a").build().unwrap();
    Gateway::builder().upstream(upstream).route(route).proxy(proxy).build().unwrap()
}

/// The route `all`, matching every path.
pub fn catch_all() -> RouteBuilder {
    Route::builder("all").path_prefix("/")
}

/// Serves [`echo_gateway`] with [`catch_all`] and the default proxy settings on a
/// loopback port.
pub async fn serve_echo_gateway() -> SocketAddr {
    serve(echo_gateway(catch_all(), ProxyConfig::default()).await).await
}

/// Serves `gateway` on a loopback port.
pub async fn serve(gateway: Gateway) -> SocketAddr {
    serve_with(gateway, ServerConfig::default()).await
}

/// Serves `gateway` with `config` on a loopback port.
pub async fn serve_with(gateway: Gateway, config: ServerConfig) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Server::new(gateway, config).serve(listener));
    addr
}

/// An HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GETs `path` through the gateway; the status and the body as JSON (or a string).
pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, Value) {
    let req = Request::get(format!("http://{addr}{path}")).body(Full::default()).unwrap();
    send(req).await
}

/// Sends `req`; the status and the body as JSON (a JSON string when not JSON).
pub async fn send(req: Request<Full<Bytes>>) -> (StatusCode, Value) {
    let res = client().request(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// An upstream that always answers `status` with an `x-upstream: name` header.
pub async fn status_upstream(name: &'static str, status: u16) -> SocketAddr {
    listen(move |stream| async move {
        let service = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
            let res = Response::builder()
                .status(status)
                .header("x-upstream", name)
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap();
            Ok::<_, Infallible>(res)
        });
        let _ = auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .await;
    })
    .await
}

/// GETs `path` with extra headers; the status and the `x-upstream` that answered.
pub async fn who(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client().request(req.body(Full::default()).unwrap()).await.unwrap();
    let name =
        res.headers().get("x-upstream").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (res.status(), name)
}
