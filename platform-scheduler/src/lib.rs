//! The Platform SDK scheduler.
//!
//! This crate will hold task registration, time- and event-based scheduling with
//! distributed coordination through platform-core, and a query interface over task runs.
//! Its modules land with the scheduler issue; until then the crate is an empty,
//! publishable member of the workspace.
#![cfg_attr(docsrs, feature(doc_cfg))]
