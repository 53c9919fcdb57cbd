//! Runs the resilient demo service on `127.0.0.1:8080` (override with `PLATFORM_ADDR`).
//!
//! ```text
//! cargo run -p platform-examples --bin resilient-service
//! curl localhost:8080/hello
//! curl localhost:8080/flaky               # fails 2 of 3 calls; retries hide it
//! curl 'localhost:8080/slow?ms=3000'      # 504 after the 2s timeout
//! ```
//!
//! Settings come from the TOML file named by `RESILIENT_SERVICE_CONFIG` (see
//! `examples/config/resilient-service.toml`), or the layers' defaults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use platform_core::resilience::shed::{CgroupPressure, ManualPressure, Pressure};
use platform_examples::resilient_service::{Settings, app};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let settings = match std::env::var("RESILIENT_SERVICE_CONFIG") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read settings file {path}: {e}"))?;
            Settings::from_toml(&text).map_err(|e| format!("invalid settings in {path}: {e}"))?
        }
        Err(_) => Settings::default(),
    };

    // Shed load from the cgroup's CPU and memory pressure where there is one (Linux);
    // elsewhere run without shedding.
    let (pressure, _sampler): (Arc<dyn Pressure>, _) = match CgroupPressure::detect() {
        Ok(cgroup) => {
            let sampler = cgroup.spawn_sampler(Duration::from_millis(500));
            (Arc::new(cgroup), Some(sampler))
        }
        Err(e) => {
            tracing::warn!(error = %e, "no cgroup pressure signal; load shedding stays idle");
            (Arc::new(ManualPressure::new()), None)
        }
    };

    let addr = std::env::var("PLATFORM_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        format!("cannot listen on {addr}: {e} (set PLATFORM_ADDR to another address)")
    })?;
    let router = app(&settings, pressure)?;
    tracing::info!(%addr, "resilient-service listening; try GET /hello, /flaky, /slow?ms=3000");
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
