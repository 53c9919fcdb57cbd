//! Identity: users, groups and roles, argon2id passwords and brute-force lockout.
//!
//! * Users belong to groups; roles are granted to users and to groups, and a user's
//!   effective roles are its own plus its groups' ([`IdentityStore::effective_roles`]).
//!   Authorization policies give roles their permissions (`authz`).
//! * Passwords are hashed with argon2id at the OWASP Password Storage Cheat Sheet
//!   parameters (m=19 MiB, t=2, p=1) on tokio's blocking pool behind a concurrency limit
//!   ([`PasswordHasher`]); a login with a hash of older parameters stores a new one.
//! * [`Identity::login`] answers the same error and does the same work whether or not the
//!   user exists, and counts failures per username and source address with exponential
//!   lockout ([`LockoutPolicy`]).
//! * Stores: [`MemoryIdentityStore`], and with the `sql` feature
//!   `sql::SqlIdentityStore` (SQLite, PostgreSQL).
//!
//! ```
//! use platform_auth::identity::{
//!     Grantee, Group, Identity, LoginError, MemoryIdentityStore, NewUser, PasswordConfig,
//!     PasswordHasher, Role,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = Identity::new(MemoryIdentityStore::default());
//! # // Cheap costs keep the doctest fast; the default is the OWASP parameters.
//! # let cheap = PasswordConfig::default().costs(64, 1, 1);
//! # let identity = identity.with_hasher(PasswordHasher::new(cheap)?);
//! let alice = identity.create_user(NewUser::new("Alice").password("correct horse battery")).await?;
//! identity.create_group(Group::new("ops", "on-call engineers")).await?;
//! identity.create_role(Role::new("orders-admin", "manage orders")).await?;
//! identity.add_member("ops", &alice.id).await?;
//! identity.grant_role(&Grantee::Group("ops".into()), "orders-admin").await?;
//!
//! let login = identity.login("alice", "correct horse battery", None).await?;
//! assert_eq!(login.user.id, alice.id);
//! assert_eq!(login.roles, ["orders-admin"]);
//! // A wrong password and an unknown user are indistinguishable.
//! assert!(matches!(identity.login("alice", "wrong", None).await, Err(LoginError::InvalidCredentials)));
//! assert!(matches!(identity.login("mallory", "wrong", None).await, Err(LoginError::InvalidCredentials)));
//! # Ok(()) }
//! ```

mod error;
mod lockout;
mod memory;
mod model;
mod password;
mod service;
mod store;

pub use error::{IdentityError, LoginError};
pub use lockout::{Backoff, Failures, LockoutPolicy};
pub use memory::MemoryIdentityStore;
#[cfg(feature = "server")]
pub(crate) use model::check_name;
pub use model::{Grantee, Group, MAX_NAME_LEN, NewUser, Role, User, UserRecord};
pub use password::{
    OWASP_ITERATIONS, OWASP_MEMORY_KIB, OWASP_PARALLELISM, PasswordConfig, PasswordHasher, Verified,
};
pub use service::{Identity, LoggedIn};
pub use store::IdentityStore;
