//! Runs the resilient demo service on `127.0.0.1:8080` (override with `PLATFORM_ADDR`).
//!
//! ```text
//! cargo run -p platform-examples --bin resilient-service
//! curl localhost:8080/hello
//! curl 'localhost:8080/slow?ms=3000'   # 504 after the 2s timeout
//! ```

use platform_examples::resilient_service::{Settings, app};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let addr = std::env::var("PLATFORM_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        format!("cannot listen on {addr}: {e} (set PLATFORM_ADDR to another address)")
    })?;
    tracing::info!(%addr, "resilient-service listening; try GET /hello and GET /slow?ms=3000");
    axum::serve(listener, app(&Settings::default()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
