//! [`PolicyDocument`]: policies as data (TOML or JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::PolicyError;

/// A policy document: roles and their permissions, as written in a file or stored in the
/// database.
///
/// ```toml
/// [roles.viewer]
/// description = "read orders"
/// permissions = [{ action = "orders:read", resource = "orders/**" }]
///
/// [roles.editor]
/// permissions = [
///   { name = "edit-own", action = "orders:write", resource = "orders/*",
///     when = ["resource.owner == principal.id"] },
/// ]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PolicyDocument {
    /// Role name → its permissions.
    #[serde(default)]
    pub roles: BTreeMap<String, RolePolicy>,
}

/// The permissions of one role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RolePolicy {
    /// What the role is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What it allows; any one allowing is enough.
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
}

/// One permission: an action pattern, a resource pattern and conditions that must all
/// hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PermissionSpec {
    /// A name for explanations and errors (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Action pattern (`orders:read`, `orders:*`; `**` for every action — `*` matches one
    /// `:`-segment only).
    pub action: String,
    /// Resource pattern (`orders/*`, `orders/**`); default `**` (everything).
    #[serde(default = "everything")]
    pub resource: String,
    /// Conditions (see [`Condition`](super::Condition)); all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
}

fn everything() -> String {
    "**".to_owned()
}

impl PolicyDocument {
    /// An empty document (denies everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a role.
    pub fn role(mut self, name: impl Into<String>, role: RolePolicy) -> Self {
        self.roles.insert(name.into(), role);
        self
    }

    /// Parses JSON; errors name `origin` and the path of the offending field.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| syntax(origin, &e))
    }

    /// Parses TOML; errors name `origin` and the path of the offending field.
    #[cfg(feature = "policy-files")]
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let de = toml::Deserializer::parse(text).map_err(|e| PolicyError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| syntax(origin, &e))
    }

    /// The document as JSON (how the database stores it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn syntax<E: std::fmt::Display>(origin: &str, e: &serde_path_to_error::Error<E>) -> PolicyError {
    let path = e.path().to_string();
    let inner = e.inner().to_string();
    let message = if path == "." {
        inner.trim_end().to_owned()
    } else {
        format!("at `{path}`: {}", inner.trim_end())
    };
    PolicyError::Syntax { origin: origin.to_owned(), message }
}

impl RolePolicy {
    /// A role described by `description`, without permissions.
    pub fn new(description: impl Into<String>) -> Self {
        Self { description: description.into(), permissions: Vec::new() }
    }

    /// Adds a permission.
    pub fn permission(mut self, p: PermissionSpec) -> Self {
        self.permissions.push(p);
        self
    }
}

impl PermissionSpec {
    /// Allows `action` on `resource` (patterns).
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self { name: None, action: action.into(), resource: resource.into(), when: Vec::new() }
    }

    /// Names the permission.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a condition.
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.when.push(condition.into());
        self
    }
}
