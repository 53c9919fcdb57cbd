//! The registry service's HTTP client: a [`Registry`] that a fleet shares through the
//! control plane (`platform_core::control`).

mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::Method;

use super::instance::check_service;
use super::lease::{LeaseBackend, check_registration};
use super::{
    Health, InvalidInstance, Lease, Registry, RegistryError, ServiceInstance, Snapshot, Watch,
};
use crate::control::client::{CallError, HttpClient};
use crate::control::{DeregisterResponse, HealthRequest, RegisterRequest, RegisterResponse};

const BACKEND: &str = "http";

/// Bound on each call unless configured otherwise.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// A watch stream silent this long (no event, no keep-alive) is reconnected, unless
/// configured otherwise. Three of the service's default keep-alive intervals.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Longest wait between watch reconnection attempts unless configured otherwise.
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(5);

/// A [`Registry`] behind the control plane's HTTP API.
///
/// * `register` posts the instance; the returned [`Lease`] heartbeats every TTL / 3 and,
///   when the service no longer holds the lease (it restarted, or the lease lapsed during
///   a partition), registers again.
/// * `watch` follows the service's server-sent events. After any disconnect (or a silent
///   stream: no keep-alive within the idle timeout) it reconnects with backoff
///   (100 ms doubling up to the reconnect maximum) and the service starts the new stream
///   with a [`WatchEvent::Resync`](super::WatchEvent::Resync); a gap in versions also
///   forces a reconnect, so a watcher never silently misses a change.
/// * `instances` serves the last snapshot read, marked [`stale`](Snapshot::stale), when
///   the service cannot be reached.
///
/// Only `http://` base URLs are accepted; the router may be mounted under a path prefix
/// (`http://control:7070/control`). Clones share connections.
///
/// ```
/// use std::time::Duration;
/// use platform_core::registry::HttpRegistry;
///
/// let registry = HttpRegistry::new("http://127.0.0.1:7070")
///     .unwrap()
///     .timeout(Duration::from_secs(2))
///     .idle_timeout(Duration::from_secs(30));
/// # let _ = registry;
/// assert!(HttpRegistry::new("https://example.com").is_err()); // no TLS
/// ```
#[derive(Debug, Clone)]
pub struct HttpRegistry {
    client: HttpClient,
    idle_timeout: Duration,
    reconnect_max: Duration,
    last_known: Arc<Mutex<HashMap<String, Snapshot>>>,
}

impl HttpRegistry {
    /// A client of the service at `base_url`; no I/O until the first call.
    ///
    /// # Errors
    /// [`RegistryError::Config`] (field `url`) when it is not an `http://` URL.
    pub fn new(base_url: &str) -> Result<Self, RegistryError> {
        let client = HttpClient::new(base_url, DEFAULT_HTTP_TIMEOUT)
            .map_err(|e| RegistryError::config("url", e.reason))?;
        Ok(Self {
            client,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            reconnect_max: DEFAULT_RECONNECT_MAX,
            last_known: Arc::default(),
        })
    }

    /// Bound on each call and on opening a watch (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = HttpClient::new(self.client.base(), timeout).unwrap_or(self.client);
        self
    }

    /// How long a watch stream may stay silent before it is reconnected (default 45 s;
    /// keep it above the service's keep-alive interval).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Longest wait between watch reconnection attempts (default 5 s).
    pub fn reconnect_max(mut self, max: Duration) -> Self {
        self.reconnect_max = max;
        self
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &str {
        self.client.base()
    }

    fn instance_path(service: &str, id: &str) -> String {
        format!("/v1/registry/{service}/instances/{id}")
    }

    async fn post_register(
        &self,
        instance: &ServiceInstance,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        let body = RegisterRequest { instance: instance.clone(), ttl };
        let path = format!("/v1/registry/{}/instances", instance.service);
        self.client
            .call_json::<RegisterResponse>(Method::POST, &path, &[], Some(&body))
            .await
            .map(drop)
            .map_err(|e| to_registry_error(e, &instance.service, &instance.id, "register"))
    }
}

/// Maps the service's answer back to the error the in-process backends return.
pub(crate) fn to_registry_error(
    e: CallError,
    service: &str,
    id: &str,
    operation: &'static str,
) -> RegistryError {
    if let CallError::Api { status, body } = &e {
        match (status.as_u16(), body.body.error.as_str()) {
            (400, _) => {
                let field = body.field.as_deref().unwrap_or("request");
                let field = field.strip_prefix("instance.").unwrap_or(field);
                return InvalidInstance::new(
                    service,
                    id,
                    static_field(field),
                    body.body.message.clone(),
                )
                .into();
            }
            (404, "instance_not_found") => return RegistryError::not_found(service, id),
            _ => {}
        }
    }
    RegistryError::Unavailable { backend: BACKEND, operation, source: Box::new(e) }
}

fn static_field(field: &str) -> &'static str {
    const FIELDS: [&str; 12] = [
        "service", "id", "host", "port", "scheme", "version", "zone", "weight", "metadata",
        "health", "ttl", "path",
    ];
    FIELDS.into_iter().find(|f| *f == field).unwrap_or("request")
}

#[async_trait]
impl LeaseBackend for HttpRegistry {
    async fn keep_alive(
        &self,
        instance: &ServiceInstance,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        let path = format!("{}/heartbeat", Self::instance_path(&instance.service, &instance.id));
        match self.client.call(Method::PUT, &path, &[], None).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("lease_not_found") => {
                tracing::info!(target: "platform::registry", service = %instance.service, id = %instance.id, "the registry service holds no lease; registering again");
                self.post_register(instance, ttl).await
            }
            Err(e) => Err(to_registry_error(e, &instance.service, &instance.id, "renew a lease")),
        }
    }

    async fn release(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        self.client
            .call_json::<DeregisterResponse>(
                Method::DELETE,
                &Self::instance_path(service, id),
                &[],
                None,
            )
            .await
            .map(|r| r.removed)
            .map_err(|e| to_registry_error(e, service, id, "deregister"))
    }
}

#[async_trait]
impl Registry for HttpRegistry {
    async fn register(
        &self,
        instance: ServiceInstance,
        ttl: Duration,
    ) -> Result<Lease, RegistryError> {
        check_registration(&instance, ttl)?;
        self.post_register(&instance, ttl).await?;
        Ok(Lease::start(Arc::new(self.clone()), instance, ttl))
    }

    async fn deregister(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        check_service(service)?;
        self.release(service, id).await
    }

    async fn set_health(
        &self,
        service: &str,
        id: &str,
        health: Health,
    ) -> Result<(), RegistryError> {
        check_service(service)?;
        let path = format!("{}/health", Self::instance_path(service, id));
        self.client
            .call(Method::PUT, &path, &[], Some(&HealthRequest { health }))
            .await
            .map(drop)
            .map_err(|e| to_registry_error(e, service, id, "set health"))
    }

    async fn instances(&self, service: &str) -> Result<Snapshot, RegistryError> {
        check_service(service)?;
        let path = format!("/v1/registry/{service}");
        let last_known = |update: Option<&Snapshot>| {
            let mut map = self.last_known.lock().unwrap_or_else(|p| p.into_inner());
            match update {
                Some(s) => {
                    map.insert(service.to_owned(), s.clone());
                    None
                }
                None => map.get(service).cloned(),
            }
        };
        match self.client.call_json::<Snapshot>(Method::GET, &path, &[], None).await {
            Ok(snapshot) => {
                last_known(Some(&snapshot));
                Ok(snapshot)
            }
            Err(CallError::Transport(e)) => match last_known(None) {
                Some(mut stale) => {
                    tracing::warn!(target: "platform::registry", %service, error = %e, "registry service unreachable; serving the last known instances");
                    stale.stale = true;
                    Ok(stale)
                }
                None => Err(RegistryError::Unavailable {
                    backend: BACKEND,
                    operation: "list instances",
                    source: e,
                }),
            },
            Err(e) => Err(to_registry_error(e, service, "", "list instances")),
        }
    }

    async fn watch(&self, service: &str) -> Result<Watch, RegistryError> {
        check_service(service)?;
        watch::open(self, service).await
    }
}
