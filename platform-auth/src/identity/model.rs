//! Users, groups, roles and who roles are granted to.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::IdentityError;

/// A user account (without its password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Stable random id; the `sub` of the user's tokens.
    pub id: String,
    /// The login name, lowercased (unique).
    pub username: String,
    /// Free-form attributes (department, tenant, …) that authorization conditions can
    /// read as `principal.<name>` once they are in the user's tokens.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// Disabled accounts cannot log in.
    #[serde(default)]
    pub disabled: bool,
    /// Creation time (Unix seconds).
    pub created_at: u64,
}

impl User {
    /// An enabled user without attributes.
    pub fn new(id: impl Into<String>, username: impl Into<String>, created_at: u64) -> Self {
        Self {
            id: id.into(),
            username: username.into(),
            attributes: Map::new(),
            disabled: false,
            created_at,
        }
    }
}

/// A stored user: the account and its argon2id PHC hash.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct UserRecord {
    /// The account.
    pub user: User,
    /// The password hash (PHC string); `None` for accounts that cannot log in with a
    /// password (service accounts).
    pub password_hash: Option<String>,
}

impl UserRecord {
    /// A record of `user` with `password_hash`.
    pub fn new(user: User, password_hash: Option<String>) -> Self {
        Self { user, password_hash }
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What to create with [`Identity::create_user`](super::Identity::create_user).
#[derive(Clone)]
pub struct NewUser {
    pub(crate) username: String,
    pub(crate) password: Option<String>,
    pub(crate) attributes: Map<String, Value>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser").field("username", &self.username).finish_non_exhaustive()
    }
}

impl NewUser {
    /// A user `username` (stored lowercased) without a password.
    pub fn new(username: impl Into<String>) -> Self {
        Self { username: username.into(), password: None, attributes: Map::new() }
    }

    /// Sets the password (checked against the length policy, then hashed).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Sets an attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// A group of users; roles granted to a group apply to its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Group {
    /// Unique name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
}

impl Group {
    /// A group `name` with `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self { name: name.into(), description: description.into() }
    }
}

/// A role: a name that authorization policies give permissions to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// Unique name.
    pub name: String,
    /// What it allows, for people.
    #[serde(default)]
    pub description: String,
}

impl Role {
    /// A role `name` with `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self { name: name.into(), description: description.into() }
    }
}

/// Who a role is granted to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Grantee {
    /// A user, by id.
    User(String),
    /// Every member of a group, by name.
    Group(String),
}

impl Grantee {
    /// `user` or `group`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Group(_) => "group",
        }
    }

    /// The user id or group name.
    pub fn id(&self) -> &str {
        match self {
            Self::User(id) | Self::Group(id) => id,
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind(), self.id())
    }
}

/// Longest username, group or role name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a username, group or role name: 1–64 characters from letters, digits and
/// `. _ - @ :`. Returns it lowercased for usernames.
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<String, IdentityError> {
    let bad = |problem| IdentityError::InvalidName {
        field,
        value: value.chars().take(MAX_NAME_LEN).collect(),
        problem,
    };
    if value.is_empty() || value.chars().count() > MAX_NAME_LEN {
        return Err(bad("must be 1 to 64 characters long"));
    }
    if !value.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | ':')) {
        return Err(bad("may contain only letters, digits and . _ - @ :"));
    }
    Ok(if field == "username" { value.to_lowercase() } else { value.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_usernames_lowercased() {
        assert_eq!(check_name("username", "Alice@Example.com").expect("ok"), "alice@example.com");
        assert_eq!(check_name("role", "Orders:Admin").expect("ok"), "Orders:Admin");
        for bad in ["", "a b", "x/y", "semi;colon", &"x".repeat(65)] {
            let err = check_name("group", bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid group"), "{err}");
        }
    }

    #[test]
    fn debug_output_redacts_the_hash() {
        let r = UserRecord::new(User::new("u1", "a", 0), Some("$argon2id$secret".into()));
        assert!(!format!("{r:?}").contains("secret"));
        let n = NewUser::new("a").password("hunter2hunter2");
        assert!(!format!("{n:?}").contains("hunter2"));
    }
}
