//! The client address behind trusted proxies, and the forwarding headers the gateway sets.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::upstream::h1::header_line;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// An IP network such as `10.0.0.0/8` or `fd00::/8` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `true` when `ip` is inside the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP network such as 10.0.0.0/8"))?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0..={max}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which proxies in front of the gateway are trusted, and which forwarding headers it
/// sends upstream.
///
/// The client address is found by walking `X-Forwarded-For` from the **right**: the
/// connection's peer first, then each entry a trusted proxy added, stopping at the
/// first address that is not a trusted proxy. With `trusted_hops = n` the peer and the
/// next `n - 1` entries are trusted whatever their address. The leftmost entry is never
/// believed unless every hop after it is trusted. With nothing configured, nothing is
/// trusted and the client is the peer.
///
/// Upstream, `X-Forwarded-For` holds the client and the trusted hops after it (entries
/// a client sent to forge its address are dropped); `X-Forwarded-Proto`,
/// `X-Forwarded-Host` and `Forwarded` are taken over from a trusted peer and otherwise
/// set from this connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardedConfig {
    /// Networks whose addresses are trusted proxies.
    pub trusted_proxies: Vec<Cidr>,
    /// Trust this many proxies in front of the gateway by position, whatever their
    /// address (used when `trusted_proxies` is empty).
    pub trusted_hops: Option<usize>,
}

impl ForwardedConfig {
    fn trusts(&self, hop: usize, ip: IpAddr) -> bool {
        if !self.trusted_proxies.is_empty() {
            return self.trusted_proxies.iter().any(|c| c.contains(ip));
        }
        self.trusted_hops.is_some_and(|n| hop < n)
    }
}

/// Who sent a request, as the gateway determined it (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client address, derived through trusted proxies.
    pub addr: IpAddr,
    /// The TCP peer of the connection.
    pub peer: SocketAddr,
}

/// The `X-Forwarded-For` chain as received, left to right (unparsable entries `None`).
fn xff_entries(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|e| parse_node(e.trim()))
        .collect()
}

/// An address as written in a forwarding header: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    s.parse::<SocketAddr>().ok().map(|a| canonical(a.ip()))
}

/// Whether `name` is one of the forwarding headers the gateway sets:
/// `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` or `Forwarded`.
pub(crate) fn is_forwarding_header(name: &HeaderName) -> bool {
    FORWARDING_HEADERS.contains(name)
}

/// The forwarding headers the gateway sets.
pub(crate) const FORWARDING_HEADERS: [HeaderName; 4] =
    [X_FORWARDED_FOR, X_FORWARDED_PROTO, X_FORWARDED_HOST, FORWARDED];

/// The forwarding headers for a request from an untrusted peer, worked out at ingress.
///
/// They replace whatever the client sent under those names. The gateway writes them
/// into the request's headers ([`write`](Self::write)) when anything on the way may
/// read them, and otherwise leaves them out of the map: the inline HTTP/1.1 client
/// puts [`lines`](Self::lines) straight into the upstream head, skipping the client's
/// copies, and every other client path writes them into the map before sending.
#[derive(Debug)]
pub(crate) struct ForwardHeaders {
    /// `X-Forwarded-For` (`None`: not a valid value, the header is removed).
    xff: Option<HeaderValue>,
    /// `X-Forwarded-Proto`.
    proto: &'static str,
    /// `X-Forwarded-Host` (`None`: the request named no host).
    host: Option<HeaderValue>,
    /// `Forwarded` (`None`: not a valid value).
    forwarded: Option<HeaderValue>,
    /// The same, as HTTP/1.1 header lines in the order [`write`](Self::write) adds them.
    lines: Vec<u8>,
}

impl ForwardHeaders {
    fn new(
        xff: Option<HeaderValue>,
        proto: &'static str,
        host: Option<HeaderValue>,
        forwarded: Option<HeaderValue>,
    ) -> Self {
        let mut lines = Vec::with_capacity(128);
        let mut line = |name: &HeaderName, value: &[u8]| {
            header_line(&mut lines, name.as_str().as_bytes(), value);
        };
        if let Some(v) = &xff {
            line(&X_FORWARDED_FOR, v.as_bytes());
        }
        line(&X_FORWARDED_PROTO, proto.as_bytes());
        if let Some(v) = &host {
            line(&X_FORWARDED_HOST, v.as_bytes());
        }
        if let Some(v) = &forwarded {
            line(&FORWARDED, v.as_bytes());
        }
        Self { xff, proto, host, forwarded, lines }
    }

    /// Replaces the forwarding headers in `headers` with these.
    pub(crate) fn write(&self, headers: &mut HeaderMap) {
        headers.reserve(4);
        set(headers, X_FORWARDED_FOR, self.xff.clone());
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(self.proto));
        set(headers, X_FORWARDED_HOST, self.host.clone());
        set(headers, FORWARDED, self.forwarded.clone());
    }

    /// The headers as HTTP/1.1 lines (`name: value\r\n` each).
    pub(crate) fn lines(&self) -> &[u8] {
        &self.lines
    }
}

/// The forwarding headers of the last request of an untrusted peer on one connection.
///
/// They depend only on the peer, the scheme and the `Host`, so the requests that follow
/// on a keep-alive connection share them instead of writing them again. A
/// [`ConnectionInfo`](crate::ConnectionInfo) holds one; clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ForwardedCache(Arc<Mutex<Option<Cached>>>);

#[derive(Debug)]
struct Cached {
    peer: IpAddr,
    host: Option<HeaderValue>,
    proto: &'static str,
    headers: Arc<ForwardHeaders>,
}

impl ForwardedCache {
    fn get(
        &self,
        peer: IpAddr,
        host: Option<&HeaderValue>,
        proto: &'static str,
    ) -> Option<Arc<ForwardHeaders>> {
        let cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let c = cached.as_ref()?;
        (c.peer == peer && c.proto == proto && c.host.as_ref() == host).then(|| c.headers.clone())
    }

    fn put(
        &self,
        peer: IpAddr,
        host: Option<&HeaderValue>,
        proto: &'static str,
        headers: &Arc<ForwardHeaders>,
    ) {
        let cached = Cached { peer, host: host.cloned(), proto, headers: headers.clone() };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(cached);
    }
}

/// Derives the client and the forwarding headers (the request's `host` and `proto` are
/// this hop's view; `cache` is the connection's).
///
/// For a trusted peer the headers in `headers` are rewritten at once: what the peer
/// sent counts. For an untrusted peer nothing it sent counts, so the headers are
/// worked out from the connection alone, shared from `cache` while the `Host` stays
/// the same, and either written into `headers` or, when `defer`, returned for the
/// client to write (see [`ForwardHeaders`]).
pub(crate) fn apply(
    cfg: &ForwardedConfig,
    headers: &mut HeaderMap,
    peer: SocketAddr,
    host: Option<&HeaderValue>,
    proto: &'static str,
    cache: Option<&ForwardedCache>,
    defer: bool,
) -> (ClientInfo, Option<Arc<ForwardHeaders>>) {
    let peer_ip = canonical(peer.ip());
    if cfg.trusts(0, peer_ip) {
        return (apply_trusted(cfg, headers, peer, host, proto), None);
    }
    // Nothing an untrusted peer sent counts: it is the client.
    let client = ClientInfo { addr: peer_ip, peer };
    let forward = match cache.and_then(|c| c.get(peer_ip, host, proto)) {
        Some(cached) => cached,
        None => {
            let mut xff = String::with_capacity(40);
            push_ip(&mut xff, peer_ip);
            let forwarded = forwarded_value("", peer_ip, host, proto);
            let forward =
                Arc::new(ForwardHeaders::new(value(xff), proto, host.cloned(), value(forwarded)));
            if let Some(c) = cache {
                c.put(peer_ip, host, proto, &forward);
            }
            forward
        }
    };
    if defer {
        return (client, Some(forward));
    }
    forward.write(headers);
    (client, None)
}

/// [`apply`] for a trusted peer: the client and trusted hops from its `X-Forwarded-For`,
/// its `X-Forwarded-Proto` and `X-Forwarded-Host` kept, this hop added to `Forwarded`.
fn apply_trusted(
    cfg: &ForwardedConfig,
    headers: &mut HeaderMap,
    peer: SocketAddr,
    host: Option<&HeaderValue>,
    proto: &'static str,
) -> ClientInfo {
    let peer_ip = canonical(peer.ip());
    let mut client = peer_ip;
    // Walk right to left: `chain` collects the client and the trusted hops after it.
    let mut chain: Vec<IpAddr> = vec![peer_ip];
    for (hop, entry) in xff_entries(headers).iter().rev().enumerate() {
        let Some(ip) = *entry else { break };
        client = ip;
        chain.push(ip);
        if !cfg.trusts(hop + 1, ip) {
            break;
        }
    }
    let mut xff = String::with_capacity(40);
    for (i, ip) in chain.iter().rev().enumerate() {
        if i > 0 {
            xff.push_str(", ");
        }
        push_ip(&mut xff, *ip);
    }
    let previous = headers.get(&FORWARDED).and_then(|v| v.to_str().ok()).unwrap_or("");
    let forwarded = forwarded_value(previous, peer_ip, host, proto);
    set(headers, X_FORWARDED_FOR, value(xff));
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    }
    if !headers.contains_key(&X_FORWARDED_HOST) {
        set(headers, X_FORWARDED_HOST, host.cloned());
    }
    set(headers, FORWARDED, value(forwarded));
    ClientInfo { addr: client, peer }
}

/// This hop's `Forwarded` element, after `previous` ones when given.
fn forwarded_value(
    previous: &str,
    peer: IpAddr,
    host: Option<&HeaderValue>,
    proto: &'static str,
) -> String {
    let host = host.and_then(|h| h.to_str().ok());
    let mut forwarded = String::with_capacity(previous.len() + host.map_or(0, str::len) + 64);
    if !previous.is_empty() {
        forwarded.push_str(previous);
        forwarded.push_str(", ");
    }
    forwarded.push_str("for=");
    push_node(&mut forwarded, peer);
    if let Some(h) = host {
        forwarded.push_str(";host=");
        push_quoted(&mut forwarded, h);
    }
    forwarded.push_str(";proto=");
    forwarded.push_str(proto);
    forwarded
}

/// `value` as a header value (kept, not copied), if it is a valid one.
fn value(value: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(Bytes::from(value)).ok()
}

/// Replaces every `name` header with `value`, or removes them.
fn set(headers: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(v) => {
            headers.insert(name, v);
        }
        None => {
            headers.remove(&name);
        }
    }
}

/// Writes `ip` as `Display` does (IPv4 by hand: it is the common case).
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// A `Forwarded` node: IPv6 in brackets and quotes (RFC 7239 §6).
fn push_node(out: &mut String, ip: IpAddr) {
    if ip.is_ipv6() {
        out.push_str("\"[");
        push_ip(out, ip);
        out.push_str("]\"");
    } else {
        push_ip(out, ip);
    }
}

/// A `Forwarded` value: a token as is, anything else quoted (quotes and backslashes
/// dropped).
fn push_quoted(out: &mut String, v: &str) {
    let token = !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        out.push_str(v);
        return;
    }
    out.push('"');
    for part in v.split(['"', '\\']) {
        out.push_str(part);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: &ForwardedConfig, xff: Option<&str>, peer: &str) -> (IpAddr, HeaderMap) {
        let mut h = HeaderMap::new();
        if let Some(x) = xff {
            h.insert(X_FORWARDED_FOR, x.parse().unwrap());
        }
        let host = HeaderValue::from_static("example.com:8080");
        let (info, deferred) =
            apply(cfg, &mut h, peer.parse().unwrap(), Some(&host), "http", None, false);
        assert!(deferred.is_none(), "written when not deferred");
        (info.addr, h)
    }

    #[test]
    fn cidr_parsing_and_membership() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!("fd00::/8".parse::<Cidr>().unwrap().contains("fd12::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
    }

    #[test]
    fn untrusted_peer_is_the_client_and_forged_entries_drop() {
        let (client, h) = run(&ForwardedConfig::default(), Some("6.6.6.6"), "1.2.3.4:5000");
        assert_eq!(client, "1.2.3.4".parse::<IpAddr>().unwrap());
        assert_eq!(h[X_FORWARDED_FOR], "1.2.3.4");
        assert_eq!(h[FORWARDED], "for=1.2.3.4;host=\"example.com:8080\";proto=http");
        assert_eq!(h[X_FORWARDED_HOST], "example.com:8080");
    }

    #[test]
    fn trusted_cidrs_walk_from_the_right() {
        let cfg = ForwardedConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..Default::default()
        };
        let (client, h) = run(&cfg, Some("6.6.6.6, 7.7.7.7, 10.0.0.2"), "10.0.0.1:1");
        assert_eq!(client, "7.7.7.7".parse::<IpAddr>().unwrap());
        assert_eq!(h[X_FORWARDED_FOR], "7.7.7.7, 10.0.0.2, 10.0.0.1");
    }

    #[test]
    fn trusted_hops_count_positions() {
        let cfg = ForwardedConfig { trusted_hops: Some(2), ..Default::default() };
        let (client, _) = run(&cfg, Some("6.6.6.6, 7.7.7.7, 8.8.8.8"), "9.9.9.9:1");
        assert_eq!(client, "7.7.7.7".parse::<IpAddr>().unwrap());
        let (client, _) = run(&cfg, Some("garbage, 8.8.8.8"), "9.9.9.9:1");
        assert_eq!(client, "8.8.8.8".parse::<IpAddr>().unwrap(), "stops at an unparsable entry");
        let (client, _) = run(&cfg, None, "9.9.9.9:1");
        assert_eq!(client, "9.9.9.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in ["0.0.0.0", "9.10.99.100", "127.0.0.1", "255.255.255.255", "::1", "fd00::a:1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn an_untrusted_peer_reuses_its_connection_values_while_the_host_stays() {
        let (cfg, cache) = (ForwardedConfig::default(), ForwardedCache::default());
        let peer: SocketAddr = "1.2.3.4:5000".parse().unwrap();
        let run = |host: &'static str, forged: bool| {
            let mut h = HeaderMap::new();
            if forged {
                h.insert(X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
                h.insert(FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
            }
            let host = HeaderValue::from_static(host);
            apply(&cfg, &mut h, peer, Some(&host), "http", Some(&cache), false);
            h
        };
        assert_eq!(run("a.example", false)[FORWARDED], "for=1.2.3.4;host=a.example;proto=http");
        let again = run("a.example", true);
        assert_eq!(again[X_FORWARDED_FOR], "1.2.3.4", "forged entries still dropped");
        assert_eq!(again[FORWARDED], "for=1.2.3.4;host=a.example;proto=http");
        assert_eq!(again.get_all(FORWARDED).iter().count(), 1);
        assert_eq!(run("b.example", false)[FORWARDED], "for=1.2.3.4;host=b.example;proto=http");
    }

    #[test]
    fn ipv6_nodes_are_quoted() {
        let (_, h) = run(&ForwardedConfig::default(), None, "[::1]:80");
        assert!(h[FORWARDED].to_str().unwrap().starts_with("for=\"[::1]\""));
    }

    /// The forwarding headers of `map` as the inline client writes header lines.
    fn forwarding_lines(map: &HeaderMap) -> String {
        map.iter()
            .filter(|(n, _)| is_forwarding_header(n))
            .map(|(n, v)| format!("{}: {}\r\n", n, v.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn deferred_headers_are_the_ones_written_at_once() {
        let cfg = ForwardedConfig::default();
        let forged = [
            (X_FORWARDED_FOR, "6.6.6.6"),
            (X_FORWARDED_PROTO, "https"),
            (X_FORWARDED_HOST, "evil.example"),
            (FORWARDED, "for=6.6.6.6"),
        ];
        let cases = [
            ("1.2.3.4:5000", Some("shop.example"), "http"),
            ("[::1]:80", Some("Shop.Example:8443"), "https"),
            ("10.0.0.7:1", None, "http"),
        ];
        for (peer, host, proto) in cases {
            let peer: SocketAddr = peer.parse().unwrap();
            let host = host.map(HeaderValue::from_static);
            let mut written = HeaderMap::new();
            let mut deferred = HeaderMap::new();
            for (name, value) in &forged {
                written.append(name.clone(), HeaderValue::from_static(value));
                deferred.append(name.clone(), HeaderValue::from_static(value));
            }
            let (a, none) = apply(&cfg, &mut written, peer, host.as_ref(), proto, None, false);
            let (b, some) = apply(&cfg, &mut deferred, peer, host.as_ref(), proto, None, true);
            assert!(none.is_none());
            let forward = some.expect("deferred for an untrusted peer");
            assert_eq!(a, b);
            assert_eq!(deferred[X_FORWARDED_FOR], "6.6.6.6", "the map is left alone");
            assert_eq!(String::from_utf8_lossy(forward.lines()), forwarding_lines(&written));
            forward.write(&mut deferred);
            assert_eq!(deferred, written, "{peer} {host:?}");
            assert!(written.get(X_FORWARDED_HOST).is_some() == host.is_some());
        }
    }

    #[test]
    fn a_trusted_peer_is_never_deferred() {
        let cfg = ForwardedConfig { trusted_hops: Some(1), ..Default::default() };
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR, HeaderValue::from_static("7.7.7.7"));
        let host = HeaderValue::from_static("a.example");
        let peer = "10.0.0.1:1".parse().unwrap();
        let (info, deferred) = apply(&cfg, &mut h, peer, Some(&host), "http", None, true);
        assert!(deferred.is_none());
        assert_eq!(info.addr, "7.7.7.7".parse::<IpAddr>().unwrap());
        assert_eq!(h[X_FORWARDED_FOR], "7.7.7.7, 10.0.0.1");
    }
}
