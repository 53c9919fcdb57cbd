//! Reverse-proxy correctness, applied to every request before routing.
//!
//! In order, the gateway:
//!
//! 1. refuses more than [`max_headers`](ProxyConfig::max_headers) headers or more than
//!    [`max_header_bytes`](ProxyConfig::max_header_bytes) of them (431);
//! 2. refuses an HTTP/1.1 request without exactly one `Host` (400), and any request with
//!    several;
//! 3. refuses a request that carried both `Content-Length` and `Transfer-Encoding` (400;
//!    read from the raw head, since hyper hides the conflict);
//! 4. normalizes the path once ([`PathPolicy`]; 400 for what it refuses) — the form
//!    routes match and upstreams receive;
//! 5. removes hop-by-hop headers ([`strip_hop_by_hop`]), remembering an `Upgrade`; an
//!    HTTP/2 extended CONNECT (RFC 8441, a WebSocket over HTTP/2) is seen as the `GET`
//!    with `Upgrade` it stands for, so the same routes match it;
//! 6. derives the client address through trusted proxies and sets `X-Forwarded-For`,
//!    `X-Forwarded-Proto`, `X-Forwarded-Host` and `Forwarded` ([`ForwardedConfig`]).
//!
//! Responses lose their hop-by-hop headers too; bodies stream both ways; a body over
//! the route's limit is refused with 413. gRPC calls get their `grpc-timeout` as a
//! deadline and the gateway's own errors as gRPC statuses (see [`grpc_code`]).

mod forwarded;
mod grpc;
mod hop;
mod ingress;
mod normalize;

use http::HeaderValue;
use serde::{Deserialize, Serialize};

#[cfg(feature = "auth")]
pub(crate) use forwarded::FORWARDING_HEADERS;
pub use forwarded::{Cidr, ClientInfo, ForwardedConfig};
pub(crate) use forwarded::{ForwardHeaders, ForwardedCache, is_forwarding_header};
pub use grpc::grpc_code;
pub(crate) use grpc::{
    FromUpstream, GRPC_TIMEOUT, GrpcCall, answer as grpc_answer, timeout_value as grpc_timeout,
};
pub(crate) use hop::set_upgrade;
pub use hop::{HOP_BY_HOP, Stripped, strip_hop_by_hop};
pub(crate) use ingress::{Ingress, admit};
pub use normalize::{EncodedSlash, PathError, PathPolicy};

/// What the upstream receives as `Host`; an explicit per-route choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HostPolicy {
    /// The client's `Host` (the default; the original is also in `X-Forwarded-Host`).
    #[default]
    Preserve,
    /// The endpoint's `host:port`, for upstreams that serve by their own name.
    Rewrite,
    /// This value.
    Set(HeaderValue),
}

/// The correctness settings of a gateway (every request, before routing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Trusted proxies and forwarding headers.
    pub forwarded: ForwardedConfig,
    /// Path normalization.
    pub path: PathPolicy,
    /// Most request headers (default 100); more: 431 with a JSON error. Above 100 (and
    /// above this limit plus 32 when it is higher) hyper's parser answers the 431
    /// itself, without a body.
    pub max_headers: usize,
    /// Most bytes of request header names and values together (default 32 KiB; at least
    /// 8 KiB, hyper's smallest read buffer); more: 431.
    pub max_header_bytes: usize,
    /// Largest request body for routes that set none (default 32 MiB); larger: 413.
    pub max_body_bytes: u64,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            forwarded: ForwardedConfig::default(),
            path: PathPolicy::default(),
            max_headers: 100,
            max_header_bytes: 32 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

impl ProxyConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`GatewayError::Setting`](crate::GatewayError::Setting) naming the field.
    pub fn validate(&self) -> Result<(), crate::GatewayError> {
        let bad = |field, reason: String| Err(crate::GatewayError::Setting { field, reason });
        if self.max_headers == 0 || self.max_headers > 10_000 {
            return bad("max_headers", format!("is {}; it must be 1..=10000", self.max_headers));
        }
        if self.max_header_bytes < 8192 {
            return bad(
                "max_header_bytes",
                format!("is {}; it must be at least 8192", self.max_header_bytes),
            );
        }
        if self.forwarded.trusted_hops == Some(0) {
            return bad(
                "forwarded.trusted_hops",
                "must be at least 1 (leave it out to trust none)".into(),
            );
        }
        Ok(())
    }
}
