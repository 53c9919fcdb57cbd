//! The fast upstream of the gateway load test (`benches/gateway/run.sh`): answers
//! every request with `200 hello world` over HTTP/1.1 keep-alive, as cheaply as hyper
//! allows, so the proxies in front of it are what the test measures.
//!
//! ```text
//! bench-upstream 127.0.0.1:9101 [threads]
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or("usage: bench-upstream HOST:PORT [threads]")?;
    let threads: usize = args.next().map_or(Ok(1), |t| t.parse())?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("bench-upstream listening on {addr} ({threads} thread(s))");
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"hello world\n",
                    ))))
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}
