//! The gateway of the load test (`benches/gateway/run.sh`), built in code so the full
//! stack can include platform-auth's JWT check.
//!
//! ```text
//! bench-gateway bare|full LISTEN UPSTREAM TOKEN_FILE [workers]
//! ```
//!
//! * `bare`: one route `/` to the upstream — routing, the proxy's correctness checks,
//!   trace context propagation (always on);
//! * `full`: the same route with JWT authentication (HS256 bearer token, written to
//!   `TOKEN_FILE`), a rate limit (high enough never to refuse, but counted), a circuit
//!   breaker and RED metrics.
//!
//! Serves on `workers` (default 2) single-threaded workers sharing the one gateway
//! (`Server::serve_workers`), each with its own socket on the port (`SO_REUSEPORT`), as
//! nginx runs worker processes; with `BENCH_ACCEPT=spread` they share one socket and
//! take connections by load (`WorkerListeners::shared`). `BENCH_YIELD_AFTER` (e.g. `0s`)
//! sets `ServerConfig::yield_after`.
//!
//! Logs at `warn` only, so neither mode writes an access-log line per request (nginx's
//! access log is off in the same run).

use std::time::Duration;

use platform_auth::jwt::{Issuer, Key, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator};
use platform_core::resilience::RateLimitConfig;
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_gateway::filter::RateKey;
use platform_gateway::{Gateway, Route, Server, ServerConfig, Shutdown, Upstream, WorkerListeners};
use platform_observe::metrics::MetricsRegistry;

/// mimalloc instead of the system allocator: a proxy allocates and frees small objects
/// on every request, where glibc's allocator costs several times more per call.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: bench-gateway bare|full LISTEN UPSTREAM TOKEN_FILE [workers]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, listen, upstream, token_file, rest @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let workers: usize = rest.first().map_or(Ok(2), |t| t.parse())?;
    tracing_subscriber::fmt().with_max_level(tracing::Level::WARN).init();
    if mode == "full" {
        let keys = KeySet::new(Key::hs256("bench", SECRET)?);
        let issuer = Issuer::new(keys, "https://bench", "gateway");
        std::fs::write(token_file, issuer.issue("bench", &["bench"])?)?;
    }
    let accept = std::env::var("BENCH_ACCEPT").unwrap_or_else(|_| "reuseport".into());
    let addr: std::net::SocketAddr = listen.parse()?;
    let listeners = match accept.as_str() {
        "spread" => WorkerListeners::shared(std::net::TcpListener::bind(addr)?, workers)?,
        "reuseport" => WorkerListeners::bind(addr, workers)?,
        other => return Err(format!("BENCH_ACCEPT={other:?}: spread or reuseport").into()),
    };
    eprintln!("bench-gateway ({mode}) listening on {listen} ({workers} worker(s), {accept})");
    // The control runtime builds the gateway (its upstream's tasks run here); the
    // workers serve it, each on a single-threaded runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let gateway = gateway(mode, upstream).await?;
        // `BENCH_YIELD_AFTER=0s`: workers never give their CPU away (default 1 ms).
        let mut config = ServerConfig::default();
        if let Ok(v) = std::env::var("BENCH_YIELD_AFTER") {
            config.yield_after = humantime::parse_duration(&v)
                .map_err(|e| format!("BENCH_YIELD_AFTER={v:?}: {e}"))?;
        }
        Server::new(gateway, config).serve_workers(listeners, Shutdown::new()).await?;
        Ok(())
    })
}

const SECRET: &[u8] = b"bench-only-hmac-secret-0123456789abcdef";

async fn gateway(mode: &str, upstream: &str) -> Result<Gateway, Box<dyn std::error::Error>> {
    let upstream = Upstream::builder("bench").endpoint(upstream).build().await?;
    let route = Route::builder("bench").path_prefix("/").upstream("bench");
    let mut gateway = Gateway::builder().upstream(upstream);
    let route = match mode {
        "bare" => route,
        "full" => {
            let keys = KeySet::new(Key::hs256("bench", SECRET)?);
            let verifier = Verifier::new(keys, VerifierConfig::new("https://bench", "gateway"));
            gateway = gateway.metrics(&MetricsRegistry::new());
            route
                .authenticate(AuthenticateLayer::new(Authenticator::new().jwt(verifier)))
                .rate_limit(
                    RateLimitConfig::new(10_000_000, Duration::from_secs(1)),
                    RateKey::Route,
                )
                .circuit_breaker(CircuitBreakerConfig::default())
        }
        other => return Err(format!("mode {other:?}; {USAGE}").into()),
    };
    Ok(gateway.route(route.build()?).build()?)
}
