use std::fmt::{self, Write as _};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::resilience::key::KeyExtractor;

/// A key a keyed rate limiter can name in text: to match per-key
/// [`overrides`](super::RateLimitConfig::overrides) in config, to build Redis keys and to
/// report rejections.
///
/// Implemented for the keys of the built-in extractors (`Arc<str>`, `IpAddr`) and for
/// strings and integers; implement it for your own key types.
///
/// ```
/// use platform_core::resilience::rate_limit::RateLimitKey;
/// use std::net::IpAddr;
///
/// let ip = IpAddr::parse_config_key("10.0.0.1").unwrap();
/// let mut text = String::new();
/// ip.write_key(&mut text);
/// assert_eq!(text, "10.0.0.1");
/// ```
pub trait RateLimitKey: Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static {
    /// The key written as `text` in a config file, or `None` when `text` is not a valid key
    /// (the override is then reported as a configuration error).
    fn parse_config_key(text: &str) -> Option<Self>;

    /// Appends the key's text form (the same form [`parse_config_key`] reads) to `out`.
    ///
    /// [`parse_config_key`]: RateLimitKey::parse_config_key
    fn write_key(&self, out: &mut String);
}

impl RateLimitKey for Arc<str> {
    fn parse_config_key(text: &str) -> Option<Self> {
        Some(Arc::from(text))
    }
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl RateLimitKey for String {
    fn parse_config_key(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl RateLimitKey for () {
    fn parse_config_key(text: &str) -> Option<Self> {
        text.is_empty().then_some(())
    }
    fn write_key(&self, _out: &mut String) {}
}

macro_rules! display_keys {
    ($($t:ty),*) => {$(
        impl RateLimitKey for $t {
            fn parse_config_key(text: &str) -> Option<Self> {
                text.parse().ok()
            }
            fn write_key(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

display_keys!(IpAddr, Ipv4Addr, Ipv6Addr, u16, u32, u64, i32, i64, usize);

/// The extractor of a global (unkeyed) limiter: every request shares one bucket.
#[derive(Debug, Clone, Copy, Default)]
pub struct Global;

impl<Req> KeyExtractor<Req> for Global {
    type Key = ();

    #[inline]
    fn extract(&self, _req: &Req) -> Option<()> {
        None
    }
}
