//! `Upgrade` requests (WebSocket and the like) pass through: the 101 reaches the client
//! and bytes flow both ways over the upgraded connections.

mod common;

use std::time::Duration;

use common::{echo_upstream, serve};
use platform_gateway::{Gateway, Route, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn upgraded_connection_echoes_through_the_gateway() {
    let up = echo_upstream("ws").await;
    let upstream = Upstream::builder("ws").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("ws").path_prefix("/").upstream("ws").build().unwrap();
    let gw = serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;

    let mut stream = TcpStream::connect(gw).await.unwrap();
    stream
        .write_all(
            b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");

    for msg in [&b"ping"[..], b"a longer message over the tunnel"] {
        stream.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, msg);
    }
}
