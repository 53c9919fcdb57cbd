//! Tower layers: [`AuthenticateLayer`] and [`AuthorizeLayer`].
//!
//! Put `AuthenticateLayer` outside (before) `AuthorizeLayer`: `ServiceBuilder` runs
//! layers top to bottom, and in axum the last `.layer(...)` call is the outermost, so add
//! per-route `AuthorizeLayer`s with `route_layer` and the `AuthenticateLayer` once on
//! the router.
//!
//! The layers work on `http::Request`/`http::Response` with any response body that
//! implements `From<Bytes>` (axum's `Body`, `http_body_util::Full`), so they fit an axum
//! router, a hyper service or the gateway alike.

mod authenticate;
mod authenticator;
mod authorize;
pub mod future;
mod response;

pub use authenticate::{Authenticate, AuthenticateLayer};
pub use authenticator::{Authenticator, DEFAULT_API_KEY_HEADER};
pub use authorize::{AccessRequest, Authorize, AuthorizeLayer};
