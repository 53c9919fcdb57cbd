//! The `gateway` binary's start-up path: it serves the routes of its config file
//! (checked against the shipped example too), answers on the admin listener, reloads
//! the file live, and drains on shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use platform_examples::gateway::{Args, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// GET over a fresh HTTP/1.1 connection; the status and the body.
async fn fetch(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/users/{id}", get(|| async { "user from upstream" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn config(upstream: SocketAddr, route_prefix: &str) -> String {
    format!(
        "[listen]\naddress = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n[server]\ndrain_timeout = \"5s\"\n\n\
         [upstreams.users]\nendpoints = [\"{upstream}\"]\n\n\
         [[routes]]\nid = \"users\"\npath_prefix = \"{route_prefix}\"\nstrip_prefix = \"{route_prefix}\"\nupstream = \"users\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_binary_serves_reloads_and_drains() {
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, config(up, "/api")).unwrap();
    let args =
        Args::parse(["--config", &file.display().to_string(), "--workers", "3"].map(String::from))
            .unwrap();
    let running = start(&args).await.unwrap();

    // Fresh connections, spread by the kernel over the three workers.
    for _ in 0..6 {
        assert_eq!(fetch(running.addr, "/api/users/1").await, (200, "user from upstream".into()));
    }
    let (status, routes) = fetch(running.admin_addr, "/admin/routes").await;
    assert_eq!(status, 200);
    assert!(routes.contains("\"id\":\"users\""), "{routes}");
    assert_eq!(fetch(running.admin_addr, "/health/ready").await.0, 200);

    std::fs::write(&file, config(up, "/v2")).unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while running.live.status().version < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the edited file is applied");
    // The reload reaches every worker.
    for _ in 0..6 {
        assert_eq!(fetch(running.addr, "/v2/users/1").await.0, 200);
        assert_eq!(fetch(running.addr, "/api/users/1").await.0, 404);
    }
    let (_, status) = fetch(running.admin_addr, "/admin/config").await;
    assert!(status.contains("\"version\":2"), "{status}");

    running.shutdown.trigger();
    let addr = running.addr;
    let drained = running.wait().await.unwrap();
    assert_eq!(drained.cut, 0);
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn the_shipped_example_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/gateway.toml");
    let config = platform_gateway::config::GatewayConfig::load(path).unwrap();
    assert_eq!(config.listen.admin.port(), 9901);
    assert_eq!(config.routes.len(), 2);
}
