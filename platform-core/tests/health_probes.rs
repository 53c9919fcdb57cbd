//! Active probes against real local servers (127.0.0.1, ephemeral ports): the prober
//! marks instances unhealthy after `unhealthy_after` failures and ready after
//! `healthy_after` successes, with the reason. Real time with short intervals; every
//! wait is bounded and nothing asserts on timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use platform_core::registry::health::{
    HealthProber, ProbeCheck, ProbeConfig, ProbeEvent, ProbeFailure, StatusRange,
};
use platform_core::registry::{Health, MemoryRegistry, Registry, ServiceInstance};
use platform_core::resilience::Listeners;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

fn config(check: ProbeCheck) -> ProbeConfig {
    ProbeConfig::default()
        .with_check(check)
        .with_timing(Duration::from_millis(20), Duration::from_millis(500))
        .with_thresholds(2, 3)
}

fn http_check() -> ProbeCheck {
    ProbeCheck::Http { path: "/health".into(), expected_status: StatusRange::new(200, 204) }
}

/// A health endpoint answering with the status in the returned cell.
async fn http_server() -> (u16, Arc<AtomicU16>) {
    let status = Arc::new(AtomicU16::new(200));
    let current = Arc::clone(&status);
    let app = Router::new().route(
        "/health",
        get(move || {
            let code = current.load(Ordering::SeqCst);
            async move { StatusCode::from_u16(code).unwrap() }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, status)
}

struct Probed {
    registry: MemoryRegistry,
    events: mpsc::UnboundedReceiver<ProbeEvent>,
    _prober: HealthProber,
    _lease: platform_core::registry::Lease,
}

async fn probe(port: u16, health: Health, config: ProbeConfig) -> Probed {
    let registry = MemoryRegistry::new();
    let instance = ServiceInstance::new("orders", "a", "127.0.0.1", port).with_health(health);
    let lease = registry.register(instance, Duration::from_secs(3600)).await.unwrap();
    let (tx, events) = mpsc::unbounded_channel();
    let listeners = Listeners::new().with(move |e: &ProbeEvent| drop(tx.send(e.clone())));
    let shared: Arc<dyn Registry> = Arc::new(registry.clone());
    let prober = HealthProber::start(shared, "orders", config, listeners).await.unwrap();
    Probed { registry, events, _prober: prober, _lease: lease }
}

impl Probed {
    async fn next_event(&mut self) -> ProbeEvent {
        tokio::time::timeout(WAIT, self.events.recv()).await.expect("no probe event").unwrap()
    }

    async fn health(&self) -> Health {
        self.registry.instances("orders").await.unwrap().get("a").unwrap().health
    }
}

#[tokio::test]
async fn http_probe_marks_unhealthy_on_bad_status_and_ready_again() {
    let (port, status) = http_server().await;
    let mut probed = probe(port, Health::Ready, config(http_check())).await;

    status.store(503, Ordering::SeqCst);
    let event = probed.next_event().await;
    let expected = ProbeEvent::Unhealthy {
        service: "orders".into(),
        id: "a".into(),
        failures: 3,
        reason: ProbeFailure::Status(503),
    };
    assert_eq!(event, expected);
    assert_eq!(probed.health().await, Health::Unhealthy);

    status.store(204, Ordering::SeqCst);
    let event = probed.next_event().await;
    assert_eq!(
        event,
        ProbeEvent::Healthy { service: "orders".into(), id: "a".into(), successes: 2 }
    );
    assert_eq!(probed.health().await, Health::Ready);
}

#[tokio::test]
async fn tcp_probe_admits_a_new_instance_and_ejects_it_when_it_stops_listening() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    // Registered unhealthy: kept out of rotation until its probes pass.
    let mut probed = probe(port, Health::Unhealthy, config(ProbeCheck::Tcp)).await;
    assert!(matches!(probed.next_event().await, ProbeEvent::Healthy { successes: 2, .. }));
    assert_eq!(probed.health().await, Health::Ready);

    accepting.abort();
    let _ = accepting.await;
    match probed.next_event().await {
        ProbeEvent::Unhealthy { failures: 3, reason: ProbeFailure::Connect(_), .. } => {}
        other => panic!("expected a connect failure, got {other:?}"),
    }
    assert_eq!(probed.health().await, Health::Unhealthy);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections (the kernel backlog does) but never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let config =
        config(http_check()).with_timing(Duration::from_millis(20), Duration::from_millis(50));
    let mut probed = probe(port, Health::Ready, config).await;
    match probed.next_event().await {
        ProbeEvent::Unhealthy { reason: ProbeFailure::Timeout, .. } => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    drop(silent);
}

#[tokio::test]
async fn a_draining_instance_is_left_draining() {
    let (port, status) = http_server().await;
    status.store(500, Ordering::SeqCst);
    let mut probed = probe(port, Health::Draining, config(http_check())).await;
    assert!(matches!(probed.next_event().await, ProbeEvent::Unhealthy { .. }));
    assert_eq!(probed.health().await, Health::Draining);
}
