//! The [`Authorizer`] trait and [`PolicyAuthorizer`], its reloadable policy engine.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::decision::Decision;
use super::document::PolicyDocument;
use super::error::PolicyError;
use super::policy::PolicySet;
use super::request::AuthzRequest;
use super::store::PolicyStore;
use crate::clock::Clock;

/// Decides whether a principal may do an action on a resource. Synchronous: decisions
/// read in-memory policies; loading them is the implementation's business.
pub trait Authorizer: Send + Sync + std::fmt::Debug {
    /// Decides `request`, with an explanation.
    fn authorize(&self, request: &AuthzRequest<'_>) -> Decision;
}

impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn authorize(&self, request: &AuthzRequest<'_>) -> Decision {
        (**self).authorize(request)
    }
}

impl Authorizer for PolicySet {
    fn authorize(&self, request: &AuthzRequest<'_>) -> Decision {
        self.decide(request)
    }
}

/// RBAC with attribute conditions over a [`PolicySet`] that can be replaced at run time
/// (lock-free reads through `arc-swap`): from a file that is watched, or from a
/// [`PolicyStore`] that is polled. A document that fails to load never replaces the
/// current policies. Cheap to clone; clones share the policies.
#[derive(Debug, Clone)]
pub struct PolicyAuthorizer {
    current: Arc<ArcSwap<PolicySet>>,
}

impl PolicyAuthorizer {
    /// An authorizer deciding with `policies`.
    pub fn new(policies: PolicySet) -> Self {
        Self { current: Arc::new(ArcSwap::from_pointee(policies)) }
    }

    /// The current policies.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// Replaces the policies.
    pub fn replace(&self, policies: PolicySet) {
        tracing::info!(
            target: "audit",
            event = "policies_loaded",
            origin = policies.origin(),
            version = policies.version(),
            roles = policies.document().roles.len(),
            "authorization policies loaded"
        );
        self.current.store(Arc::new(policies));
    }

    /// Loads the `.toml` or `.json` file at `path` and, if it is valid, uses it.
    #[cfg(feature = "policy-files")]
    pub fn reload_file(&self, path: impl AsRef<std::path::Path>) -> Result<(), PolicyError> {
        self.replace(PolicySet::load_file(path)?);
        Ok(())
    }

    /// Loads `name` from `store` when its version is newer than the current one; `true`
    /// when the policies changed.
    pub async fn reload_from(
        &self,
        store: &dyn PolicyStore,
        name: &str,
    ) -> Result<bool, PolicyError> {
        let Some(stored) = store.load(name).await? else { return Ok(false) };
        let current = self.current.load().version();
        if current.is_some_and(|v| v >= stored.version) {
            return Ok(false);
        }
        let origin = format!("database policy \"{name}\"");
        let set = PolicySet::from_json(&stored.document, origin)?.with_version(stored.version);
        self.replace(set);
        Ok(true)
    }

    /// Validates `document`, saves it to `store` as `name` and uses it here at once
    /// (other instances pick it up at their next poll). Invalid documents are never saved.
    pub async fn publish(
        &self,
        store: &dyn PolicyStore,
        name: &str,
        document: PolicyDocument,
    ) -> Result<u64, PolicyError> {
        let json = document.to_json();
        let set = PolicySet::compile(document, format!("database policy \"{name}\""))?;
        let version = store.save(name, &json, Clock::system().now()).await?;
        self.replace(set.with_version(version));
        Ok(version)
    }

    /// Polls `store` for newer versions of `name` every `every`; stops when the returned
    /// [`PolicyWatch`] drops. Failures keep the current policies and are logged.
    pub fn poll_store(
        &self,
        store: Arc<dyn PolicyStore>,
        name: impl Into<String>,
        every: Duration,
    ) -> PolicyWatch {
        let (this, name) = (self.clone(), name.into());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.reload_from(store.as_ref(), &name).await {
                    reload_failed(&e);
                }
            }
        });
        PolicyWatch { task }
    }

    /// Watches the policy file at `path` and reloads it after every change (debounced,
    /// editor temp files ignored — platform-core's `FileWatcher`); stops when the returned
    /// [`PolicyWatch`] drops. An invalid edit keeps the current policies and is logged.
    #[cfg(feature = "policy-files")]
    pub fn watch_file(&self, path: impl Into<std::path::PathBuf>) -> PolicyWatch {
        use futures_util::StreamExt;
        use platform_core::config::{ConfigSource, FileWatcher, SourceEvent};

        let path = path.into();
        let mut events = Box::new(FileWatcher::new([path.clone()])).into_stream();
        let this = self.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    SourceEvent::FilesChanged => {
                        if let Err(e) = this.reload_file(&path) {
                            reload_failed(&e);
                        }
                    }
                    SourceEvent::Unavailable { reason } => {
                        tracing::warn!(path = %path.display(), %reason, "cannot watch the policy file");
                    }
                    _ => {}
                }
            }
        });
        PolicyWatch { task }
    }
}

fn reload_failed(e: &PolicyError) {
    tracing::warn!(target: "audit", event = "policy_reload_failed", error = %e, "policies not reloaded; keeping the current ones");
}

impl Authorizer for PolicyAuthorizer {
    fn authorize(&self, request: &AuthzRequest<'_>) -> Decision {
        self.current.load().decide(request)
    }
}

/// A running policy reload (file watch or store poll); dropping it stops the reloads.
#[derive(Debug)]
pub struct PolicyWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PolicyWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
