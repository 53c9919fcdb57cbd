//! [`Principal`]: who made a request, placed in request extensions by the
//! [`AuthenticateLayer`](crate::AuthenticateLayer).

use std::sync::Arc;

use crate::jwt::Claims;

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A bearer JWT in the `Authorization` header.
    Bearer,
    /// An API key in a header.
    ApiKey,
    /// A JWT in a session cookie.
    SessionCookie,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Principal {
    /// The subject (`sub` claim, or the owner of an API key).
    pub subject: String,
    /// How the credential was presented.
    pub kind: CredentialKind,
    /// Granted scopes / permissions (the `scope` claim split on spaces plus the
    /// `permissions` claim, or an API key's scopes).
    pub scopes: Vec<String>,
    /// Roles (the strings of the token's `roles` array claim), which authorization
    /// policies give permissions to.
    pub roles: Vec<String>,
    /// The verified token claims, for JWTs.
    pub claims: Option<Arc<Claims>>,
    /// The API key's id, for API keys.
    pub key_id: Option<String>,
}

impl Principal {
    /// A principal with `subject`, `kind` and `scopes`, no claims and no key id.
    pub fn new(subject: impl Into<String>, kind: CredentialKind, scopes: Vec<String>) -> Self {
        Self {
            subject: subject.into(),
            kind,
            scopes,
            roles: Vec::new(),
            claims: None,
            key_id: None,
        }
    }

    /// Sets the roles.
    pub fn with_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Whether `role` was granted (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether `scope` was granted (exact match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub(crate) fn from_claims(claims: Arc<Claims>, kind: CredentialKind) -> Self {
        let scopes = claims.scopes();
        let roles = claims.roles();
        Self {
            subject: claims.sub.clone(),
            kind,
            scopes,
            roles,
            claims: Some(claims),
            key_id: None,
        }
    }
}
