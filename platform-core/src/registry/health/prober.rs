//! The task that probes every instance of one service.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use super::check::Checker;
use super::{ProbeConfig, ProbeEvent, ProbeFailure};
use crate::registry::{Health, Registry, RegistryError, ServiceInstance, Snapshot, Watch};
use crate::resilience::Listeners;

/// Actively probes every instance of one service and records the verdicts in the
/// registry with [`Registry::set_health`].
///
/// The prober watches the service and keeps one probe loop per instance: it probes
/// every [`interval`](ProbeConfig::interval) (± jitter; the first probe comes after a
/// random share of the interval), and after
/// [`unhealthy_after`](ProbeConfig::unhealthy_after) failures in a row marks a
/// [`Health::Ready`] instance [`Health::Unhealthy`], after
/// [`healthy_after`](ProbeConfig::healthy_after) successes in a row marks an unhealthy
/// one ready again. It starts from the health the instance was registered with, so
/// register an instance `Unhealthy` to keep it out of rotation until its probes pass. It
/// never touches a [`Health::Draining`] instance. Each transition is a [`ProbeEvent`]
/// with the reason.
///
/// Run one prober per service (several processes may run one each: they agree up to
/// timing). Dropping the prober stops it.
pub struct HealthProber {
    service: String,
    task: JoinHandle<()>,
}

struct Context {
    registry: Arc<dyn Registry>,
    service: String,
    config: ProbeConfig,
    checker: Checker,
    listeners: Listeners<ProbeEvent>,
}

impl HealthProber {
    /// Starts probing the instances of `service`.
    ///
    /// # Errors
    /// [`RegistryError::Config`] for an invalid `config`; the registry's error when the
    /// watch cannot start.
    pub async fn start(
        registry: Arc<dyn Registry>,
        service: &str,
        config: ProbeConfig,
        listeners: Listeners<ProbeEvent>,
    ) -> Result<Self, RegistryError> {
        config.validate().map_err(|e| RegistryError::Config {
            field: e.field(),
            reason: format!("(health probe) {}", e.problem()),
        })?;
        let watch = registry.watch(service).await?;
        let context = Context {
            checker: Checker::new(&config.check),
            registry,
            service: service.to_owned(),
            config,
            listeners,
        };
        let task = tokio::spawn(follow(Arc::new(context), watch));
        Ok(Self { service: service.to_owned(), task })
    }

    /// The probed service.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl Drop for HealthProber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for HealthProber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthProber").field("service", &self.service).finish_non_exhaustive()
    }
}

/// Starts, updates and stops one probe loop per instance as the service changes.
async fn follow(context: Arc<Context>, mut watch: Watch) {
    let mut view = Snapshot::default();
    let mut loops = JoinSet::new();
    let mut probes: HashMap<String, (watch::Sender<ServiceInstance>, AbortHandle)> = HashMap::new();
    while let Some(event) = watch.next().await {
        if !view.apply(&event) {
            continue;
        }
        probes.retain(|id, (_, task)| {
            let keep = view.get(id).is_some();
            if !keep {
                task.abort();
            }
            keep
        });
        for instance in &view.instances {
            match probes.get(&instance.id) {
                Some((tx, _)) => {
                    tx.send_if_modified(|current| {
                        let changed = current != instance;
                        if changed {
                            current.clone_from(instance);
                        }
                        changed
                    });
                }
                None => {
                    let (tx, rx) = watch::channel(instance.clone());
                    let task = loops.spawn(probe_loop(Arc::clone(&context), rx));
                    probes.insert(instance.id.clone(), (tx, task));
                }
            }
        }
        // Reap loops that were aborted.
        while loops.try_join_next().is_some() {}
    }
}

/// Probes one instance until aborted; `instance` follows the registry's copy.
async fn probe_loop(context: Arc<Context>, instance: watch::Receiver<ServiceInstance>) {
    let config = &context.config;
    let mut healthy = instance.borrow().health != Health::Unhealthy;
    let (mut successes, mut failures) = (0_u32, 0_u32);
    tokio::time::sleep(config.interval.mul_f64(fastrand::f64())).await;
    loop {
        let current = instance.borrow().clone();
        match context.checker.probe(&current, config.timeout).await {
            Ok(()) => {
                failures = 0;
                successes = successes.saturating_add(1);
                if !healthy && successes >= config.healthy_after {
                    healthy = true;
                    context.mark(&instance, Health::Ready, successes, None).await;
                }
            }
            Err(reason) => {
                successes = 0;
                failures = failures.saturating_add(1);
                tracing::debug!(target: "platform::registry::health", service = %context.service, id = %current.id, %reason, "probe failed");
                if healthy && failures >= config.unhealthy_after {
                    healthy = false;
                    context.mark(&instance, Health::Unhealthy, failures, Some(reason)).await;
                }
            }
        }
        tokio::time::sleep(config.next_interval()).await;
    }
}

impl Context {
    /// Records a transition: writes the registry (unless the instance is draining or
    /// already there) and emits the event.
    async fn mark(
        &self,
        instance: &watch::Receiver<ServiceInstance>,
        health: Health,
        count: u32,
        reason: Option<ProbeFailure>,
    ) {
        let (id, current) = {
            let i = instance.borrow();
            (i.id.clone(), i.health)
        };
        let service = self.service.clone();
        if current != Health::Draining
            && current != health
            && let Err(error) = self.registry.set_health(&service, &id, health).await
        {
            tracing::warn!(target: "platform::registry::health", %service, %id, %error, "could not record probe verdict in the registry");
        }
        let event = match reason {
            None => {
                tracing::info!(target: "platform::registry::health", %service, %id, successes = count, "instance passed its probes; marked ready");
                ProbeEvent::Healthy { service, id, successes: count }
            }
            Some(reason) => {
                tracing::warn!(target: "platform::registry::health", %service, %id, failures = count, %reason, "instance failed its probes; marked unhealthy");
                ProbeEvent::Unhealthy { service, id, failures: count, reason }
            }
        };
        self.listeners.emit(&event);
    }
}
