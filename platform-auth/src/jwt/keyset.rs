//! [`KeySet`]: the signing key and the verification keys, with rotation.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::JwkSet;

use super::key::Key;
use super::source::{KeySource, select};
use crate::clock::Clock;
use crate::error::AuthError;

#[derive(Debug, Clone)]
struct Entry {
    key: Arc<Key>,
    /// Unix seconds after which the key no longer verifies (end of a rotation overlap).
    verify_until: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct State {
    signing: Option<Arc<Key>>,
    keys: Vec<Entry>,
}

/// The keys a service signs and verifies with. Cheap to clone; clones share the set.
///
/// Rotation: [`rotate`](Self::rotate) makes a new key the signing key; the previous one
/// keeps verifying for an overlap window (make it at least the access-token lifetime plus
/// leeway, so tokens signed just before the rotation stay valid), then it is retired and
/// its tokens are rejected. [`retire`](Self::retire) removes a key at once (compromise).
/// Publish a key before it signs with [`add_verification_key`](Self::add_verification_key)
/// so remote verifiers caching the JWKS already know it.
#[derive(Debug, Clone)]
pub struct KeySet {
    state: Arc<ArcSwap<State>>,
    clock: Clock,
}

impl KeySet {
    /// A set whose signing key is `signing`; it also verifies.
    ///
    /// # Panics
    /// When `signing` holds no private or secret material.
    pub fn new(signing: Key) -> Self {
        assert!(signing.can_sign(), "KeySet::new: key `{}` cannot sign", signing.kid());
        let key = Arc::new(signing);
        let state =
            State { signing: Some(key.clone()), keys: vec![Entry { key, verify_until: None }] };
        Self { state: Arc::new(ArcSwap::from_pointee(state)), clock: Clock::system() }
    }

    /// A verification-only set (no signing key).
    pub fn verify_only(keys: impl IntoIterator<Item = Key>) -> Self {
        let keys =
            keys.into_iter().map(|k| Entry { key: Arc::new(k), verify_until: None }).collect();
        let state = State { signing: None, keys };
        Self { state: Arc::new(ArcSwap::from_pointee(state)), clock: Clock::system() }
    }

    /// Replaces the clock that ends rotation overlaps (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current signing key.
    pub fn signing_key(&self) -> Option<Arc<Key>> {
        self.state.load().signing.clone()
    }

    /// Adds a key that verifies (and is published) but does not sign. Replaces a key with
    /// the same `kid`.
    pub fn add_verification_key(&self, key: Key) {
        let key = Arc::new(key);
        self.state.rcu(|s| {
            let mut s = State::clone(s);
            s.keys.retain(|e| e.key.kid() != key.kid());
            s.keys.push(Entry { key: key.clone(), verify_until: None });
            s
        });
        tracing::info!(target: "audit", event = "key_added", kid = key.kid(), "verification key added");
    }

    /// Makes `next` the signing key. The previous signing key keeps verifying for
    /// `overlap`, then is rejected.
    ///
    /// # Panics
    /// When `next` cannot sign.
    pub fn rotate(&self, next: Key, overlap: Duration) {
        assert!(next.can_sign(), "KeySet::rotate: key `{}` cannot sign", next.kid());
        let until = self.clock.now().saturating_add(overlap.as_secs());
        let next = Arc::new(next);
        self.state.rcu(|s| {
            let mut s = State::clone(s);
            if let Some(prev) = &s.signing {
                for e in &mut s.keys {
                    if e.key.kid() == prev.kid() {
                        e.verify_until = Some(until);
                    }
                }
            }
            s.keys.retain(|e| e.key.kid() != next.kid());
            s.keys.push(Entry { key: next.clone(), verify_until: None });
            s.signing = Some(next.clone());
            s
        });
        tracing::info!(
            target: "audit",
            event = "key_rotated",
            kid = next.kid(),
            overlap_secs = overlap.as_secs(),
            "signing key rotated"
        );
    }

    /// Removes the key `kid` at once: its tokens are rejected from now on. Retiring the
    /// signing key leaves the set unable to sign until the next [`rotate`](Self::rotate).
    pub fn retire(&self, kid: &str) {
        self.state.rcu(|s| {
            let mut s = State::clone(s);
            s.keys.retain(|e| e.key.kid() != kid);
            if s.signing.as_ref().is_some_and(|k| k.kid() == kid) {
                s.signing = None;
            }
            s
        });
        tracing::info!(target: "audit", event = "key_retired", kid, "key retired");
    }

    /// The keys that verify now.
    pub fn verification_keys(&self) -> Vec<Arc<Key>> {
        let now = self.clock.now();
        self.state
            .load()
            .keys
            .iter()
            .filter(|e| e.verify_until.is_none_or(|t| now <= t))
            .map(|e| e.key.clone())
            .collect()
    }

    /// The public JWKS document of the keys that verify now (HMAC keys are never included).
    pub fn jwks(&self) -> JwkSet {
        let keys =
            self.verification_keys().iter().filter_map(|k| k.public_jwk().cloned()).collect();
        JwkSet { keys }
    }
}

impl KeySource for KeySet {
    fn resolve_now(&self, kid: Option<&str>, alg: &str) -> Option<Result<Arc<Key>, AuthError>> {
        let now = self.clock.now();
        let state = self.state.load();
        let live = state.keys.iter().filter(|e| e.verify_until.is_none_or(|t| now <= t));
        Some(select(live.map(|e| &e.key), kid, alg))
    }
}
