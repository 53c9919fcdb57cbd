//! 200 MB flow through the gateway in both directions without being held whole: the
//! upstream sees the upload begin before the client has sent most of it, the client
//! sees the download begin before the upstream has produced most of it, and the
//! process's peak memory stays far below the body size.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use platform_gateway::{Gateway, Route, Upstream};
use tokio::sync::{mpsc, oneshot};

const CHUNK: usize = 1 << 20;
const TOTAL_CHUNKS: usize = 200;
const WAIT: Duration = Duration::from_secs(30);

type ChunkBody =
    StreamBody<futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

/// A body fed from a channel, one frame per message.
fn channel_body() -> (mpsc::Sender<Bytes>, ChunkBody) {
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok(Frame::data(b)), rx))
    });
    (tx, StreamBody::new(stream.boxed()))
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// An upstream that reports when an upload's first bytes arrive and counts them, and
/// that streams a download whose rest waits for the client's go-ahead.
async fn streaming_upstream(
    first_upload_bytes: oneshot::Sender<()>,
    download_go: oneshot::Receiver<()>,
) -> SocketAddr {
    let first = std::sync::Arc::new(std::sync::Mutex::new(Some(first_upload_bytes)));
    let go = std::sync::Arc::new(std::sync::Mutex::new(Some(download_go)));
    common::listen(move |stream| {
        let (first, go) = (first.clone(), go.clone());
        async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (first, go) = (first.clone(), go.clone());
                async move {
                    if req.uri().path() == "/upload" {
                        let mut body = req.into_body();
                        let mut n = 0u64;
                        while let Some(Ok(frame)) = body.frame().await {
                            if let Some(d) = frame.data_ref() {
                                n += d.len() as u64;
                                if let Some(tx) = first.lock().unwrap().take() {
                                    let _ = tx.send(());
                                }
                            }
                        }
                        return Ok::<_, Infallible>(Response::new(ChunkBody::new(
                            futures_util::stream::once(async move {
                                Ok(Frame::data(Bytes::from(n.to_string())))
                            })
                            .boxed(),
                        )));
                    }
                    let (tx, body) = channel_body();
                    let go = go.lock().unwrap().take();
                    tokio::spawn(async move {
                        let chunk = Bytes::from(vec![1u8; CHUNK]);
                        let _ = tx.send(chunk.clone()).await;
                        if let Some(go) = go {
                            let _ = go.await;
                        }
                        for _ in 1..TOTAL_CHUNKS {
                            if tx.send(chunk.clone()).await.is_err() {
                                return;
                            }
                        }
                    });
                    Ok(Response::new(body))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_megabytes_stream_both_ways() {
    let (first_tx, first_rx) = oneshot::channel();
    let (go_tx, go_rx) = oneshot::channel();
    let up = streaming_upstream(first_tx, go_rx).await;
    let upstream = Upstream::builder("s").endpoint(up.to_string()).build().await.unwrap();
    let route =
        Route::builder("s").path_prefix("/").max_body_bytes(1 << 40).upstream("s").build().unwrap();
    let gw =
        common::serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;
    let client: Client<_, ChunkBody> = Client::builder(TokioExecutor::new()).build_http();
    let before = peak_rss();

    // Upload: one chunk, then wait until the upstream has bytes, then the rest.
    let (tx, body) = channel_body();
    let req = Request::post(format!("http://{gw}/upload")).body(body).unwrap();
    let response = tokio::spawn(client.request(req));
    let chunk = Bytes::from(vec![2u8; CHUNK]);
    tx.send(chunk.clone()).await.unwrap();
    tokio::time::timeout(WAIT, first_rx)
        .await
        .expect("the upstream got nothing while the client still had 199 MB to send")
        .unwrap();
    for _ in 1..TOTAL_CHUNKS {
        tx.send(chunk.clone()).await.unwrap();
    }
    drop(tx);
    let res = response.await.unwrap().unwrap();
    let received = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(received, (CHUNK * TOTAL_CHUNKS).to_string());

    // Download: the first chunk arrives before the upstream produces the rest.
    let (_tx, empty) = channel_body();
    drop(_tx);
    let req = Request::get(format!("http://{gw}/download")).body(empty).unwrap();
    let res = client.request(req).await.unwrap();
    let mut body = res.into_body();
    let first =
        tokio::time::timeout(WAIT, body.frame()).await.expect("no first chunk").unwrap().unwrap();
    let mut n = first.data_ref().map_or(0, Bytes::len);
    go_tx.send(()).unwrap();
    while let Some(frame) = body.frame().await {
        n += frame.unwrap().data_ref().map_or(0, Bytes::len);
    }
    assert_eq!(n, CHUNK * TOTAL_CHUNKS);

    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 100 << 20,
        "peak memory grew by {} MiB while 2 × 200 MiB streamed",
        grown >> 20
    );
}
