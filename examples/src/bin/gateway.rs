//! Runs the API gateway alone from a TOML config file, with the admin listener, hot
//! reload of the file and a graceful shutdown on SIGTERM / Ctrl-C.
//!
//! ```text
//! cargo run -p platform-examples --bin gateway -- --config examples/config/gateway.toml
//! ```
//!
//! Logs go to stderr (`RUST_LOG`, default `info`; one access-log line per request under
//! `platform::gateway::access` — silence it with `RUST_LOG=info,platform::gateway::access=off`).
//! `docs/gateway.md` has the configuration reference and the admin API.

use platform_examples::gateway::{Args, start};
use platform_gateway::os_signal;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: a proxy allocates and frees small objects
/// on every request, where glibc's allocator costs several times more per call.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The control runtime: the admin listener, the reload watcher, health checks and
// registry watches. Requests are served by the workers, each on a runtime of its own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(std::env::args().skip(1))?;
    let running = start(&args).await?;
    running.shutdown.trigger_on(os_signal());
    let drained = running.wait().await?;
    tracing::info!(cut = drained.cut, took = ?drained.took, "gateway stopped");
    Ok(())
}
