//! The gateway of the load test (`benches/gateway/run.sh`), built in code so the full
//! stack can include platform-auth's JWT check.
//!
//! ```text
//! bench-gateway bare|full LISTEN UPSTREAM TOKEN_FILE [threads]
//! ```
//!
//! * `bare`: one route `/` to the upstream — routing, the proxy's correctness checks,
//!   trace context propagation (always on);
//! * `full`: the same route with JWT authentication (HS256 bearer token, written to
//!   `TOKEN_FILE`), a rate limit (high enough never to refuse, but counted), a circuit
//!   breaker and RED metrics.
//!
//! Logs at `warn` only, so neither mode writes an access-log line per request (nginx's
//! access log is off in the same run).

use std::time::Duration;

use platform_auth::jwt::{Issuer, Key, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator};
use platform_core::resilience::RateLimitConfig;
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_gateway::filter::RateKey;
use platform_gateway::{Gateway, Route, Server, ServerConfig, Upstream};
use platform_observe::metrics::MetricsRegistry;
use tokio::net::TcpListener;

const USAGE: &str = "usage: bench-gateway bare|full LISTEN UPSTREAM TOKEN_FILE [threads]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, listen, upstream, token_file, rest @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let threads: usize = rest.first().map_or(Ok(2), |t| t.parse())?;
    tracing_subscriber::fmt().with_max_level(tracing::Level::WARN).init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    runtime.block_on(async move {
        let upstream = Upstream::builder("bench").endpoint(upstream.as_str()).build().await?;
        let route = Route::builder("bench").path_prefix("/").upstream("bench");
        let mut gateway = Gateway::builder().upstream(upstream);
        let route = match mode.as_str() {
            "bare" => route,
            "full" => {
                let secret = b"bench-only-hmac-secret-0123456789abcdef";
                let keys = KeySet::new(Key::hs256("bench", secret)?);
                let issuer = Issuer::new(keys.clone(), "https://bench", "gateway");
                std::fs::write(token_file, issuer.issue("bench", &["bench"])?)?;
                let verifier = Verifier::new(keys, VerifierConfig::new("https://bench", "gateway"));
                let metrics = MetricsRegistry::new();
                gateway = gateway.metrics(&metrics);
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
        let listener = TcpListener::bind(listen.as_str()).await?;
        eprintln!("bench-gateway ({mode}) listening on {listen} ({threads} thread(s))");
        Server::new(gateway, ServerConfig::default()).serve(listener).await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
