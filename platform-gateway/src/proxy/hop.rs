//! Hop-by-hop headers (RFC 9110 §7.6.1): removed in both directions.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that only concern one connection, always removed by the gateway: the ones
/// RFC 9110 §7.6.1 names (`Connection`, `Proxy-Connection`, `Keep-Alive`, `TE`,
/// `Transfer-Encoding`, `Upgrade`) and the proxy credentials meant for this hop
/// (`Proxy-Authorization`, `Proxy-Authenticate`).
pub const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// What stripping found that the next hop still needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stripped {
    /// The `Upgrade` value when `Connection` asked for an upgrade.
    pub upgrade: Option<HeaderValue>,
    /// `TE` listed `trailers` (re-sent as `te: trailers`, which gRPC needs).
    pub te_trailers: bool,
}

/// Removes every hop-by-hop header from `headers`: the fixed [`HOP_BY_HOP`] list and
/// every header named in any `Connection` header.
///
/// ```
/// use http::HeaderMap;
/// use platform_gateway::proxy::strip_hop_by_hop;
///
/// let mut h = HeaderMap::new();
/// h.insert("connection", "close, x-secret".parse().unwrap());
/// h.insert("x-secret", "1".parse().unwrap());
/// h.insert("keep-alive", "timeout=5".parse().unwrap());
/// h.insert("x-kept", "2".parse().unwrap());
/// strip_hop_by_hop(&mut h);
/// assert_eq!(h.len(), 1);
/// assert!(h.contains_key("x-kept"));
/// ```
pub fn strip_hop_by_hop(headers: &mut HeaderMap) -> Stripped {
    // Most messages carry none: one pass over the names finds that out without hashing
    // each hop-by-hop name into the map.
    if !headers.keys().any(is_hop_by_hop) {
        return Stripped::default();
    }
    let mut wants_upgrade = false;
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| {
            let token = token.trim();
            wants_upgrade |= token.eq_ignore_ascii_case("upgrade");
            HeaderName::from_bytes(token.as_bytes()).ok()
        })
        .collect();
    let te_trailers = headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("trailers")));
    let upgrade = if wants_upgrade { headers.get(header::UPGRADE).cloned() } else { None };
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        // `remove` drops every value of a repeated header.
        headers.remove(name);
    }
    Stripped { upgrade, te_trailers }
}

/// Whether `name` is in [`HOP_BY_HOP`].
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "proxy-connection"
            | "keep-alive"
            | "te"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
    )
}

/// Sets the headers that ask the next hop to switch to `protocol`.
pub(crate) fn set_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_tokens_and_fixed_list_are_removed() {
        let mut h = HeaderMap::new();
        h.append("connection", "keep-alive, X-A".parse().unwrap());
        h.append("connection", "x-b".parse().unwrap());
        h.insert("x-a", "1".parse().unwrap());
        h.insert("x-b", "1".parse().unwrap());
        h.insert("te", "trailers, deflate;q=0.5".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("proxy-authorization", "Basic x".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert("x-end", "1".parse().unwrap());
        let s = strip_hop_by_hop(&mut h);
        assert!(s.te_trailers);
        assert_eq!(s.upgrade, None, "no `upgrade` token in Connection");
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-end"]);
    }

    #[test]
    fn the_fast_check_knows_every_hop_by_hop_name() {
        for name in &HOP_BY_HOP {
            assert!(is_hop_by_hop(name), "{name}");
        }
        assert!(!is_hop_by_hop(&header::CONTENT_LENGTH));
        let mut h = HeaderMap::new();
        h.insert("x-kept", "1".parse().unwrap());
        assert_eq!(strip_hop_by_hop(&mut h), Stripped::default());
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn upgrade_is_reported() {
        let mut h = HeaderMap::new();
        h.insert("connection", "Upgrade".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        let s = strip_hop_by_hop(&mut h);
        assert_eq!(s.upgrade.unwrap(), "websocket");
        assert!(h.is_empty());
    }
}
