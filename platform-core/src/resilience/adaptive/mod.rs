//! Adaptive concurrency (in progress).
