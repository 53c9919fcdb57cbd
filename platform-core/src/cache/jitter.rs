//! TTL jitter: spreads the expiry of keys written together.

use std::time::Duration;

/// `ttl` scaled by `1 + fraction × (2u − 1)`, with `u` in `[0, 1)`: a TTL in
/// `[ttl × (1 − fraction), ttl × (1 + fraction)]`, never zero.
pub(crate) fn jittered(ttl: Duration, fraction: f64, u: f64) -> Duration {
    if fraction <= 0.0 {
        return ttl;
    }
    let factor = 1.0 + fraction * (2.0 * u.clamp(0.0, 1.0) - 1.0);
    ttl.mul_f64(factor).max(Duration::from_millis(1))
}

/// [`jittered`] with a fresh random `u`.
pub(crate) fn jitter(ttl: Duration, fraction: f64) -> Duration {
    if fraction <= 0.0 { ttl } else { jittered(ttl, fraction, fastrand::f64()) }
}
