//! Reference services of the Platform SDK.
//!
//! Each module builds one service's router so that the binaries in `src/bin/` stay thin
//! and the services can be exercised in tests without opening sockets. [`platform`] is
//! the whole platform in one process (the `platform` binary).

pub mod control_plane;
pub mod demo_upstream;
pub mod gateway;
pub mod platform;
pub mod resilient_service;

/// The platform guide's examples (`docs/platform.md`), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/platform.md")]
pub struct PlatformGuideDoctests;
