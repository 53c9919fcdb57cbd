//! A client that never finishes its request head is disconnected by the header-read
//! timeout (hyper needs a timer for it; the server installs one).

mod common;

use std::time::Duration;

use common::raw::{raw, raw_status};
use common::{catch_all, echo_gateway, serve_with};
use platform_gateway::ServerConfig;
use platform_gateway::proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An echo gateway whose server gives a request head 300 ms.
async fn gateway() -> std::net::SocketAddr {
    let config =
        ServerConfig { header_read_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    serve_with(echo_gateway(catch_all(), ProxyConfig::default()).await, config).await
}

#[tokio::test]
async fn incomplete_head_is_cut_off() {
    let gw = gateway().await;

    let mut stream = TcpStream::connect(gw).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // Trickle a header byte at a time, never ending the head.
    let trickle = async {
        for _ in 0..1000 {
            if stream.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // The test's own bound, far above the timeout: the gateway must close first.
    tokio::time::timeout(Duration::from_secs(15), trickle)
        .await
        .expect("the gateway never closed the connection");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
}

#[tokio::test]
async fn complete_heads_are_served() {
    let gw = gateway().await;
    let res = raw(gw, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(raw_status(&res), 200);
}
