//! Observability for Platform SDK services.
//!
//! This crate will hold one-call telemetry setup (tracing, OpenTelemetry export, a
//! Prometheus endpoint), a RED metrics tower layer, W3C trace-context propagation layers,
//! a health-check registry with liveness and readiness endpoints, resource-pressure
//! sampling, and the audit trail. Its modules land with the observability issue; until
//! then the crate is an empty, publishable member of the workspace.
#![cfg_attr(docsrs, feature(doc_cfg))]
