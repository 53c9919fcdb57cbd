//! Endpoints from the platform-core registry: instances joining and leaving change
//! where requests go, without rebuilding the gateway.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{echo_upstream, serve, who};
use platform_core::registry::{Health, MemoryRegistry, Registry, ServiceInstance};
use platform_gateway::balance::BalancePolicy;
use platform_gateway::{Gateway, Route, Upstream, UpstreamConfig};

async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the endpoint set never changed");
}

async fn tally(gw: std::net::SocketAddr, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        *counts.entry(who(gw, "/", &[]).await.1).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn instances_come_and_go() {
    let (a, b) = (echo_upstream("a").await, echo_upstream("b").await);
    let registry = Arc::new(MemoryRegistry::new());
    let ttl = Duration::from_secs(30);
    let lease_a =
        registry.register(ServiceInstance::from_addr("users", "a", a), ttl).await.unwrap();
    let upstream = Upstream::builder("users")
        .registry(registry.clone(), "users")
        .config(UpstreamConfig { balance: BalancePolicy::RoundRobin, ..UpstreamConfig::default() })
        .build()
        .await
        .unwrap();
    let handle = upstream.clone();
    let route = Route::builder("users").path_prefix("/").upstream("users").build().unwrap();
    let gw = serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;
    assert_eq!(tally(gw, 4).await, HashMap::from([("a".into(), 4)]));

    let _lease_b =
        registry.register(ServiceInstance::from_addr("users", "b", b), ttl).await.unwrap();
    until(|| handle.endpoints().len() == 2).await;
    assert_eq!(tally(gw, 4).await, HashMap::from([("a".into(), 2), ("b".into(), 2)]));

    registry.set_health("users", "b", Health::Draining).await.unwrap();
    until(|| handle.endpoints().len() == 1).await;
    assert_eq!(tally(gw, 4).await, HashMap::from([("a".into(), 4)]));

    registry.set_health("users", "b", Health::Ready).await.unwrap();
    lease_a.release().await.unwrap();
    until(|| handle.endpoints().iter().map(|e| e.id().to_owned()).collect::<Vec<_>>() == ["b"])
        .await;
    assert_eq!(tally(gw, 4).await, HashMap::from([("b".into(), 4)]));
}

#[tokio::test]
async fn no_instance_is_503() {
    let registry = Arc::new(MemoryRegistry::new());
    let upstream = Upstream::builder("users").registry(registry, "users").build().await.unwrap();
    let route = Route::builder("users").path_prefix("/").upstream("users").build().unwrap();
    let gw = serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;
    let (status, body) = common::get(gw, "/").await;
    assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "no_endpoint");
}
