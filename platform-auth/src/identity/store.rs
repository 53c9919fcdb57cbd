//! [`IdentityStore`]: where users, groups, roles, grants and failed-login counters live.

use async_trait::async_trait;

use super::lockout::Failures;
use super::model::{Grantee, Group, Role, User, UserRecord};
use crate::error::StoreError;

/// Storage of identities. Every backend passes the same conformance suite
/// (`tests/identity_store.rs`); the in-memory one is the reference.
///
/// Conventions: creating a record whose key exists is [`StoreError::Conflict`]; linking
/// (membership, grants) to a user, group or role that does not exist is
/// [`StoreError::NotFound`]; linking twice is a no-op; deleting a user, group or role
/// removes its memberships and grants. Lists are sorted by name (users by username).
#[async_trait]
pub trait IdentityStore: Send + Sync + std::fmt::Debug {
    /// Stores a new user (`Conflict` when the id or username is taken).
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// The user with `id`.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The user with `username` (already lowercased).
    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Every user.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces the attributes and the disabled flag of `user.id`; `false` when unknown.
    async fn update_user(&self, user: &User) -> Result<bool, StoreError>;
    /// Replaces the password hash; `false` when the user is unknown.
    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<bool, StoreError>;
    /// Deletes a user with its memberships and grants; `false` when unknown.
    async fn delete_user(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores a new group (`Conflict` when the name is taken).
    async fn insert_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Every group.
    async fn list_groups(&self) -> Result<Vec<Group>, StoreError>;
    /// Deletes a group with its memberships and grants; `false` when unknown.
    async fn delete_group(&self, name: &str) -> Result<bool, StoreError>;
    /// Adds `user_id` to `group`.
    async fn add_member(&self, group: &str, user_id: &str) -> Result<(), StoreError>;
    /// Removes `user_id` from `group`; `false` when it was not a member.
    async fn remove_member(&self, group: &str, user_id: &str) -> Result<bool, StoreError>;
    /// The groups of `user_id`.
    async fn groups_of(&self, user_id: &str) -> Result<Vec<String>, StoreError>;
    /// The user ids in `group`, sorted.
    async fn members(&self, group: &str) -> Result<Vec<String>, StoreError>;

    /// Stores a new role (`Conflict` when the name is taken).
    async fn insert_role(&self, role: &Role) -> Result<(), StoreError>;
    /// Every role.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Deletes a role with its grants; `false` when unknown.
    async fn delete_role(&self, name: &str) -> Result<bool, StoreError>;
    /// Grants `role` to `grantee`.
    async fn grant(&self, grantee: &Grantee, role: &str) -> Result<(), StoreError>;
    /// Takes `role` from `grantee`; `false` when it was not granted.
    async fn revoke(&self, grantee: &Grantee, role: &str) -> Result<bool, StoreError>;
    /// The roles granted to `grantee` directly.
    async fn roles_of(&self, grantee: &Grantee) -> Result<Vec<String>, StoreError>;
    /// The roles of `user_id`: its own and its groups', sorted and without duplicates.
    async fn effective_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// The failed-login counter of `key` (`user:<name>` or `addr:<ip>`).
    async fn failures(&self, key: &str) -> Result<Option<Failures>, StoreError>;
    /// Counts a failure of `key` at `now` and returns the new counter; a counter whose
    /// last failure is `reset_after_secs` or more before `now` starts again at 1.
    /// Atomic: concurrent failures are all counted.
    async fn record_failure(
        &self,
        key: &str,
        now: u64,
        reset_after_secs: u64,
    ) -> Result<Failures, StoreError>;
    /// Forgets the counter of `key`.
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
}
