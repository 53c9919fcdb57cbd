//! `Upgrade` requests (WebSocket and the like) pass through: the 101 reaches the client
//! and bytes flow both ways over the upgraded connections.

mod common;

use common::{echo_through, echo_upstream, open_tunnel, serve};
use platform_gateway::{Gateway, Route, Upstream};

#[tokio::test]
async fn upgraded_connection_echoes_through_the_gateway() {
    let up = echo_upstream("ws").await;
    let upstream = Upstream::builder("ws").endpoint(up.to_string()).build().await.unwrap();
    let route = Route::builder("ws").path_prefix("/").upstream("ws").build().unwrap();
    let gw = serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;

    let (mut stream, head) = open_tunnel(gw).await;
    assert!(head.contains("upgrade: echo"), "{head}");
    for msg in [&b"ping"[..], b"a longer message over the tunnel"] {
        echo_through(&mut stream, msg).await;
    }
}
