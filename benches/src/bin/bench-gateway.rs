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
//! Runs `workers` (default 2) single-threaded workers, each with its own gateway, on
//! one port (`SO_REUSEPORT`), as nginx runs worker processes; with `BENCH_ACCEPT=spread`
//! they share one socket through `AcceptSpread` instead.
//!
//! Logs at `warn` only, so neither mode writes an access-log line per request (nginx's
//! access log is off in the same run).

use std::time::Duration;

use platform_auth::jwt::{Issuer, Key, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator};
use platform_core::resilience::RateLimitConfig;
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_gateway::AcceptSpread;
use platform_gateway::filter::RateKey;
use platform_gateway::{Gateway, Route, Server, ServerConfig, Upstream};
use platform_observe::metrics::MetricsRegistry;
use tokio::net::TcpSocket;

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
    eprintln!("bench-gateway ({mode}) listening on {listen} ({workers} worker(s), {accept})");
    // Like nginx's worker processes: one single-threaded runtime per worker, each with
    // its own gateway (and so its own upstream connection pool). By default each has its
    // own socket on the port (SO_REUSEPORT), and the kernel picks a connection's worker
    // by a hash of its addresses; `BENCH_ACCEPT=spread` has them share one socket and
    // take connections by load (`AcceptSpread`).
    let shared = match accept.as_str() {
        "spread" => {
            let listener = std::net::TcpListener::bind(listen)?;
            listener.set_nonblocking(true)?;
            Some((listener, AcceptSpread::new(workers)))
        }
        "reuseport" => None,
        other => return Err(format!("BENCH_ACCEPT={other:?}: spread or reuseport").into()),
    };
    let handles: Vec<_> = (0..workers)
        .map(|index| {
            let (mode, listen, upstream) = (mode.clone(), listen.clone(), upstream.clone());
            let shared = match &shared {
                Some((listener, spread)) => Some((listener.try_clone()?, spread.clone())),
                None => None,
            };
            Ok(std::thread::spawn(move || -> Result<(), String> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime
                    .block_on(worker(&mode, &listen, &upstream, shared, index))
                    .map_err(|e| e.to_string())
            }))
        })
        .collect::<std::io::Result<_>>()?;
    for h in handles {
        h.join().map_err(|_| "a worker panicked")??;
    }
    Ok(())
}

const SECRET: &[u8] = b"bench-only-hmac-secret-0123456789abcdef";

async fn worker(
    mode: &str,
    listen: &str,
    upstream: &str,
    shared: Option<(std::net::TcpListener, AcceptSpread)>,
    index: usize,
) -> Result<(), Box<dyn std::error::Error>> {
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
    let gateway = gateway.route(route.build()?).build()?;
    let server = Server::new(gateway, ServerConfig::default());
    if let Some((listener, spread)) = shared {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        server.spread(&spread, index).serve(listener).await;
        return Ok(());
    }
    let addr: std::net::SocketAddr = listen.parse()?;
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseport(true)?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    server.serve(listener).await;
    Ok(())
}
