//! Several workers on one listening socket: `AcceptSpread` keeps their open
//! connections within one of each other, as connections come and go, and a worker that
//! has stopped holds no one back.

use std::time::Duration;

use platform_gateway::{AcceptSpread, Gateway, Server, ServerConfig, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a connection and completes one request on it, so a worker has accepted it.
async fn served_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /nowhere HTTP/1.1\r\nHost: spread.test\r\n\r\n").await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    // The gateway has no routes: a 404 with a JSON body, whose length it announces.
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed before the response");
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    stream
}

/// A listening socket for workers to share, and its address.
fn shared_socket() -> (std::net::TcpListener, std::net::SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Worker `worker` of `spread` (a gateway with no routes), and its handle on `listener`.
fn worker(
    spread: &AcceptSpread,
    worker: usize,
    listener: &std::net::TcpListener,
) -> (Server, tokio::net::TcpListener) {
    let server = Server::new(Gateway::builder().build().unwrap(), ServerConfig::default())
        .spread(spread, worker);
    (server, tokio::net::TcpListener::from_std(listener.try_clone().unwrap()).unwrap())
}

/// Waits until the workers' open connections add up to `total`.
async fn settled(spread: &AcceptSpread, total: usize) -> Vec<usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let open: Vec<usize> = spread.open_connections().into_iter().flatten().collect();
        if open.iter().sum::<usize>() == total {
            return open;
        }
        assert!(tokio::time::Instant::now() < deadline, "open connections {open:?}, want {total}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_spread_evenly_as_they_come_and_go() {
    let (listener, addr) = shared_socket();
    let spread = AcceptSpread::new(3);
    let shutdown = Shutdown::new();
    let mut servers = Vec::new();
    for index in 0..3 {
        let (server, listener) = worker(&spread, index, &listener);
        servers.push(tokio::spawn(server.serve_with_shutdown(listener, shutdown.clone())));
    }
    drop(listener);

    let mut open = Vec::new();
    for _ in 0..30 {
        open.push(served_connection(addr).await);
    }
    assert_eq!(settled(&spread, 30).await, [10, 10, 10]);

    // Closing connections may leave the workers uneven (which worker holds which is
    // not visible here); as many new ones as were closed go where there are fewest,
    // which brings every worker back to 10 (none has more after closing).
    let mut kept = 0;
    open.retain(|_| {
        kept += 1;
        kept <= 5 || kept > 25
    });
    let after_closing = settled(&spread, 10).await;
    for _ in 0..20 {
        open.push(served_connection(addr).await);
    }
    assert_eq!(settled(&spread, 30).await, [10, 10, 10], "after closing: {after_closing:?}");
    shutdown.trigger();
    drop(open);
    for server in servers {
        tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
    }
    assert_eq!(spread.open_connections(), vec![None, None, None], "every worker stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_leaves_the_socket_to_the_others() {
    let (listener, addr) = shared_socket();
    let spread = AcceptSpread::new(2);
    let (stop_first, keep) = (Shutdown::new(), Shutdown::new());
    let (server, handle) = worker(&spread, 0, &listener);
    let first = tokio::spawn(server.serve_with_shutdown(handle, stop_first.clone()));
    let (server, handle) = worker(&spread, 1, &listener);
    let second = tokio::spawn(server.serve_with_shutdown(handle, keep.clone()));

    stop_first.trigger();
    tokio::time::timeout(Duration::from_secs(10), first).await.unwrap().unwrap();
    // The second worker takes every connection, however many it already has.
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(
            tokio::time::timeout(Duration::from_secs(10), served_connection(addr)).await.unwrap(),
        );
    }
    assert_eq!(spread.open_connections(), vec![None, Some(4)]);
    keep.trigger();
    drop(open);
    tokio::time::timeout(Duration::from_secs(10), second).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_server_is_dropped_holds_no_one_back() {
    let (listener, addr) = shared_socket();
    let spread = AcceptSpread::new(2);
    let (server, handle) = worker(&spread, 0, &listener);
    let dropped = tokio::spawn(server.serve(handle));
    let (server, handle) = worker(&spread, 1, &listener);
    let serving = tokio::spawn(server.serve(handle));
    // One connection each, then the first worker's server is dropped mid-serve with its
    // count the lowest: the second must not wait for it.
    let mut open = vec![served_connection(addr).await, served_connection(addr).await];
    assert_eq!(settled(&spread, 2).await, [1, 1]);
    dropped.abort();
    assert!(dropped.await.unwrap_err().is_cancelled());
    for _ in 0..3 {
        open.push(
            tokio::time::timeout(Duration::from_secs(10), served_connection(addr)).await.unwrap(),
        );
    }
    assert_eq!(spread.open_connections(), vec![None, Some(4)]);
    serving.abort();
}
