//! [`Identity`]: accounts, memberships, grants and password logins.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::error::{IdentityError, LoginError};
use super::lockout::{Backoff, LockoutPolicy};
use super::model::{Grantee, Group, NewUser, Role, User, UserRecord, check_name};
use super::password::PasswordHasher;
use super::store::IdentityStore;
use crate::clock::Clock;
use crate::error::{ConfigError, StoreError};

/// A successful login.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoggedIn {
    /// The account.
    pub user: User,
    /// Its effective roles (own and its groups').
    pub roles: Vec<String>,
    /// The stored hash was upgraded to the current parameters during this login.
    pub rehashed: bool,
}

/// Identity management and password login over an [`IdentityStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Identity {
    store: Arc<dyn IdentityStore>,
    hasher: PasswordHasher,
    lockout: LockoutPolicy,
    clock: Clock,
}

/// Longest username considered at login (longer ones cannot exist).
const MAX_LOGIN_NAME: usize = 256;

impl Identity {
    /// Identities in `store`, hashed at the OWASP parameters, with the default
    /// [`LockoutPolicy`].
    pub fn new(store: impl IdentityStore + 'static) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store chosen at run time.
    pub fn from_shared(store: Arc<dyn IdentityStore>) -> Self {
        Self {
            store,
            hasher: PasswordHasher::default(),
            lockout: LockoutPolicy::default(),
            clock: Clock::system(),
        }
    }

    /// Replaces the password hasher (parameters, concurrency limit, length policy).
    pub fn with_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Replaces the brute-force policy (see [`LockoutPolicy::validate`]).
    pub fn with_lockout(mut self, lockout: LockoutPolicy) -> Result<Self, ConfigError> {
        lockout.validate()?;
        self.lockout = lockout;
        Ok(self)
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates a user; the username is checked and lowercased, the password checked
    /// against the length policy and hashed.
    pub async fn create_user(&self, new: NewUser) -> Result<User, IdentityError> {
        let username = check_name("username", &new.username)?;
        let hash = match &new.password {
            Some(p) => {
                self.hasher.check_policy(p)?;
                Some(self.hasher.hash(p).await?)
            }
            None => None,
        };
        let id: String = crate::random::bytes::<16>().iter().map(|b| format!("{b:02x}")).collect();
        let mut user = User::new(id, username, self.clock.now());
        user.attributes = new.attributes;
        self.store.insert_user(&UserRecord::new(user.clone(), hash)).await?;
        tracing::info!(target: "audit", event = "user_created", sub = %user.id, username = %user.username, "user created");
        Ok(user)
    }

    /// Sets a user's password (length policy, then argon2id).
    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<(), IdentityError> {
        self.hasher.check_policy(password)?;
        let hash = self.hasher.hash(password).await?;
        if !self.store.set_password_hash(user_id, &hash).await? {
            return Err(StoreError::NotFound(format!("user `{user_id}`")).into());
        }
        tracing::info!(target: "audit", event = "password_changed", sub = user_id, "password changed");
        Ok(())
    }

    /// The user with `id`.
    pub async fn user(&self, id: &str) -> Result<Option<User>, IdentityError> {
        Ok(self.store.user(id).await?.map(|r| r.user))
    }

    /// Enables or disables an account; `false` when unknown.
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<bool, IdentityError> {
        let Some(mut r) = self.store.user(user_id).await? else { return Ok(false) };
        r.user.disabled = disabled;
        let found = self.store.update_user(&r.user).await?;
        tracing::info!(target: "audit", event = "user_updated", sub = user_id, disabled, "account state changed");
        Ok(found)
    }

    /// Deletes a user; `false` when unknown.
    pub async fn delete_user(&self, user_id: &str) -> Result<bool, IdentityError> {
        let found = self.store.delete_user(user_id).await?;
        tracing::info!(target: "audit", event = "user_deleted", sub = user_id, found, "user deleted");
        Ok(found)
    }

    /// Creates a group (name checked).
    pub async fn create_group(&self, group: Group) -> Result<(), IdentityError> {
        check_name("group", &group.name)?;
        self.store.insert_group(&group).await?;
        tracing::info!(target: "audit", event = "group_created", group = %group.name, "group created");
        Ok(())
    }

    /// Adds a user to a group.
    pub async fn add_member(&self, group: &str, user_id: &str) -> Result<(), IdentityError> {
        self.store.add_member(group, user_id).await?;
        tracing::info!(target: "audit", event = "group_member_added", group, sub = user_id, "member added");
        Ok(())
    }

    /// Creates a role (name checked).
    pub async fn create_role(&self, role: Role) -> Result<(), IdentityError> {
        check_name("role", &role.name)?;
        self.store.insert_role(&role).await?;
        tracing::info!(target: "audit", event = "role_created", role = %role.name, "role created");
        Ok(())
    }

    /// Grants `role` to a user or a group.
    pub async fn grant_role(&self, grantee: &Grantee, role: &str) -> Result<(), IdentityError> {
        self.store.grant(grantee, role).await?;
        tracing::info!(target: "audit", event = "role_granted", grantee = %grantee, role, "role granted");
        Ok(())
    }

    /// Takes `role` from a user or group; `false` when it was not granted.
    pub async fn revoke_role(&self, grantee: &Grantee, role: &str) -> Result<bool, IdentityError> {
        let found = self.store.revoke(grantee, role).await?;
        tracing::info!(target: "audit", event = "role_revoked", grantee = %grantee, role, found, "role revoked");
        Ok(found)
    }

    /// The roles of a user: its own and its groups'.
    pub async fn effective_roles(&self, user_id: &str) -> Result<Vec<String>, IdentityError> {
        Ok(self.store.effective_roles(user_id).await?)
    }

    /// Checks a username and password.
    ///
    /// Every refusal is [`LoginError::InvalidCredentials`] — unknown user, wrong password,
    /// disabled account or no password — and costs one argon2id verification (against a
    /// dummy hash when there is no stored one), so neither the answer nor its timing says
    /// whether the user exists. Refusals count against the username and `source`
    /// ([`LockoutPolicy`]); while either is locked the answer is
    /// [`LoginError::Locked`] without a password check. A success clears the username's
    /// counter and, when the stored hash uses old parameters, stores a new hash.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<LoggedIn, LoginError> {
        let now = self.clock.now();
        let name: String = username.to_lowercase().chars().take(MAX_LOGIN_NAME).collect();
        let keys =
            Keys { user: format!("user:{name}"), addr: source.map(|ip| format!("addr:{ip}")) };
        if let Some(retry_after) = self.locked(&keys, now).await? {
            tracing::warn!(target: "audit", event = "login_locked", source = ?source, retry_after_secs = retry_after.as_secs(), "login refused while locked");
            return Err(LoginError::Locked { retry_after });
        }
        let record = if username.chars().count() > MAX_LOGIN_NAME {
            None
        } else {
            self.store.user_by_name(&name).await?
        };
        let stored = record.as_ref().and_then(|r| r.password_hash.as_deref());
        let verified = self.hasher.verify(password, stored).await?;
        let refusal = match &record {
            None => Some("unknown_user"),
            Some(r) if r.password_hash.is_none() => Some("no_password"),
            Some(_) if !verified.matches => Some("bad_password"),
            Some(r) if r.user.disabled => Some("disabled"),
            Some(_) => None,
        };
        let sub = record.as_ref().map(|r| r.user.id.as_str());
        if let Some(reason) = refusal {
            self.count_failure(&keys, now).await?;
            tracing::warn!(target: "audit", event = "login_failed", reason, sub, source = ?source, "login refused");
            return Err(LoginError::InvalidCredentials);
        }
        let Some(record) = record else { return Err(LoginError::InvalidCredentials) };
        self.store.clear_failures(&keys.user).await?;
        let rehashed = verified.needs_rehash && self.rehash(&record.user.id, password).await;
        let roles = self.store.effective_roles(&record.user.id).await?;
        tracing::info!(target: "audit", event = "login_succeeded", sub = %record.user.id, source = ?source, rehashed, "login");
        Ok(LoggedIn { user: record.user, roles, rehashed })
    }

    async fn locked(&self, keys: &Keys, now: u64) -> Result<Option<Duration>, StoreError> {
        let mut wait = None;
        for (key, backoff) in keys.with(&self.lockout) {
            if let Some(f) = self.store.failures(key).await?
                && let Some(w) = backoff.locked_for(&f, now)
            {
                wait = wait.max(Some(w));
            }
        }
        Ok(wait)
    }

    async fn count_failure(&self, keys: &Keys, now: u64) -> Result<(), StoreError> {
        for (key, backoff) in keys.with(&self.lockout) {
            let reset = backoff.reset_after.as_secs();
            let f = self.store.record_failure(key, now, reset).await?;
            if let Some(w) = backoff.locked_for(&f, now) {
                let kind = if key.starts_with("user:") { "account" } else { "address" };
                tracing::warn!(target: "audit", event = "account_locked", kind, failures = f.count, lock_secs = w.as_secs(), "too many failed logins; locked");
            }
        }
        Ok(())
    }

    /// Re-hashes at the current parameters; a failure is logged and the login proceeds.
    async fn rehash(&self, user_id: &str, password: &str) -> bool {
        let result = match self.hasher.hash(password).await {
            Ok(h) => self.store.set_password_hash(user_id, &h).await.map_err(IdentityError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(sub = user_id, error = %e, "password rehash failed; keeping the old hash");
                false
            }
        }
    }
}

/// The failed-login counter keys of one attempt.
struct Keys {
    user: String,
    addr: Option<String>,
}

impl Keys {
    fn with<'a>(&'a self, p: &'a LockoutPolicy) -> impl Iterator<Item = (&'a str, &'a Backoff)> {
        let addr = self.addr.as_deref().zip(p.address.as_ref());
        std::iter::once((self.user.as_str(), &p.account)).chain(addr)
    }
}
