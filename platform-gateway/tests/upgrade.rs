//! `Upgrade` requests (WebSocket and the like) pass through: the 101 reaches the client
//! and bytes flow both ways over the upgraded connections.

mod common;

use common::raw::{echo_through, open_tunnel};
use common::serve_echo_gateway;

#[tokio::test]
async fn upgraded_connection_echoes_through_the_gateway() {
    let gw = serve_echo_gateway().await;

    let (mut stream, head) = open_tunnel(gw).await;
    assert!(head.contains("upgrade: echo"), "{head}");
    for msg in [&b"ping"[..], b"a longer message over the tunnel"] {
        echo_through(&mut stream, msg).await;
    }
}
