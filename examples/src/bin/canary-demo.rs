//! A canary rollout on one machine: two versions of a demo upstream, the gateway on
//! `127.0.0.1:8080` routing `/demo/` between them by the rollout in
//! `examples/config/canary.toml`, and the canary admin API on `127.0.0.1:9901`. Rollout
//! state is kept in `./data/canary.db` (SQLite), so a restart resumes at the same step.
//!
//! ```text
//! cargo run -p platform-examples --bin canary-demo                       # v2 healthy: promoted
//! DEMO_V2_ERROR_RATE=0.3 cargo run -p platform-examples --bin canary-demo # v2 fails: rolled back
//! for i in $(seq 1 300); do curl -s -H "x-user-id: u$i" localhost:8080/demo/; echo; done
//! curl -s localhost:9901/admin/canary/demo
//! curl -s -X POST localhost:9901/admin/canary/demo/pause -d '{"reason":"looking"}'
//! ```
//!
//! Settings: `CANARY_DEMO_CONFIG` (the gateway config file), `DEMO_V2_ERROR_RATE` (share
//! of v2's answers that are 500s, default 0), `CANARY_DEMO_DB` (default
//! `sqlite://data/canary.db`). The reference `platform` binary will replace this demo.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use platform_core::store::Store;
use platform_gateway::Server;
use platform_gateway::canary::{Rollouts, SqlRolloutStore, admin_router, migrate};
use platform_gateway::config::{GatewayConfig, Resources};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// One version of the demo upstream: answers which version it is, and fails
/// `error_rate` of the requests with a 500.
fn demo_upstream(version: &'static str, error_rate: f64) -> Router {
    Router::new().fallback(get(move || async move {
        // A little latency, so the p99 comparison has something to compare.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2..10))).await;
        let failed = fastrand::f64() < error_rate;
        let status = if failed { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
        (status, format!("{{\"version\":\"{version}\",\"failed\":{failed}}}"))
    }))
}

async fn serve_router(addr: &str, router: Router) -> Result<(), Box<dyn std::error::Error>> {
    let listener =
        TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                // Decisions are logged once under `platform::gateway::canary`; their
                // copies for the audit trail (target `audit`) are left out of the console.
                .unwrap_or_else(|_| EnvFilter::new("info,audit=off")),
        )
        .init();
    let error_rate: f64 = match std::env::var("DEMO_V2_ERROR_RATE") {
        Ok(v) => v.parse().map_err(|_| format!("DEMO_V2_ERROR_RATE={v:?} is not a number"))?,
        Err(_) => 0.0,
    };
    serve_router("127.0.0.1:9101", demo_upstream("v1", 0.0)).await?;
    serve_router("127.0.0.1:9102", demo_upstream("v2", error_rate)).await?;

    let db = std::env::var("CANARY_DEMO_DB").unwrap_or_else(|_| "sqlite://data/canary.db".into());
    if let Some(path) = db.strip_prefix("sqlite://")
        && let Some(dir) = std::path::Path::new(path).parent()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    }
    let store = Store::connect(&db).await?;
    migrate(&store).await?;
    let rollouts = Rollouts::new(SqlRolloutStore::new(store));

    let path = std::env::var("CANARY_DEMO_CONFIG")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/config/canary.toml").into());
    let config = GatewayConfig::load(&path)?;
    let resources = Resources { rollouts: Some(rollouts.clone()), ..Resources::default() };
    let gateway = config.build(&resources).await?;

    serve_router("127.0.0.1:9901", admin_router(rollouts)).await?;
    let listener = TcpListener::bind("127.0.0.1:8080")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:8080: {e}"))?;
    tracing::info!(
        v2_error_rate = error_rate,
        "gateway on 127.0.0.1:8080 (/demo/), canary admin on 127.0.0.1:9901/admin/canary"
    );
    tokio::select! {
        () = Server::new(gateway, config.server.clone()).serve(listener) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
