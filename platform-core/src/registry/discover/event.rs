//! Events of the discovery adapter.

/// A routing state change of a [`RegistryDiscover`](super::RegistryDiscover), also logged
/// as a `tracing` event (target `platform::registry::discover`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoverEvent {
    /// More than the panic threshold of the matching instances are out of rotation, so
    /// the adapter now routes to every matching instance, healthy or not.
    PanicEntered {
        /// The discovered service.
        service: String,
        /// Instances considered (after filters and zone choice).
        candidates: usize,
        /// How many of them are draining, unhealthy or ejected.
        out: usize,
    },
    /// Enough instances are back that the adapter routes to healthy ones only again.
    PanicExited {
        /// The discovered service.
        service: String,
        /// Instances considered.
        candidates: usize,
        /// How many of them are out of rotation.
        out: usize,
    },
    /// No instance matches the filters: the balancer has no endpoint and requests wait
    /// in `poll_ready` until one appears.
    NoEndpoints {
        /// The discovered service.
        service: String,
    },
}
