//! One version of the canary walkthrough's demo service (`docs/canary.md`): it answers
//! `{"version": …, "path": …}`, with failures and latency you inject.
//!
//! ```text
//! cargo run -p platform-examples --bin demo-upstream -- --version v1 --listen 127.0.0.1:9101
//! cargo run -p platform-examples --bin demo-upstream -- --version v2 --listen 127.0.0.1:9102 --error-rate 0.3
//! ```
//!
//! `demo-upstream --help` lists the options. Ctrl-C or SIGTERM stops it.

use std::process::ExitCode;

use platform_examples::demo_upstream::{DemoUpstream, USAGE};
use platform_gateway::{Shutdown, os_signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let demo = match DemoUpstream::parse_args(std::env::args().skip(1)) {
        Ok(Some(demo)) => demo,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("demo-upstream: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(demo.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "demo-upstream: cannot listen on {}: {e}; pick another --listen",
                demo.listen
            );
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "demo-upstream {} on {} (error rate {}%, latency {}); Ctrl-C stops it",
        demo.version,
        demo.listen,
        demo.error_rate * 100.0,
        humantime::format_duration(demo.latency)
    );
    let shutdown = Shutdown::new();
    shutdown.trigger_on(os_signal());
    let served = axum::serve(listener, demo.router())
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo-upstream: {e}");
            ExitCode::FAILURE
        }
    }
}
