//! Runs the registry and config service on `127.0.0.1:7070` (override with
//! `PLATFORM_CONTROL_ADDR`), in memory, or on Redis with `--redis <url>`.
//!
//! ```text
//! cargo run -p platform-examples --bin control-plane
//! cargo run -p platform-examples --bin control-plane -- --redis redis://127.0.0.1:6379
//! ```
//!
//! `docs/control-plane.md` has the API with curl examples.

use platform_examples::control_plane::{Args, DEFAULT_ADDR, service};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let args = Args::parse(std::env::args().skip(1))?;
    let plane = service(&args)?;
    let addr = std::env::var("PLATFORM_CONTROL_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        format!("cannot listen on {addr}: {e} (set PLATFORM_CONTROL_ADDR to another address)")
    })?;
    let backend = if args.redis.is_some() { "redis" } else { "memory" };
    tracing::info!(%addr, backend, "control plane listening; try GET /v1/registry/<service>");
    let router = plane.router();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            // Watch streams never end by themselves: end them so shutdown can finish.
            plane.shutdown();
        })
        .await?;
    Ok(())
}
