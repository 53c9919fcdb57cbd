//! Static endpoint addresses (`host:port`, `https://host[:port]`) and whether an
//! upstream is reached over TLS.

use std::str::FromStr;

use http::uri::Authority;
use platform_core::registry::{ServiceInstance, Snapshot};

use super::{UpstreamConfig, UpstreamProtocol};
use crate::error::GatewayError;

/// An endpoint address split into its scheme (when written) and authority.
struct Address<'a> {
    scheme: Option<&'a str>,
    authority: Authority,
}

fn parse(address: &str) -> Option<Address<'_>> {
    let (scheme, rest) = match address.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Some("https"), rest),
        Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Some("http"), rest),
        Some(_) => return None,
        None => (None, address),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let authority = Authority::from_str(rest).ok().filter(|a| !a.as_str().contains('@'))?;
    let authority = match (authority.port_u16(), scheme) {
        (Some(_), _) => authority,
        (None, Some(s)) => {
            let port = if s == "https" { 443 } else { 80 };
            Authority::from_str(&format!("{authority}:{port}")).ok()?
        }
        (None, None) => return None,
    };
    Some(Address { scheme, authority })
}

fn bad_address(name: &str, address: &str) -> GatewayError {
    GatewayError::upstream(
        name,
        "endpoints",
        format!("{address:?} is not `host:port` or `https://host[:port]` (IPv6 as `[::1]:8080`)"),
    )
}

/// Whether the upstream's endpoints are reached over TLS: they are written
/// `https://`, or the config has a `tls` table. Refuses a mix of `http://` and
/// `https://`, and a protocol that does not fit (`h2c` over TLS, `h2` without it).
pub(crate) fn uses_tls(
    name: &str,
    config: &UpstreamConfig,
    endpoints: &[(String, u32)],
) -> Result<bool, GatewayError> {
    let mut schemes = Vec::with_capacity(endpoints.len());
    for (address, _) in endpoints {
        schemes.push(parse(address).ok_or_else(|| bad_address(name, address))?.scheme);
    }
    let https = schemes.contains(&Some("https"));
    let http = schemes.contains(&Some("http"));
    let fail = |field, reason: &str| Err(GatewayError::upstream(name, field, reason));
    if https && http {
        return fail("endpoints", "mix `http://` and `https://`; an upstream is one or the other");
    }
    if http && config.tls.is_some() {
        return fail(
            "tls",
            "is set, but the endpoints are written `http://`; write them `https://` or `host:port`",
        );
    }
    let secure = https || config.tls.is_some();
    match config.protocol {
        UpstreamProtocol::H2c if secure => fail(
            "protocol",
            "is `h2c` (HTTP/2 over plain TCP), but the endpoints use TLS; use `h2` for HTTP/2 over TLS",
        ),
        UpstreamProtocol::H2 if !secure => fail(
            "protocol",
            "is `h2` (HTTP/2 over TLS), but the endpoints are plain; write them `https://` or use `h2c`",
        ),
        _ => Ok(secure),
    }
}

/// The static endpoints as a registry snapshot (instance id: the address as written).
pub(crate) fn static_snapshot(
    name: &str,
    endpoints: &[(String, u32)],
) -> Result<Snapshot, GatewayError> {
    let mut instances = Vec::with_capacity(endpoints.len());
    for (address, weight) in endpoints {
        let authority = parse(address).ok_or_else(|| bad_address(name, address))?.authority;
        if *weight == 0 {
            return Err(GatewayError::upstream(
                name,
                "endpoints",
                format!("{address}: weight must be at least 1"),
            ));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        if instances.iter().any(|i: &ServiceInstance| i.id == address.as_str()) {
            return Err(GatewayError::upstream(
                name,
                "endpoints",
                format!("{address} is listed twice"),
            ));
        }
        instances
            .push(ServiceInstance::new(name, address.clone(), host, port).with_weight(*weight));
    }
    Ok(Snapshot::new(1, instances))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_of(endpoints: &[&str], config: &UpstreamConfig) -> Result<bool, String> {
        let list: Vec<(String, u32)> = endpoints.iter().map(|e| ((*e).to_owned(), 100)).collect();
        uses_tls("u", config, &list).map_err(|e| e.to_string())
    }

    #[test]
    fn schemes_and_default_ports() {
        assert_eq!(parse("https://api.example").unwrap().authority, "api.example:443");
        assert_eq!(parse("HTTP://[::1]/").unwrap().authority, "[::1]:80");
        assert_eq!(parse("https://h:8443").unwrap().scheme, Some("https"));
        assert_eq!(parse("h:81").unwrap().scheme, None);
        for bad in ["h", "ftp://h:1", "https://h:1/path", "u@h:1", "https://"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tls_follows_the_endpoints_and_the_table() {
        let plain = UpstreamConfig::default();
        assert_eq!(tls_of(&["h:1", "http://g:2"], &plain), Ok(false));
        assert_eq!(tls_of(&["https://h"], &plain), Ok(true));
        let with_table = UpstreamConfig { tls: Some(Default::default()), ..plain.clone() };
        assert_eq!(tls_of(&["h:1"], &with_table), Ok(true));
        let err = tls_of(&["https://h", "http://g"], &plain).unwrap_err();
        assert!(err.contains("mix"), "{err}");
        let err = tls_of(&["http://g"], &with_table).unwrap_err();
        assert!(err.contains("`tls`"), "{err}");
        let h2c = UpstreamConfig { protocol: UpstreamProtocol::H2c, ..plain.clone() };
        let err = tls_of(&["https://h"], &h2c).unwrap_err();
        assert!(err.contains("use `h2`"), "{err}");
        let h2 = UpstreamConfig { protocol: UpstreamProtocol::H2, ..plain };
        let err = tls_of(&["h:1"], &h2).unwrap_err();
        assert!(err.contains("use `h2c`"), "{err}");
    }
}
