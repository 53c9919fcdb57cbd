//! Authentication and authorization for Platform SDK services.
//!
//! This crate will hold token issuing and verification (JWT with key rotation and JWKS),
//! refresh-token families with reuse detection, API keys, identity storage with argon2id
//! password hashing, an `Authorizer` trait with RBAC and attribute conditions, and the
//! `AuthenticateLayer` / `AuthorizeLayer` tower layers. Its modules land with the auth
//! issue; until then the crate is an empty, publishable member of the workspace.
#![cfg_attr(docsrs, feature(doc_cfg))]
