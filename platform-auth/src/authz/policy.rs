//! [`PolicySet`]: a compiled [`PolicyDocument`] that decides requests.

use std::collections::HashMap;

use super::condition::{Attrs, Condition};
use super::decision::{Decision, Denial, FailedCondition, Grant};
use super::document::{PermissionSpec, PolicyDocument};
use super::error::PolicyError;
use super::pattern::Pattern;
use super::request::AuthzRequest;

/// A validated, compiled policy document: patterns and conditions parsed once, then
/// evaluated per request without allocation beyond the explanation.
///
/// Decisions: for each of the principal's roles (in its order) and each of the role's
/// permissions (in file order), a permission whose action and resource patterns match and
/// whose conditions all hold allows. Nothing allowing means deny — the default.
#[derive(Debug, Clone)]
pub struct PolicySet {
    origin: String,
    version: Option<u64>,
    document: PolicyDocument,
    roles: HashMap<String, Vec<Compiled>>,
}

#[derive(Debug, Clone)]
struct Compiled {
    label: String,
    action: Pattern,
    resource: Pattern,
    when: Vec<Condition>,
}

impl PolicySet {
    /// Policies that deny everything.
    pub fn empty() -> Self {
        Self {
            origin: "<empty>".to_owned(),
            version: None,
            document: PolicyDocument::default(),
            roles: HashMap::new(),
        }
    }

    /// Validates and compiles `document`; errors name `origin`, the role, the permission
    /// and the field.
    pub fn compile(
        document: PolicyDocument,
        origin: impl Into<String>,
    ) -> Result<Self, PolicyError> {
        let origin = origin.into();
        let mut roles = HashMap::new();
        for (role, policy) in &document.roles {
            let mut compiled = Vec::with_capacity(policy.permissions.len());
            for (i, spec) in policy.permissions.iter().enumerate() {
                compiled.push(compile_one(&origin, role, i, spec)?);
            }
            if role.trim().is_empty() || role.contains(char::is_whitespace) {
                return Err(invalid(
                    &origin,
                    role,
                    "-",
                    "role",
                    "a role name must be non-empty without spaces",
                ));
            }
            roles.insert(role.clone(), compiled);
        }
        Ok(Self { origin, version: None, document, roles })
    }

    /// Parses and compiles JSON.
    pub fn from_json(text: &str, origin: impl Into<String>) -> Result<Self, PolicyError> {
        let origin = origin.into();
        Self::compile(PolicyDocument::from_json(text, &origin)?, origin)
    }

    /// Parses and compiles TOML.
    #[cfg(feature = "policy-files")]
    pub fn from_toml(text: &str, origin: impl Into<String>) -> Result<Self, PolicyError> {
        let origin = origin.into();
        Self::compile(PolicyDocument::from_toml(text, &origin)?, origin)
    }

    /// Reads a `.toml` or `.json` policy file.
    #[cfg(feature = "policy-files")]
    pub fn load_file(path: impl AsRef<std::path::Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let io = |message: String| PolicyError::Io { origin: origin.clone(), message };
        let text = std::fs::read_to_string(path).map_err(|e| io(format!("cannot read: {e}")))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Self::from_toml(&text, origin),
            Some("json") => Self::from_json(&text, origin),
            _ => Err(io("unknown policy format: name the file *.toml or *.json".to_owned())),
        }
    }

    /// Where the policies came from (file path, `database policy "…"`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The store version, for policies loaded from a [`PolicyStore`](super::PolicyStore).
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Marks the set as version `version` of a stored document.
    pub(crate) fn with_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self.origin = format!("{} v{version}", self.origin);
        self
    }

    /// The document the set was compiled from.
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// Decides `request`.
    pub fn decide(&self, request: &AuthzRequest<'_>) -> Decision {
        let attrs = Attrs {
            principal: request.principal,
            resource: request.resource,
            context: request.context,
        };
        let mut known = Vec::new();
        let mut failed = Vec::new();
        for (i, role) in request.principal.roles.iter().enumerate() {
            if request.principal.roles[..i].contains(role) {
                continue;
            }
            let Some(perms) = self.roles.get(role) else { continue };
            known.push(role.clone());
            for p in perms {
                if !p.action.matches(request.action) || !p.resource.matches(&request.resource.id) {
                    continue;
                }
                match p.when.iter().find(|c| !c.holds(&attrs)) {
                    None => {
                        return Decision::Allow(Grant {
                            role: role.clone(),
                            permission: p.label.clone(),
                            action: p.action.to_string(),
                            resource: p.resource.to_string(),
                            conditions: p.when.iter().map(|c| c.to_string()).collect(),
                        });
                    }
                    Some(c) => failed.push(FailedCondition {
                        role: role.clone(),
                        permission: p.label.clone(),
                        condition: c.to_string(),
                    }),
                }
            }
        }
        Decision::Deny(if !failed.is_empty() {
            Denial::ConditionFailed { failed }
        } else if known.is_empty() {
            Denial::NoKnownRole { roles: request.principal.roles.clone() }
        } else {
            Denial::NoMatchingPermission { roles: known }
        })
    }
}

fn compile_one(
    origin: &str,
    role: &str,
    index: usize,
    spec: &PermissionSpec,
) -> Result<Compiled, PolicyError> {
    let label = spec.name.clone().unwrap_or_else(|| format!("#{}", index + 1));
    let err = |field: &str, problem: String| invalid(origin, role, &label, field, problem);
    if spec.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(err("name", "must not be empty (leave it out instead)".to_owned()));
    }
    let action = Pattern::action(&spec.action).map_err(|e| err("action", e.to_string()))?;
    let resource = Pattern::resource(&spec.resource).map_err(|e| err("resource", e.to_string()))?;
    let when = spec
        .when
        .iter()
        .enumerate()
        .map(|(i, c)| Condition::parse(c).map_err(|e| err(&format!("when[{i}]"), e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(Compiled { label, action, resource, when })
}

fn invalid(
    origin: &str,
    role: &str,
    permission: &str,
    field: &str,
    problem: impl Into<String>,
) -> PolicyError {
    PolicyError::Invalid {
        origin: origin.to_owned(),
        role: role.to_owned(),
        permission: permission.to_owned(),
        field: field.to_owned(),
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests;
