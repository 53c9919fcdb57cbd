//! Load balancing: round robin, weights, consistent hashing, PeakEwma's failure
//! penalty, retries moving to another endpoint, outlier ejection.

mod common;

use std::collections::HashMap;

use common::{echo_upstream, serve, status_upstream, who};
use http::StatusCode;
use platform_core::registry::health::OutlierConfig;
use platform_core::resilience::RetryConfig;
use platform_gateway::balance::{BalancePolicy, ConsistentHashConfig, HashKey};
use platform_gateway::{Gateway, Route, Upstream, UpstreamConfig};

async fn gateway(upstream: Upstream, route: Route) -> std::net::SocketAddr {
    serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await
}

/// Upstream `u` over `endpoints`, with `config`.
async fn upstream_over(endpoints: &[std::net::SocketAddr], config: UpstreamConfig) -> Upstream {
    let builder = endpoints.iter().fold(Upstream::builder("u"), |b, e| b.endpoint(e.to_string()));
    builder.config(config).build().await.unwrap()
}

fn route() -> platform_gateway::RouteBuilder {
    Route::builder("r").path_prefix("/").upstream("u")
}

async fn tally(
    gw: std::net::SocketAddr,
    n: usize,
    headers: &[(&str, &str)],
) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let (status, name) = who(gw, "/", headers).await;
        *counts.entry(format!("{}:{name}", status.as_u16())).or_default() += 1;
    }
    counts
}

/// Waits until `upstream` routes to `want` endpoints: ejections and returns reach the
/// endpoint set through the discovery task.
async fn settle(upstream: &Upstream, want: usize) {
    for _ in 0..200 {
        if upstream.endpoints().len() == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the endpoint set never reached {want} endpoints (ejected: {:?})", upstream.ejected());
}

fn config(balance: BalancePolicy) -> UpstreamConfig {
    UpstreamConfig { balance, ..UpstreamConfig::default() }
}

#[tokio::test]
async fn round_robin_takes_turns() {
    let (a, b, c) = (echo_upstream("a").await, echo_upstream("b").await, echo_upstream("c").await);
    let upstream = upstream_over(&[a, b, c], config(BalancePolicy::RoundRobin)).await;
    let gw = gateway(upstream, route().build().unwrap()).await;
    let counts = tally(gw, 30, &[]).await;
    assert_eq!(
        counts,
        HashMap::from([("200:a".into(), 10), ("200:b".into(), 10), ("200:c".into(), 10)])
    );
}

#[tokio::test]
async fn weighted_follows_the_weights_exactly_per_cycle() {
    let (a, b) = (echo_upstream("a").await, echo_upstream("b").await);
    let upstream = Upstream::builder("u")
        .weighted_endpoint(a.to_string(), 1)
        .weighted_endpoint(b.to_string(), 3)
        .config(config(BalancePolicy::Weighted))
        .build()
        .await
        .unwrap();
    let gw = gateway(upstream, route().build().unwrap()).await;
    let counts = tally(gw, 40, &[]).await;
    assert_eq!(counts, HashMap::from([("200:a".into(), 10), ("200:b".into(), 30)]));
}

#[tokio::test]
async fn consistent_hash_is_sticky_per_key() {
    let (a, b, c) = (echo_upstream("a").await, echo_upstream("b").await, echo_upstream("c").await);
    let policy =
        BalancePolicy::ConsistentHash(ConsistentHashConfig::new(HashKey::Header("x-user".into())));
    let upstream = upstream_over(&[a, b, c], config(policy)).await;
    let gw = gateway(upstream, route().build().unwrap()).await;
    let mut seen = std::collections::HashSet::new();
    for user in 0..20 {
        let user = format!("user-{user}");
        let first = who(gw, "/", &[("x-user", &user)]).await.1;
        for _ in 0..5 {
            assert_eq!(who(gw, "/", &[("x-user", &user)]).await.1, first, "{user} moved");
        }
        seen.insert(first);
    }
    assert!(seen.len() >= 2, "20 users all hashed to {seen:?}");
}

#[tokio::test]
async fn peak_ewma_avoids_an_endpoint_that_fails() {
    let (bad, good) = (status_upstream("bad", 500).await, status_upstream("good", 200).await);
    let upstream = upstream_over(
        &[bad, good],
        UpstreamConfig { eject_outliers: false, ..UpstreamConfig::default() },
    )
    .await;
    let gw = gateway(upstream, route().build().unwrap()).await;
    let counts = tally(gw, 50, &[]).await;
    let failures = counts.get("500:bad").copied().unwrap_or(0);
    assert!(failures <= 3, "the failing endpoint still got {failures} of 50: {counts:?}");
}

#[tokio::test]
async fn a_retry_goes_to_another_endpoint() {
    let (bad, good) = (status_upstream("bad", 503).await, status_upstream("good", 200).await);
    let upstream = upstream_over(
        &[bad, good],
        UpstreamConfig { eject_outliers: false, ..config(BalancePolicy::RoundRobin) },
    )
    .await;
    let retry = RetryConfig::builder().max_attempts(2);
    let gw = gateway(upstream, route().retry(retry).build().unwrap()).await;
    let counts = tally(gw, 20, &[]).await;
    assert_eq!(counts, HashMap::from([("200:good".into(), 20)]));
}

#[tokio::test]
async fn failing_endpoint_is_ejected() {
    let (bad, good) = (status_upstream("bad", 502).await, status_upstream("good", 200).await);
    let outlier = OutlierConfig { consecutive_failures: 2, ..OutlierConfig::default() };
    let upstream = upstream_over(
        &[bad, good],
        UpstreamConfig { outlier, ..config(BalancePolicy::RoundRobin) },
    )
    .await;
    let handle = upstream.clone();
    let gw = gateway(upstream, route().build().unwrap()).await;
    let _ = tally(gw, 10, &[]).await;
    settle(&handle, 1).await;
    assert_eq!(handle.ejected(), [bad.to_string()]);
    assert_eq!(tally(gw, 10, &[]).await, HashMap::from([("200:good".into(), 10)]));
    let (status, _) = who(gw, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn panic_threshold_brings_ejected_endpoints_back() {
    let (a, b) = (status_upstream("a", 500).await, status_upstream("b", 500).await);
    let outlier = OutlierConfig {
        consecutive_failures: 1,
        max_ejected_share: 1.0,
        ..OutlierConfig::default()
    };
    let upstream =
        upstream_over(&[a, b], UpstreamConfig { outlier, ..config(BalancePolicy::RoundRobin) })
            .await;
    let handle = upstream.clone();
    let gw = gateway(upstream, route().build().unwrap()).await;
    // One failure ejects the first endpoint: 1 of 2 out is not over 0.5, it leaves.
    let _ = who(gw, "/", &[]).await;
    settle(&handle, 1).await;
    // The other fails too: 2 of 2 out is over the threshold, panic mode routes to both.
    let _ = who(gw, "/", &[]).await;
    settle(&handle, 2).await;
    assert_eq!(handle.ejected().len(), 2, "both endpoints are still ejected");
    let (status, name) = who(gw, "/", &[]).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "served by an endpoint, not `no_endpoint`"
    );
    assert!(!name.is_empty());
}
