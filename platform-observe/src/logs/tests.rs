//! Unit tests of the logs module.
