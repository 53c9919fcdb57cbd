//! The Platform SDK processing engine.
//!
//! This crate will hold pipelines of processing stages, transformation rules, time and
//! count windows, and the data flow between stages over platform-core messaging. Its
//! modules land with the processing issue; until then the crate is an empty, publishable
//! member of the workspace.
#![cfg_attr(docsrs, feature(doc_cfg))]
