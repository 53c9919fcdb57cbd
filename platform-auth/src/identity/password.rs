//! [`PasswordHasher`]: argon2id hashing off the async runtime, behind a concurrency limit.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, Semaphore};

use super::error::IdentityError;
use crate::error::ConfigError;

/// OWASP's argon2id memory cost: 19 MiB (19 456 KiB).
///
/// Source: OWASP Password Storage Cheat Sheet, section "Argon2id" (minimum configuration
/// m=19 MiB, t=2, p=1).
pub const OWASP_MEMORY_KIB: u32 = 19 * 1024;
/// OWASP's argon2id iteration count (t=2).
pub const OWASP_ITERATIONS: u32 = 2;
/// OWASP's argon2id parallelism (p=1).
pub const OWASP_PARALLELISM: u32 = 1;

/// Settings of a [`PasswordHasher`]: argon2id costs, the concurrency limit and the
/// length policy. The defaults are the OWASP Password Storage Cheat Sheet's argon2id
/// parameters (m=19 MiB, t=2, p=1) and NIST SP 800-63B's length rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PasswordConfig {
    /// Memory cost in KiB (default [`OWASP_MEMORY_KIB`]).
    pub memory_kib: u32,
    /// Number of passes (default [`OWASP_ITERATIONS`]).
    pub iterations: u32,
    /// Lanes (default [`OWASP_PARALLELISM`]).
    pub parallelism: u32,
    /// Hashes computed at once; further requests wait. Bounds memory
    /// (`max_concurrent × memory_kib`) and CPU. Default: the number of CPUs.
    pub max_concurrent: usize,
    /// Shortest password accepted when setting one, in characters (default 8).
    pub min_length: usize,
    /// Longest password accepted, in bytes (default 1024); longer ones are refused
    /// without hashing.
    pub max_length: usize,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            memory_kib: OWASP_MEMORY_KIB,
            iterations: OWASP_ITERATIONS,
            parallelism: OWASP_PARALLELISM,
            max_concurrent: std::thread::available_parallelism().map_or(2, usize::from),
            min_length: 8,
            max_length: 1024,
        }
    }
}

impl PasswordConfig {
    /// Sets the argon2id costs: memory in KiB, iterations, parallelism.
    pub fn costs(mut self, memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        self.memory_kib = memory_kib;
        self.iterations = iterations;
        self.parallelism = parallelism;
        self
    }

    /// Sets how many hashes may run at once.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }

    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.params().map(drop)?;
        if self.max_concurrent == 0 {
            return Err(ConfigError::new("max_concurrent", "must be at least 1"));
        }
        if self.min_length == 0 || self.min_length > self.max_length {
            return Err(ConfigError::new(
                "min_length",
                format!("must be between 1 and max_length ({})", self.max_length),
            ));
        }
        Ok(())
    }

    fn params(&self) -> Result<Params, ConfigError> {
        if self.iterations == 0 {
            return Err(ConfigError::new("iterations", "must be at least 1"));
        }
        if self.parallelism == 0 {
            return Err(ConfigError::new("parallelism", "must be at least 1"));
        }
        if self.memory_kib < 8 * self.parallelism {
            return Err(ConfigError::new(
                "memory_kib",
                format!("must be at least 8 × parallelism ({} KiB)", 8 * self.parallelism),
            ));
        }
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| ConfigError::new("memory_kib", format!("invalid argon2 parameters: {e}")))
    }
}

/// The result of [`PasswordHasher::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The password matches the hash.
    pub matches: bool,
    /// The hash was made with other parameters (or another algorithm) than the current
    /// ones: hash the password again and store the new hash.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with argon2id. Cheap to clone; clones share the
/// concurrency limit.
///
/// Hashing is CPU- and memory-bound (tens of milliseconds at the OWASP parameters), so it
/// runs on tokio's blocking pool, never on an async worker thread, and at most
/// [`PasswordConfig::max_concurrent`] hashes run at once. Hashes are PHC strings
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a 128-bit random salt, so each
/// records the parameters it was made with: [`verify`](Self::verify) uses the stored
/// ones and reports when they differ from the current ones.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    config: PasswordConfig,
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password at the current parameters: verified against when a
    /// user does not exist, so that path costs the same as a wrong password.
    dummy: OnceCell<String>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(PasswordConfig::default()).expect("the default password config is valid")
    }
}

impl PasswordHasher {
    /// A hasher with `config` (see [`PasswordConfig::validate`]).
    pub fn new(config: PasswordConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let params = config.params()?;
        let permits = Arc::new(Semaphore::new(config.max_concurrent));
        Ok(Self { inner: Arc::new(Inner { config, params, permits, dummy: OnceCell::new() }) })
    }

    /// The settings.
    pub fn config(&self) -> &PasswordConfig {
        &self.inner.config
    }

    /// Checks `password` against the length policy (for setting a password).
    pub fn check_policy(&self, password: &str) -> Result<(), IdentityError> {
        let c = &self.inner.config;
        if password.chars().count() < c.min_length {
            return Err(IdentityError::WeakPassword(format!(
                "shorter than {} characters",
                c.min_length
            )));
        }
        if password.len() > c.max_length {
            return Err(IdentityError::WeakPassword(format!("longer than {} bytes", c.max_length)));
        }
        Ok(())
    }

    /// Hashes `password` at the current parameters (no policy check; see
    /// [`check_policy`](Self::check_policy)).
    pub async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        if password.len() > self.inner.config.max_length {
            return Err(IdentityError::WeakPassword(format!(
                "longer than {} bytes",
                self.inner.config.max_length
            )));
        }
        let params = self.inner.params.clone();
        let password = password.to_owned();
        self.blocking(move || {
            let ctx = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            ctx.hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| IdentityError::Hashing(e.to_string()))
        })
        .await
    }

    /// Verifies `password` against `stored`, or — when `stored` is `None` (no such user,
    /// or no password set) — against a dummy hash at the current parameters, so both
    /// paths take about as long. `matches` is always `false` without a stored hash.
    ///
    /// A password longer than [`PasswordConfig::max_length`] or an unparsable stored hash
    /// does not match.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verified, IdentityError> {
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy().await?.to_owned(), false),
        };
        if password.len() > self.inner.config.max_length {
            return Ok(Verified { matches: false, needs_rehash: false });
        }
        let needs_rehash = real && self.needs_rehash(&hash);
        let password = password.to_owned();
        let matches = self
            .blocking(move || {
                let Ok(parsed) = PasswordHash::new(&hash) else { return Ok(false) };
                // Verification uses the algorithm, version and costs stored in the hash.
                Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(Verified { matches: matches && real, needs_rehash })
    }

    /// Whether `stored` was made with another algorithm, version or costs than the
    /// current ones (an unparsable hash needs a rehash too).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else { return true };
        let current = &self.inner.params;
        let same = parsed.algorithm == Algorithm::Argon2id.ident()
            && parsed.version == Some(Version::V0x13.into())
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() == current.m_cost()
                    && p.t_cost() == current.t_cost()
                    && p.p_cost() == current.p_cost()
            })
            && parsed.hash.is_some_and(|h| h.len() == Params::DEFAULT_OUTPUT_LEN);
        !same
    }

    async fn dummy(&self) -> Result<&str, IdentityError> {
        let hash = self
            .inner
            .dummy
            .get_or_try_init(|| async { self.hash(&crate::random::token_string(24)).await })
            .await?;
        Ok(hash.as_str())
    }

    /// Runs `f` on the blocking pool once a permit is free.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, IdentityError> + Send + 'static,
    ) -> Result<T, IdentityError> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| IdentityError::Hashing("the hasher was shut down".to_owned()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| IdentityError::Hashing(format!("hashing task failed: {e}")))?
    }

    /// Hashes currently running or waiting for a permit are bounded by this; the number
    /// of free permits (tests, metrics).
    pub fn available_permits(&self) -> usize {
        self.inner.permits.available_permits()
    }
}

#[cfg(test)]
mod tests;
