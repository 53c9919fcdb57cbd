//! Graceful shutdown: the listener closes, requests in flight finish, and what is still
//! running at the drain deadline is cut.

mod common;

use std::time::Duration;

use common::{echo_upstream, get};
use platform_gateway::{Gateway, Route, Server, ServerConfig, Shutdown, Upstream};
use tokio::net::{TcpListener, TcpStream};

async fn gateway() -> Gateway {
    let up = echo_upstream("slow").await;
    let upstream = Upstream::builder("slow").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("slow").build().unwrap();
    Gateway::builder().upstream(upstream).route(route).build().unwrap()
}

async fn start(
    drain: Duration,
) -> (std::net::SocketAddr, Shutdown, tokio::task::JoinHandle<platform_gateway::Drained>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig { drain_timeout: drain, ..ServerConfig::default() };
    let shutdown = Shutdown::new();
    let server = Server::new(gateway().await, config);
    let task = tokio::spawn(server.serve_with_shutdown(listener, shutdown.clone()));
    (addr, shutdown, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_finish_and_new_connections_are_refused() {
    let (gw, shutdown, server) = start(Duration::from_secs(30)).await;
    assert_eq!(get(gw, "/warm").await.0, 200);

    let in_flight: Vec<_> =
        (0..3).map(|_| tokio::spawn(async move { get(gw, "/slow?sleep_ms=600").await })).collect();
    // Let the requests reach the upstream before the shutdown begins.
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.trigger();

    for r in in_flight {
        let (status, doc) = r.await.unwrap();
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["upstream"], "slow");
    }
    let drained = tokio::time::timeout(Duration::from_secs(20), server).await.unwrap().unwrap();
    assert_eq!(drained.cut, 0, "{drained:?}");
    assert!(drained.open_at_shutdown >= 3, "{drained:?}");
    assert!(TcpStream::connect(gw).await.is_err(), "the listener is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_deadline_cuts_what_is_still_running() {
    let (gw, shutdown, server) = start(Duration::from_millis(200)).await;
    let stuck = tokio::spawn(async move {
        let req = http::Request::get(format!("http://{gw}/stuck?sleep_ms=30000"))
            .body(http_body_util::Full::default())
            .unwrap();
        common::client().request(req).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.trigger();
    let drained = tokio::time::timeout(Duration::from_secs(20), server).await.unwrap().unwrap();
    assert_eq!(drained.cut, 1, "{drained:?}");
    let outcome = tokio::time::timeout(Duration::from_secs(20), stuck).await.unwrap().unwrap();
    assert!(outcome.is_err(), "the cut request fails instead of hanging");
}
