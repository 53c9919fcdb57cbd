//! `Server::serve_workers`: one gateway served by several single-threaded workers. Each
//! worker keeps its own upstream connections (a connection belongs to the runtime that
//! opened it), a route change reaches every worker, shutdown drains all of them, and a
//! second set of workers after the first has ended starts with none of its connections.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use platform_gateway::{Gateway, Route, Server, ServerConfig, Shutdown, Upstream, WorkerListeners};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Connections an upstream has accepted, and how many of them are open.
#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
    slow: AtomicUsize,
}

/// An upstream answering every request with the number of the connection it came on
/// (1 for the first accepted); `/slow` waits 300 ms first.
async fn numbering_upstream() -> (SocketAddr, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let shared = counts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let number = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
            shared.open.fetch_add(1, Ordering::SeqCst);
            let counts = shared.clone();
            tokio::spawn(async move {
                let seen = counts.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        if req.uri().path().ends_with("/slow") {
                            seen.slow.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        let body = Full::new(Bytes::from(number.to_string()));
                        Ok::<_, Infallible>(Response::new(body))
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                counts.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, counts)
}

async fn gateway_to(upstream: SocketAddr) -> Gateway {
    let upstream =
        Upstream::builder("numbers").endpoint(upstream.to_string()).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("numbers").build().unwrap();
    Gateway::builder().upstream(upstream).route(route).build().unwrap()
}

/// Sends `GET path` on a kept-alive connection; the status and the body.
async fn get_on(stream: &mut TcpStream, path: &str) -> (u16, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: workers.test\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut byte));
        read.await.expect("a response within 10 s").unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// `n` client connections to `addr`, each with one request served (so a worker has
/// accepted it); the upstream connection numbers they saw.
async fn connections(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, Vec<String>) {
    let mut streams = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (status, body) = get_on(&mut stream, "/").await;
        assert_eq!(status, 200, "{body}");
        seen.push(body);
        streams.push(stream);
    }
    (streams, seen)
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_keeps_its_own_upstream_connections_and_sees_route_changes() {
    let (upstream, counts) = numbering_upstream().await;
    let gateway = gateway_to(upstream).await;
    // A shared socket: the spread gives each of the two workers exactly two of the
    // four connections held open below.
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listeners = WorkerListeners::shared(socket, 2).unwrap();
    let addr = listeners.local_addr();
    let shutdown = Shutdown::new();
    let server = Server::new(gateway.clone(), ServerConfig::default());
    let serving = tokio::spawn(server.serve_workers(listeners, shutdown.clone()));

    let (mut streams, _) = connections(addr, 4).await;
    // Requests one after another: each worker reuses its one upstream connection, so
    // there are exactly two — one pool shared by the workers would have kept one.
    let mut numbers = Vec::new();
    for _ in 0..3 {
        for stream in &mut streams {
            numbers.push(get_on(stream, "/").await.1);
        }
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2, "one upstream connection per worker");
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers, ["1", "2"]);

    // A route change reaches every worker at once: the one gateway is shared.
    let route = Route::builder("v2").path_prefix("/v2").upstream("numbers").build().unwrap();
    gateway.replace_routes(&[route]).unwrap();
    for stream in &mut streams {
        assert_eq!(get_on(stream, "/v2/x").await.0, 200);
        assert_eq!(get_on(stream, "/").await.0, 404, "the old route is gone on every worker");
    }

    // Shutdown drains every worker: a slow request on each connection still completes.
    let slow: Vec<_> = streams
        .into_iter()
        .map(|mut s| tokio::spawn(async move { get_on(&mut s, "/v2/slow").await }))
        .collect();
    eventually("the slow requests reach the upstream", || counts.slow.load(Ordering::SeqCst) == 4)
        .await;
    shutdown.trigger();
    for request in slow {
        assert_eq!(request.await.unwrap().0, 200, "requests in flight finish");
    }
    let drained = serving.await.unwrap().unwrap();
    assert_eq!(drained.open_at_shutdown, 4, "both workers' connections counted");
    assert_eq!(drained.cut, 0);
    assert!(TcpStream::connect(addr).await.is_err(), "no worker listens any more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_started_again_leave_the_ended_workers_connections_behind() {
    let (upstream, counts) = numbering_upstream().await;
    let gateway = gateway_to(upstream).await;
    let config = ServerConfig { drain_timeout: Duration::from_secs(5), ..ServerConfig::default() };

    for round in 1..=2 {
        let listeners = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = listeners.local_addr();
        let shutdown = Shutdown::new();
        let serving = tokio::spawn(
            Server::new(gateway.clone(), config.clone()).serve_workers(listeners, shutdown.clone()),
        );
        // Six connections, each served (`connections` checks for 200): every request
        // went out on an upstream connection its own worker opened — one left by a
        // worker of the first round, whose runtime has ended, would have failed it.
        let (streams, _) = connections(addr, 6).await;
        assert!(counts.open.load(Ordering::SeqCst) >= 1, "round {round}");
        drop(streams);
        shutdown.trigger();
        serving.await.unwrap().unwrap();
        // The ended workers' upstream connections close with them.
        eventually("the ended workers' upstream connections are closed", || {
            counts.open.load(Ordering::SeqCst) == 0
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_stops_the_workers() {
    let gateway = Gateway::builder().build().unwrap();
    let listeners = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
    assert_eq!(listeners.workers(), 3);
    let addr = listeners.local_addr();
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(
        Server::new(gateway, ServerConfig::default()).serve_workers(listeners, shutdown.clone()),
    );
    // Served: the gateway has no routes, so 404.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/").await.0, 404);
    drop(stream);
    serving.abort();
    let _ = serving.await;
    assert!(shutdown.is_triggered(), "the dropped future pulls the trigger");
    eventually_refused(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_set_on_the_server_is_not_shared_by_its_workers() {
    // A server made worker 0 of a two-worker spread, whose worker 1 never comes: alone
    // it would stop accepting after one connection. `serve_workers` gives each worker
    // its own place instead.
    let spread = platform_gateway::AcceptSpread::new(2);
    let server = Server::new(Gateway::builder().build().unwrap(), ServerConfig::default())
        .spread(&spread, 0);
    let listeners = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = listeners.local_addr();
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(server.serve_workers(listeners, shutdown.clone()));
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get_on(&mut stream, "/").await.0, 404);
        open.push(stream);
    }
    shutdown.trigger();
    let drained = serving.await.unwrap().unwrap();
    assert_eq!(drained.open_at_shutdown, 4, "{drained:?}");
}

/// CPU time (clock ticks) this process's gateway worker threads have used.
#[cfg(target_os = "linux")]
fn worker_ticks() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !name.starts_with("gateway-worker") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // After the command in parentheses: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 12 {
            total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        }
    }
    total
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_that_yield_serve_and_sleep_when_idle() {
    // Zero: never; 1 ms (the default) and 1 µs: once the worker has run that long
    // (its runtime's park hooks installed).
    for yield_after in [Duration::ZERO, Duration::from_millis(1), Duration::from_micros(1)] {
        let (upstream, _) = numbering_upstream().await;
        let gateway = gateway_to(upstream).await;
        let config = ServerConfig { yield_after, ..ServerConfig::default() };
        let listeners = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = listeners.local_addr();
        let shutdown = Shutdown::new();
        let serving =
            tokio::spawn(Server::new(gateway, config).serve_workers(listeners, shutdown.clone()));
        let (mut streams, _) = connections(addr, 4).await;
        for _ in 0..50 {
            for stream in &mut streams {
                assert_eq!(get_on(stream, "/").await.0, 200);
            }
        }
        // Idle now: a yielder rescheduling itself pass after pass would keep both worker
        // threads busy (about 100 ticks a second each); asleep, they use next to nothing.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = worker_ticks();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let used = worker_ticks() - before;
        assert!(used <= 5, "yield_after {yield_after:?}: idle workers used {used} ticks in 500 ms");
        // And they wake for the next request.
        assert_eq!(get_on(&mut streams[0], "/").await.0, 200);
        drop(streams);
        shutdown.trigger();
        serving.await.unwrap().unwrap();
    }
}

async fn eventually_refused(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "{addr} still accepts");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn bind_gives_every_worker_a_socket_on_one_port() {
    let listeners = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    assert_eq!(listeners.workers(), 4);
    let port = listeners.local_addr().port();
    assert_ne!(port, 0);
    // The port is taken for anyone not sharing it.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
    assert_eq!(WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 0).unwrap().workers(), 1);
}
