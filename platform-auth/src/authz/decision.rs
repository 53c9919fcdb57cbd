//! [`Decision`]: allow or deny, and why.

use std::fmt;

/// The answer of an [`Authorizer`](super::Authorizer), with its explanation. `Display`
/// prints the explanation in one line, for audit events and debugging.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Allowed by a permission of one of the principal's roles.
    Allow(Grant),
    /// Denied (the default when nothing allows).
    Deny(Denial),
}

/// The permission that allowed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grant {
    /// The role holding the permission.
    pub role: String,
    /// The permission's name, or `#<n>` (1-based position in the role) without one.
    pub permission: String,
    /// Its action pattern.
    pub action: String,
    /// Its resource pattern.
    pub resource: String,
    /// The conditions that held (empty for an unconditional permission).
    pub conditions: Vec<String>,
}

/// Why a request was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// None of the principal's roles is in the policies (or it has none).
    NoKnownRole {
        /// The principal's roles.
        roles: Vec<String>,
    },
    /// The principal's roles have no permission whose action and resource patterns match.
    NoMatchingPermission {
        /// The principal's roles that are in the policies.
        roles: Vec<String>,
    },
    /// Permissions matched the action and resource, but a condition of each was false.
    ConditionFailed {
        /// Per matching permission: role, permission, and the first false condition.
        failed: Vec<FailedCondition>,
    },
    /// Another authorizer's reason.
    Other(String),
}

/// A permission that matched but whose condition was false.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedCondition {
    /// The role.
    pub role: String,
    /// The permission (name or `#<n>`).
    pub permission: String,
    /// The first condition that was false.
    pub condition: String,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow(g) => {
                write!(
                    f,
                    "allowed by role `{}` permission `{}` ({} on {})",
                    g.role, g.permission, g.action, g.resource
                )?;
                if !g.conditions.is_empty() {
                    write!(f, " where {}", g.conditions.join(" and "))?;
                }
                Ok(())
            }
            Self::Deny(Denial::NoKnownRole { roles }) => {
                write!(f, "denied: no policy for the principal's roles {roles:?}")
            }
            Self::Deny(Denial::NoMatchingPermission { roles }) => {
                write!(
                    f,
                    "denied: no permission of roles {roles:?} matches the action and resource"
                )
            }
            Self::Deny(Denial::ConditionFailed { failed }) => {
                f.write_str("denied: ")?;
                for (i, c) in failed.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(
                        f,
                        "{sep}role `{}` permission `{}` requires `{}`, which is false",
                        c.role, c.permission, c.condition
                    )?;
                }
                Ok(())
            }
            Self::Deny(Denial::Other(reason)) => write!(f, "denied: {reason}"),
        }
    }
}
