//! The lease guard returned by [`Registry::register`](super::Registry::register).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinHandle;

use super::{RegistryError, ServiceInstance};

/// Shortest TTL a registry accepts.
pub const MIN_TTL: Duration = Duration::from_millis(10);

/// What a [`Lease`] needs from its backend; each backend implements it.
#[async_trait]
pub trait LeaseBackend: Send + Sync + 'static {
    /// Extends the instance's expiry to `ttl` from now. When the instance is gone (it
    /// expired during a partition longer than the TTL, or was deregistered by someone
    /// else) it is registered again as `instance`.
    async fn keep_alive(
        &self,
        instance: &ServiceInstance,
        ttl: Duration,
    ) -> Result<(), RegistryError>;

    /// Removes the instance; `Ok(false)` when it was not registered.
    async fn release(&self, service: &str, id: &str) -> Result<bool, RegistryError>;
}

/// Keeps one instance registered while it lives.
///
/// A background task renews the registration every [`renewal_interval`](Self::renewal_interval)
/// (a third of the TTL, so two renewals in a row may fail before the instance expires).
/// Dropping the lease stops renewing and spawns a best-effort deregistration on the
/// current tokio runtime; [`release`](Self::release) does the same and waits for it.
///
/// If the process dies, nothing deregisters: the instance expires one TTL after its last
/// renewal. [`abandon`](Self::abandon) stops renewing without deregistering, which is
/// exactly that case (tests use it to simulate a crash). Note that `std::mem::forget` on a
/// lease skips its `Drop` but not its renewal task, which keeps running as long as the
/// runtime does.
pub struct Lease {
    service: String,
    id: String,
    ttl: Duration,
    backend: Option<Arc<dyn LeaseBackend>>,
    renewer: Option<JoinHandle<()>>,
}

impl Lease {
    /// Starts renewing `instance` (already registered with `ttl`) on the current runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(backend: Arc<dyn LeaseBackend>, instance: ServiceInstance, ttl: Duration) -> Self {
        let interval = renewal_interval(ttl);
        let renewing = Arc::clone(&backend);
        let (service, id) = (instance.service.clone(), instance.id.clone());
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if let Err(error) = renewing.keep_alive(&instance, ttl).await {
                    tracing::warn!(
                        target: "platform::registry",
                        service = %instance.service,
                        id = %instance.id,
                        %error,
                        "lease renewal failed; retrying at the next interval"
                    );
                }
            }
        });
        Self { service, id, ttl, backend: Some(backend), renewer: Some(renewer) }
    }

    /// Service name of the leased instance.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Id of the leased instance.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The TTL the instance was registered with.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How often the lease renews.
    pub fn renewal_interval(&self) -> Duration {
        renewal_interval(self.ttl)
    }

    /// Stops renewing and deregisters, waiting for the backend to confirm.
    ///
    /// # Errors
    /// The backend's error; the instance then expires after its TTL.
    pub async fn release(mut self) -> Result<(), RegistryError> {
        self.stop_renewing();
        match self.backend.take() {
            Some(backend) => backend.release(&self.service, &self.id).await.map(drop),
            None => Ok(()),
        }
    }

    /// Stops renewing without deregistering: the instance expires one TTL after its last
    /// renewal, as if this process had crashed.
    pub fn abandon(mut self) {
        self.stop_renewing();
        self.backend = None;
    }

    fn stop_renewing(&mut self) {
        if let Some(task) = self.renewer.take() {
            task.abort();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_renewing();
        let Some(backend) = self.backend.take() else { return };
        let (service, id) = (std::mem::take(&mut self.service), std::mem::take(&mut self.id));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = backend.release(&service, &id).await {
                        tracing::warn!(
                            target: "platform::registry",
                            %service, %id, %error,
                            "deregistration of a dropped lease failed; the instance expires after its TTL"
                        );
                    }
                });
            }
            Err(_) => tracing::warn!(
                target: "platform::registry",
                %service, %id,
                "lease dropped outside a tokio runtime; the instance expires after its TTL"
            ),
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("service", &self.service)
            .field("id", &self.id)
            .field("ttl", &self.ttl)
            .field("renewing", &self.renewer.is_some())
            .finish()
    }
}

/// A third of the TTL.
pub(crate) fn renewal_interval(ttl: Duration) -> Duration {
    ttl / 3
}

/// Validates the instance and rejects TTLs below [`MIN_TTL`].
pub(crate) fn check_registration(
    instance: &ServiceInstance,
    ttl: Duration,
) -> Result<(), RegistryError> {
    instance.validate()?;
    if ttl < MIN_TTL {
        return Err(super::InvalidInstance::new(
            &instance.service,
            &instance.id,
            "ttl",
            format!("{ttl:?} is shorter than the minimum {MIN_TTL:?}"),
        )
        .into());
    }
    Ok(())
}
