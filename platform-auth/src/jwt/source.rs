//! [`KeySource`]: where a verifier finds the key for a token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::key::Key;
use crate::error::AuthError;

/// A boxed future returned by [`KeySource::resolve`].
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Result<Arc<Key>, AuthError>> + Send + 'a>>;

/// Finds the verification key for a token among keys configured or fetched beforehand.
///
/// The token's `kid` only *selects* among those keys; nothing in a token (`kid`, `jku`,
/// `x5u`, `jwk`, `x5c`) ever says where to load a key from.
pub trait KeySource: Send + Sync + std::fmt::Debug {
    /// Resolves without waiting, when possible: `None` means "call
    /// [`resolve`](Self::resolve)" (a fetch may be needed). Local sets always answer here,
    /// which keeps verification free of boxing.
    fn resolve_now(&self, kid: Option<&str>, alg: &str) -> Option<Result<Arc<Key>, AuthError>>;

    /// Resolves, fetching when the source allows it. The default answers from
    /// [`resolve_now`](Self::resolve_now).
    fn resolve<'a>(&'a self, kid: Option<&'a str>, alg: &'a str) -> ResolveFuture<'a> {
        let now = self.resolve_now(kid, alg).unwrap_or(Err(AuthError::UnknownKey));
        Box::pin(std::future::ready(now))
    }
}

/// The key named by `kid`, or — without a `kid` — the only key for `alg`. Ambiguity
/// (several keys for `alg` and no `kid`) is an unknown key, never a guess.
pub(crate) fn select<'a>(
    keys: impl Iterator<Item = &'a Arc<Key>>,
    kid: Option<&str>,
    alg: &str,
) -> Result<Arc<Key>, AuthError> {
    match kid {
        Some(kid) => {
            keys.into_iter().find(|k| k.kid() == kid).cloned().ok_or(AuthError::UnknownKey)
        }
        None => {
            let mut found = keys.filter(|k| super::alg_name(k.algorithm()) == alg);
            match (found.next(), found.next()) {
                (Some(k), None) => Ok(k.clone()),
                _ => Err(AuthError::UnknownKey),
            }
        }
    }
}
