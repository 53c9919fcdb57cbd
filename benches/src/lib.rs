//! Shared fixtures of the Platform SDK benchmarks.
//!
//! Every bench in `benches/` measures an SDK layer beside a bare baseline and a peer
//! implementation in the same run; `docs/benchmarks.md` records the results.

use std::convert::Infallible;
use std::future::Future;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

/// The cheapest possible inner service: always ready, answers at once without allocating.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl tower::Service<u64> for Echo {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// Drives one `ready` + `call` + await of `svc` to completion on the current thread
/// without a runtime; for services whose futures never need a waker to make progress.
pub fn call_now<S, Req>(svc: &mut S, req: Req) -> Result<S::Response, S::Error>
where
    S: tower::Service<Req>,
{
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Pending => panic!("benchmarked service was not ready"),
    }
    let mut fut = std::pin::pin!(svc.call(req));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("benchmarked future did not complete at once"),
    }
}

/// Deletes every Redis key under `prefix` (benches keep their data under a per-run prefix).
/// Best effort: a failure leaves keys behind and is reported on stderr.
pub async fn redis_delete_prefix(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) {
    let keys: redis::RedisResult<Vec<String>> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(conn).await;
    match keys {
        Ok(keys) if !keys.is_empty() => {
            if let Err(e) = redis::cmd("DEL").arg(keys).query_async::<()>(conn).await {
                eprintln!("bench cleanup: DEL under {prefix} failed: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("bench cleanup: KEYS {prefix}* failed: {e}"),
    }
}

/// The subscriber `platform_observe::telemetry` builds, log lines written nowhere (`RUST_LOG`
/// ignored). With `otel_export`, OTLP export of every signal is on towards a closed port
/// (`127.0.0.1:9`, 100 ms timeout): spans and log records are queued, batched and their
/// export fails fast, which is the whole in-process cost of the export pipeline.
pub fn telemetry_to_sink(
    otel_export: bool,
) -> (tracing::Dispatch, platform_observe::TelemetryGuard) {
    let mut cfg = platform_observe::TelemetryConfig {
        use_rust_log: false,
        ..platform_observe::TelemetryConfig::default()
    };
    if otel_export {
        cfg.otlp.enabled = true;
        cfg.otlp.endpoint = "http://127.0.0.1:9".into();
        cfg.otlp.timeout = std::time::Duration::from_millis(100);
    }
    platform_observe::telemetry::build_with_writer(&cfg, std::io::sink).expect("valid config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_now_runs_echo() {
        assert_eq!(call_now(&mut Echo, 7).expect("infallible"), 7);
    }
}
