//! What a backend guarantees ([`Capabilities`]) and what an application needs
//! ([`Requirements`]), checked at start-up.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The delivery order a backend keeps for first deliveries to one consumer group.
///
/// Ordered weakest to strongest: `None < PerKey < PerTopic`. Redeliveries (nack, visibility
/// timeout, crashed consumer) break order on every backend, and competing consumers of a
/// group process concurrently; see `docs/messaging.md` for each backend's exact rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    /// No order.
    #[default]
    None,
    /// Messages with the same key are first delivered in publish order.
    PerKey,
    /// All messages of a topic are first delivered in publish order.
    PerTopic,
}

/// How long a published, unacknowledged message survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Until the process exits.
    #[default]
    Process,
    /// On disk (or in a replicated broker): survives restarts.
    Durable,
}

/// What a backend guarantees. Each backend returns its own from `capabilities()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The backend's name, for error messages (`memory`, `sql-queue/sqlite`, …).
    pub backend: &'static str,
    /// Delivery order.
    pub ordering: Ordering,
    /// Survival of unacknowledged messages.
    pub persistence: Persistence,
    /// Several groups each get every message; consumers within a group compete.
    pub consumer_groups: bool,
    /// `nack(delay)` and `OutgoingMessage::delay` hold a message back for the delay.
    pub delayed_redelivery: bool,
    /// A delivery left unsettled is redelivered after the subscription's visibility timeout.
    pub visibility_timeout: bool,
    /// `dead_letter(reason)` moves a message to its dead-letter topic.
    pub dead_letter: bool,
}

impl Capabilities {
    /// Everything false / weakest for `backend`; backends set what they support.
    pub const fn none(backend: &'static str) -> Self {
        Self {
            backend,
            ordering: Ordering::None,
            persistence: Persistence::Process,
            consumer_groups: false,
            delayed_redelivery: false,
            visibility_timeout: false,
            dead_letter: false,
        }
    }
}

/// What an application needs from its messaging backend; the default needs nothing.
///
/// ```
/// use platform_core::messaging::{MemoryBroker, Persistence, Requirements};
/// use platform_core::messaging::Backend;
///
/// let broker = MemoryBroker::default();
/// let needs = Requirements::default().persistence(Persistence::Durable).dead_letter(true);
/// let err = needs.check(&broker.capabilities()).unwrap_err();
/// assert!(err.to_string().contains("persistence"), "{err}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Requirements {
    /// At least this order.
    pub ordering: Ordering,
    /// At least this persistence.
    pub persistence: Persistence,
    /// Consumer groups.
    pub consumer_groups: bool,
    /// Delayed redelivery.
    pub delayed_redelivery: bool,
    /// Redelivery after a visibility timeout.
    pub visibility_timeout: bool,
    /// Dead-lettering.
    pub dead_letter: bool,
}

impl Requirements {
    /// Requires at least `ordering`.
    pub fn ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = ordering;
        self
    }
    /// Requires at least `persistence`.
    pub fn persistence(mut self, persistence: Persistence) -> Self {
        self.persistence = persistence;
        self
    }
    /// Requires consumer groups.
    pub fn consumer_groups(mut self, yes: bool) -> Self {
        self.consumer_groups = yes;
        self
    }
    /// Requires delayed redelivery.
    pub fn delayed_redelivery(mut self, yes: bool) -> Self {
        self.delayed_redelivery = yes;
        self
    }
    /// Requires redelivery after a visibility timeout.
    pub fn visibility_timeout(mut self, yes: bool) -> Self {
        self.visibility_timeout = yes;
        self
    }
    /// Requires dead-lettering.
    pub fn dead_letter(mut self, yes: bool) -> Self {
        self.dead_letter = yes;
        self
    }

    /// `Ok` when `caps` meets every requirement, else an error listing each one missing.
    pub fn check(&self, caps: &Capabilities) -> Result<(), CapabilityMismatch> {
        let mut missing = Vec::new();
        if caps.ordering < self.ordering {
            missing.push(format!("ordering {:?} (backend has {:?})", self.ordering, caps.ordering));
        }
        if caps.persistence < self.persistence {
            missing.push(format!(
                "persistence {:?} (backend has {:?})",
                self.persistence, caps.persistence
            ));
        }
        for (wanted, has, name) in [
            (self.consumer_groups, caps.consumer_groups, "consumer_groups"),
            (self.delayed_redelivery, caps.delayed_redelivery, "delayed_redelivery"),
            (self.visibility_timeout, caps.visibility_timeout, "visibility_timeout"),
            (self.dead_letter, caps.dead_letter, "dead_letter"),
        ] {
            if wanted && !has {
                missing.push(name.to_owned());
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CapabilityMismatch { backend: caps.backend, missing })
        }
    }
}

/// The backend lacks capabilities the application requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityMismatch {
    backend: &'static str,
    missing: Vec<String>,
}

impl CapabilityMismatch {
    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        self.backend
    }
    /// Each missing capability, described.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }
}

impl fmt::Display for CapabilityMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "messaging backend `{}` lacks required capabilities: {}; pick a backend that \
             provides them (see the capabilities table in docs/messaging.md) or relax the requirements",
            self.backend,
            self.missing.join(", ")
        )
    }
}

impl std::error::Error for CapabilityMismatch {}
