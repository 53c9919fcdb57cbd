//! [`MemoryIdentityStore`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::lockout::Failures;
use super::model::{Grantee, Group, Role, User, UserRecord};
use super::store::IdentityStore;
use crate::error::StoreError;

#[derive(Debug, Default)]
struct Tables {
    users: HashMap<String, UserRecord>,
    /// username → id
    names: HashMap<String, String>,
    groups: BTreeMap<String, Group>,
    /// (group, user id)
    members: BTreeSet<(String, String)>,
    roles: BTreeMap<String, Role>,
    grants: BTreeSet<(Grantee, String)>,
    failures: HashMap<String, Failures>,
}

impl Tables {
    fn grantee_exists(&self, g: &Grantee) -> bool {
        match g {
            Grantee::User(id) => self.users.contains_key(id),
            Grantee::Group(name) => self.groups.contains_key(name),
        }
    }
}

/// In-memory [`IdentityStore`]: one process, the reference backend.
#[derive(Debug, Default, Clone)]
pub struct MemoryIdentityStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryIdentityStore {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_found(kind: &str, id: &str) -> StoreError {
    StoreError::NotFound(format!("{kind} `{id}`"))
}

#[async_trait]
impl IdentityStore for MemoryIdentityStore {
    async fn insert_user(&self, r: &UserRecord) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.names.contains_key(&r.user.username) || t.users.contains_key(&r.user.id) {
            return Err(StoreError::Conflict(format!("user `{}`", r.user.username)));
        }
        t.names.insert(r.user.username.clone(), r.user.id.clone());
        t.users.insert(r.user.id.clone(), r.clone());
        Ok(())
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let t = self.lock();
        Ok(t.names.get(username).and_then(|id| t.users.get(id)).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut out: Vec<User> = self.lock().users.values().map(|r| r.user.clone()).collect();
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(out)
    }

    async fn update_user(&self, user: &User) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(r) = t.users.get_mut(&user.id) else { return Ok(false) };
        r.user.attributes = user.attributes.clone();
        r.user.disabled = user.disabled;
        Ok(true)
    }

    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let mut t = self.lock();
        Ok(t.users.get_mut(id).map(|r| r.password_hash = Some(hash.to_owned())).is_some())
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(r) = t.users.remove(id) else { return Ok(false) };
        t.names.remove(&r.user.username);
        t.members.retain(|(_, u)| u != id);
        t.grants.retain(|(g, _)| *g != Grantee::User(id.to_owned()));
        Ok(true)
    }

    async fn insert_group(&self, group: &Group) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.groups.contains_key(&group.name) {
            return Err(StoreError::Conflict(format!("group `{}`", group.name)));
        }
        t.groups.insert(group.name.clone(), group.clone());
        Ok(())
    }

    async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        Ok(self.lock().groups.values().cloned().collect())
    }

    async fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        let mut t = self.lock();
        if t.groups.remove(name).is_none() {
            return Ok(false);
        }
        t.members.retain(|(g, _)| g != name);
        t.grants.retain(|(g, _)| *g != Grantee::Group(name.to_owned()));
        Ok(true)
    }

    async fn add_member(&self, group: &str, user_id: &str) -> Result<(), StoreError> {
        let mut t = self.lock();
        if !t.groups.contains_key(group) {
            return Err(not_found("group", group));
        }
        if !t.users.contains_key(user_id) {
            return Err(not_found("user", user_id));
        }
        t.members.insert((group.to_owned(), user_id.to_owned()));
        Ok(())
    }

    async fn remove_member(&self, group: &str, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().members.remove(&(group.to_owned(), user_id.to_owned())))
    }

    async fn groups_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let t = self.lock();
        Ok(t.members.iter().filter(|(_, u)| u == user_id).map(|(g, _)| g.clone()).collect())
    }

    async fn members(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let t = self.lock();
        Ok(t.members.iter().filter(|(g, _)| g == group).map(|(_, u)| u.clone()).collect())
    }

    async fn insert_role(&self, role: &Role) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.roles.contains_key(&role.name) {
            return Err(StoreError::Conflict(format!("role `{}`", role.name)));
        }
        t.roles.insert(role.name.clone(), role.clone());
        Ok(())
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        Ok(self.lock().roles.values().cloned().collect())
    }

    async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        let mut t = self.lock();
        if t.roles.remove(name).is_none() {
            return Ok(false);
        }
        t.grants.retain(|(_, r)| r != name);
        Ok(true)
    }

    async fn grant(&self, grantee: &Grantee, role: &str) -> Result<(), StoreError> {
        let mut t = self.lock();
        if !t.roles.contains_key(role) {
            return Err(not_found("role", role));
        }
        if !t.grantee_exists(grantee) {
            return Err(StoreError::NotFound(grantee.to_string()));
        }
        t.grants.insert((grantee.clone(), role.to_owned()));
        Ok(())
    }

    async fn revoke(&self, grantee: &Grantee, role: &str) -> Result<bool, StoreError> {
        Ok(self.lock().grants.remove(&(grantee.clone(), role.to_owned())))
    }

    async fn roles_of(&self, grantee: &Grantee) -> Result<Vec<String>, StoreError> {
        let t = self.lock();
        let roles: BTreeSet<&String> =
            t.grants.iter().filter(|(g, _)| g == grantee).map(|(_, r)| r).collect();
        Ok(roles.into_iter().cloned().collect())
    }

    async fn effective_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let t = self.lock();
        let groups: BTreeSet<&String> =
            t.members.iter().filter(|(_, u)| u == user_id).map(|(g, _)| g).collect();
        let roles: BTreeSet<&String> = t
            .grants
            .iter()
            .filter(|(g, _)| match g {
                Grantee::User(id) => id == user_id,
                Grantee::Group(name) => groups.contains(name),
            })
            .map(|(_, r)| r)
            .collect();
        Ok(roles.into_iter().cloned().collect())
    }

    async fn failures(&self, key: &str) -> Result<Option<Failures>, StoreError> {
        Ok(self.lock().failures.get(key).copied())
    }

    async fn record_failure(
        &self,
        key: &str,
        now: u64,
        reset_after_secs: u64,
    ) -> Result<Failures, StoreError> {
        let mut t = self.lock();
        let f = t.failures.entry(key.to_owned()).or_insert(Failures::new(0, now));
        let fresh = now.saturating_sub(f.last_at) >= reset_after_secs;
        *f = Failures::new(if fresh { 1 } else { f.count.saturating_add(1) }, now);
        Ok(*f)
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.lock().failures.remove(key);
        Ok(())
    }
}
