//! The Platform SDK API gateway.
//!
//! This crate will hold request routing (path, host, method, header predicates), a
//! reverse proxy that is correct by default (hop-by-hop headers, forwarding headers, path
//! normalization, timeouts), load balancing over registry endpoints, hot reload, and
//! canary rollouts with automatic rollback. Its modules land with the gateway issues;
//! until then the crate is an empty, publishable member of the workspace.
#![cfg_attr(docsrs, feature(doc_cfg))]
