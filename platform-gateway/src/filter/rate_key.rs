//! What a route's rate limit counts by.

use std::sync::Arc;

use http::{HeaderName, Request};
use platform_core::resilience::key::KeyExtractor;
use serde::{Deserialize, Serialize};

use crate::proxy::ClientInfo;

/// The key of a route's rate limit: one bucket for the route, one per client address
/// (derived through trusted proxies, never a forgeable header), or one per value of a
/// header such as an API key. Requests without a key share the route's bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKey {
    /// One bucket for every request of the route.
    #[default]
    Route,
    /// One bucket per client address.
    ClientAddress,
    /// One bucket per value of this header.
    #[serde(with = "header_name")]
    Header(HeaderName),
}

mod header_name {
    use http::HeaderName;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(name: &HeaderName, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(name.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HeaderName, D::Error> {
        let s = String::deserialize(d)?;
        HeaderName::from_bytes(s.as_bytes())
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a valid header name")))
    }
}

impl<B> KeyExtractor<Request<B>> for RateKey {
    type Key = Arc<str>;

    fn extract(&self, req: &Request<B>) -> Option<Arc<str>> {
        match self {
            Self::Route => None,
            Self::ClientAddress => {
                req.extensions().get::<ClientInfo>().map(|c| Arc::from(c.addr.to_string()))
            }
            Self::Header(name) => req.headers().get(name)?.to_str().ok().map(Arc::from),
        }
    }
}
