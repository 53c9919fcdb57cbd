//! What an authorization question is about: [`AuthzRequest`] and [`Resource`].

use serde_json::{Map, Value};

use crate::principal::Principal;

/// The thing acted on: its path-like id (`orders/42`) and attributes (`owner`, `region`)
/// that conditions can read as `resource.<name>`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Resource {
    /// The resource path, matched against permission resource patterns.
    pub id: String,
    /// Attributes for conditions.
    pub attributes: Map<String, Value>,
}

impl Resource {
    /// A resource `id` without attributes.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), attributes: Map::new() }
    }

    /// Sets an attribute.
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// One authorization question: may `principal` do `action` on `resource`, given
/// `context`?
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AuthzRequest<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// What it wants to do (`orders:write`).
    pub action: &'a str,
    /// What it wants to do it to.
    pub resource: &'a Resource,
    /// Facts about the request (method, path, time, source), read as `context.<name>`.
    pub context: &'a Map<String, Value>,
}

impl<'a> AuthzRequest<'a> {
    /// A request with an empty context.
    pub fn new(principal: &'a Principal, action: &'a str, resource: &'a Resource) -> Self {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        Self { principal, action, resource, context: EMPTY.get_or_init(Map::new) }
    }

    /// Sets the context.
    pub fn context(mut self, context: &'a Map<String, Value>) -> Self {
        self.context = context;
        self
    }
}
