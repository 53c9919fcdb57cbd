//! [`Claims`]: the registered claims with strict types, plus the rest.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The claims of a token, with strict types for the registered ones.
///
/// Numeric dates are unsigned integers: a string, float or negative `exp`, `nbf` or
/// `iat` fails deserialisation (and so verification) instead of being coerced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience: one string or several.
    pub aud: Audience,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Token id, used for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Session id (the refresh-token family the token was minted from), used for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Space-separated scopes (RFC 8693 `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is (one of) the audience(s).
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

impl Claims {
    /// Claims for `sub` issued by `iss` to `aud`, valid until `exp`.
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        aud: impl Into<String>,
        exp: u64,
    ) -> Self {
        Self {
            iss: iss.into(),
            sub: sub.into(),
            aud: Audience::One(aud.into()),
            exp,
            nbf: None,
            iat: None,
            jti: None,
            sid: None,
            scope: None,
            extra: Map::new(),
        }
    }

    /// The granted scopes: `scope` split on spaces, plus the strings of a `permissions`
    /// array claim.
    pub fn scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .scope
            .as_deref()
            .unwrap_or("")
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect();
        if let Some(Value::Array(perms)) = self.extra.get("permissions") {
            out.extend(perms.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        out
    }

    /// The strings of the `roles` array claim.
    pub fn roles(&self) -> Vec<String> {
        match self.extra.get("roles") {
            Some(Value::Array(roles)) => {
                roles.iter().filter_map(Value::as_str).map(str::to_owned).collect()
            }
            _ => Vec::new(),
        }
    }
}
