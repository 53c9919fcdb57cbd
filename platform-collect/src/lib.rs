//! Data collection for the Platform SDK.
//!
//! This crate will hold the ingestion APIs (HTTP and messaging), schema validation with
//! errors that name the record and field, preprocessing, durable storage through
//! platform-core, and retrieval. Its modules land with the collection issue; until then
//! the crate is an empty, publishable member of the workspace.
#![cfg_attr(docsrs, feature(doc_cfg))]
