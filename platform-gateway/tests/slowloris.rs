//! A client that never finishes its request head is disconnected by the header-read
//! timeout (hyper needs a timer for it; the server installs one).

mod common;

use std::time::Duration;

use common::{echo_upstream, serve_with};
use platform_gateway::{Gateway, Route, ServerConfig, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn incomplete_head_is_cut_off() {
    let up = echo_upstream("a").await;
    let upstream = Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("a").build().unwrap();
    let gateway = Gateway::builder().upstream(upstream).route(route).build().unwrap();
    let config =
        ServerConfig { header_read_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let gw = serve_with(gateway, config).await;

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
    let up = echo_upstream("a").await;
    let upstream = Upstream::builder("a").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("all").path_prefix("/").upstream("a").build().unwrap();
    let gateway = Gateway::builder().upstream(upstream).route(route).build().unwrap();
    let config =
        ServerConfig { header_read_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let gw = serve_with(gateway, config).await;
    let res = common::raw(gw, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(common::raw_status(&res), 200);
}
