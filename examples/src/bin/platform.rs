//! The whole platform in one process, on embedded defaults that need nothing installed.
//!
//! ```text
//! cargo run -p platform-examples --bin platform
//! cargo run -p platform-examples --bin platform -- --config examples/config/platform.toml
//! curl localhost:8080/echo/hello
//! curl localhost:9901/health/ready
//! ```
//!
//! `docs/platform.md` is the guide; `platform --help` lists the options.

use std::process::ExitCode;

use platform_examples::platform::{
    Args, Platform, PlatformConfig, PlatformError, init_telemetry, open_store, os_signal,
};

/// mimalloc instead of the system allocator: a proxy allocates and frees small objects
/// on every request, where glibc's allocator costs several times more per call.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("platform: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), PlatformError> {
    let args = Args::parse(std::env::args().skip(1))?;
    if args.help {
        print!("{}", platform_examples::platform::USAGE);
        return Ok(());
    }
    let config = PlatformConfig::load(args.config.as_deref(), std::env::vars())?;
    let store = open_store(&config).await?;
    let telemetry = init_telemetry(&config, &store).await?;
    let platform = Platform::start(&config, store, telemetry.metrics().clone()).await?;
    let gateway = platform.gateway_url();
    let admin = format!("http://{}", platform.addresses().admin);
    if let Some(first) = platform.bootstrap() {
        eprintln!("{}", first.banner(&gateway));
    }
    eprintln!(
        "platform ready\n  gateway  {gateway}   (try {gateway}/echo/hello)\n  admin    {admin}   (/metrics, /health/ready, /admin/routes, /admin/canary)\nCtrl-C stops it."
    );
    platform.shutdown_trigger().trigger_on(os_signal());
    platform.wait().await;
    telemetry.flush().await;
    Ok(())
}
