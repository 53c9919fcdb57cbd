//! Authorization: the [`Authorizer`] trait and a policy engine — roles → permissions on
//! resource patterns, with attribute conditions — whose policies are data (a TOML/JSON
//! file or a database document) and reload at run time. Every decision carries an
//! explanation; nothing allowing means deny.
//!
//! * A [`PolicyDocument`] maps role names to [`PermissionSpec`]s: an action pattern
//!   (`orders:write`), a resource [`Pattern`] (`orders/*`) and [`Condition`]s over
//!   principal, resource and context attributes (`resource.owner == principal.id`).
//! * [`PolicySet`] is a validated, compiled document; errors name the origin (file),
//!   role, permission and field.
//! * [`PolicyAuthorizer`] swaps policy sets atomically: from a watched file (feature
//!   `policy-files`) or a polled [`PolicyStore`] ([`MemoryPolicyStore`]; with `sql`,
//!   `sql::SqlPolicyStore`).
//! * The [`AuthorizeLayer`](crate::AuthorizeLayer) asks an authorizer per route with
//!   [`AuthorizeLayer::permission`](crate::AuthorizeLayer::permission); handlers that
//!   load the resource first (to read its owner) call [`Authorizer::authorize`] directly.
//!
//! Principals get roles from the `roles` claim of their token (the token server puts the
//! user's effective roles there).
//!
//! ```
//! use platform_auth::authz::{Authorizer, AuthzRequest, PolicySet, Resource};
//! use platform_auth::{CredentialKind, Principal};
//!
//! let policies = PolicySet::from_json(r#"{ "roles": {
//!     "viewer": { "permissions": [{ "action": "orders:read", "resource": "orders/**" }] },
//!     "editor": { "permissions": [{ "name": "edit-own", "action": "orders:write",
//!                 "resource": "orders/*", "when": ["resource.owner == principal.id"] }] }
//! }}"#, "inline")?;
//!
//! let alice = Principal::new("alice", CredentialKind::Bearer, vec![]).with_roles(["editor"]);
//! let own = Resource::new("orders/42").attr("owner", "alice");
//! let other = Resource::new("orders/43").attr("owner", "bob");
//!
//! let yes = policies.authorize(&AuthzRequest::new(&alice, "orders:write", &own));
//! assert!(yes.is_allowed());
//! assert_eq!(yes.to_string(),
//!     "allowed by role `editor` permission `edit-own` (orders:write on orders/*) where resource.owner == principal.id");
//!
//! let no = policies.authorize(&AuthzRequest::new(&alice, "orders:write", &other));
//! assert!(!no.is_allowed());
//! assert_eq!(no.to_string(),
//!     "denied: role `editor` permission `edit-own` requires `resource.owner == principal.id`, which is false");
//! # Ok::<(), platform_auth::authz::PolicyError>(())
//! ```

mod authorizer;
mod condition;
mod decision;
mod document;
mod error;
mod pattern;
mod policy;
mod request;
mod store;

pub use authorizer::{Authorizer, PolicyAuthorizer, PolicyWatch};
pub use condition::{Condition, ConditionError};
pub use decision::{Decision, Denial, FailedCondition, Grant};
pub use document::{PermissionSpec, PolicyDocument, RolePolicy};
pub use error::PolicyError;
pub use pattern::{Pattern, PatternError};
pub use policy::PolicySet;
pub use request::{AuthzRequest, Resource};
pub use store::{MemoryPolicyStore, PolicyStore, StoredPolicy};
