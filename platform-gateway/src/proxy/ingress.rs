//! The checks and rewrites every request goes through before routing.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use http::uri::{PathAndQuery, Uri};
use http::{HeaderValue, Method, Request, StatusCode, Version, header};

use super::forwarded::{self, ForwardHeaders};
use super::hop::Stripped;
use super::{ClientInfo, ProxyConfig, strip_hop_by_hop};
use crate::server::ConnectionInfo;

/// What ingress learned about a request (a request extension of routed requests).
#[derive(Debug, Clone)]
pub(crate) struct Ingress {
    /// The `Host` the client addressed (header, or the HTTP/2 authority).
    pub(crate) host: Option<HeaderValue>,
    /// Host for route matching: lower case, without port; see [`match_host`](Self::match_host).
    match_host: MatchHost,
    /// What hop-by-hop stripping found.
    pub(crate) hop: Stripped,
    /// The request was an HTTP/2 extended CONNECT (RFC 8441), now a `GET` asking to
    /// upgrade to `hop.upgrade`; its `2xx` answer stands for the `101`.
    pub(crate) extended_connect: bool,
    /// The forwarding headers, when [`admit`] was asked to defer them and the peer is
    /// untrusted: not in the request's headers yet (see [`ForwardHeaders`]).
    pub(crate) forward: Option<Arc<ForwardHeaders>>,
}

/// Where the match form of the host is: the start of `host` when that part is already
/// in match form (the usual case, no allocation), or a lower-cased copy.
#[derive(Debug, Clone)]
enum MatchHost {
    /// The first this many bytes of `host`.
    Prefix(usize),
    Lowered(String),
}

impl Ingress {
    /// Host for route matching: lower case, without port or trailing dot (empty when
    /// the request named none).
    pub(crate) fn match_host(&self) -> &str {
        match &self.match_host {
            MatchHost::Lowered(s) => s,
            MatchHost::Prefix(len) => self
                .host
                .as_ref()
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.get(..*len))
                .unwrap_or(""),
        }
    }
}

/// A request refused before routing.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { status, code, message: message.into() }
}

/// Checks and rewrites `req` in place; see the [module docs](super).
///
/// With `defer`, an untrusted peer's forwarding headers are not written into `req` but
/// returned in [`Ingress::forward`], and any copies the client sent stay in `req` until
/// they are written. Callers defer only where nothing reads those headers before they
/// are written: by the router, for routes whose stacks cannot read them, or by the
/// upstream client.
pub(crate) fn admit<B>(
    cfg: &ProxyConfig,
    req: &mut Request<B>,
    conn: Option<&ConnectionInfo>,
    defer: bool,
) -> Result<Ingress, Refusal> {
    let http1 = matches!(req.version(), Version::HTTP_10 | Version::HTTP_11 | Version::HTTP_09);
    // Taken first, whatever happens next: one record per HTTP/1 request, in order.
    let framing = conn.filter(|_| http1).and_then(|c| c.head_log.next());
    let headers = req.headers();
    if headers.len() > cfg.max_headers {
        return Err(refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "too_many_headers",
            format!(
                "the request has {} headers; at most {} are accepted",
                headers.len(),
                cfg.max_headers
            ),
        ));
    }
    let size: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if size > cfg.max_header_bytes {
        return Err(refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request headers take {size} bytes; at most {} are accepted",
                cfg.max_header_bytes
            ),
        ));
    }
    let hosts = headers.get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "bad_host",
            "the request has several Host headers",
        ));
    }
    if hosts == 0 && req.version() == Version::HTTP_11 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "bad_host",
            "an HTTP/1.1 request needs a Host header",
        ));
    }
    let conflicting = framing.is_some_and(|f| f.conflicting_framing)
        || (headers.contains_key(header::CONTENT_LENGTH)
            && headers.contains_key(header::TRANSFER_ENCODING));
    if conflicting {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "conflicting_framing",
            "the request has both Content-Length and Transfer-Encoding",
        ));
    }
    normalize_path(cfg, req)?;
    let mut hop = strip_hop_by_hop(req.headers_mut());
    let extended_connect = extended_connect(req, &mut hop);
    let host = req
        .headers()
        .get(header::HOST)
        .cloned()
        .or_else(|| req.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
    let match_host = match host.as_ref().and_then(|h| h.to_str().ok()) {
        Some(h) => match_form(h),
        None => MatchHost::Prefix(0),
    };
    // Room for what the gateway adds (`traceparent`, `Host`, and the four forwarding
    // headers unless they are deferred), so the map grows at most once.
    req.headers_mut().reserve(if defer { 2 } else { 6 });
    let peer = conn.map_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), |c| c.peer);
    let proto = conn.map_or("http", |c| c.scheme);
    let (client, forward): (ClientInfo, _) = forwarded::apply(
        &cfg.forwarded,
        req.headers_mut(),
        peer,
        host.as_ref(),
        proto,
        conn.map(|c| &c.forwarded),
        defer,
    );
    req.extensions_mut().insert(client);
    // For platform-core's `ClientIpKey` and other extractors keyed on the address.
    req.extensions_mut().insert(SocketAddr::new(client.addr, peer.port()));
    Ok(Ingress { host, match_host, hop, extended_connect, forward })
}

/// Sees an HTTP/2 extended CONNECT (`:protocol`, RFC 8441) as the HTTP/1.1 request it
/// stands for: a `GET` of its path asking to upgrade to the protocol.
fn extended_connect<B>(req: &mut Request<B>, hop: &mut Stripped) -> bool {
    if req.method() != Method::CONNECT {
        return false;
    }
    let Some(protocol) = req.extensions_mut().remove::<hyper::ext::Protocol>() else {
        return false;
    };
    let Ok(protocol) = HeaderValue::from_bytes(protocol.as_str().as_bytes()) else {
        return false;
    };
    *req.method_mut() = Method::GET;
    hop.upgrade = Some(protocol);
    true
}

/// Host without port, lower case, without a trailing dot: as a range of `host` when no
/// letter needs lowering.
///
/// Byte searches rather than `str` patterns (this runs for every request): an IPv6
/// literal keeps everything through its `]`; otherwise a last `:` followed by nothing
/// but digits starts the port.
fn match_form(host: &str) -> MatchHost {
    let b = host.as_bytes();
    let bracketed = if b.first() == Some(&b'[') { memchr::memchr(b']', b) } else { None };
    let mut end = match bracketed {
        Some(close) => close + 1,
        None => match memchr::memrchr(b':', b) {
            Some(colon) if b[colon + 1..].iter().all(u8::is_ascii_digit) => colon,
            _ => b.len(),
        },
    };
    while end > 0 && b[end - 1] == b'.' {
        end -= 1;
    }
    let form = &host[..end];
    if form.bytes().any(|c| c.is_ascii_uppercase()) {
        MatchHost::Lowered(form.to_ascii_lowercase())
    } else {
        MatchHost::Prefix(end)
    }
}

fn normalize_path<B>(cfg: &ProxyConfig, req: &mut Request<B>) -> Result<(), Refusal> {
    let uri = req.uri();
    let normal = cfg
        .path
        .normalize(uri.path())
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, "bad_path", e.to_string()))?;
    if normal == uri.path() {
        return Ok(());
    }
    let pq = match uri.query() {
        Some(q) => format!("{normal}?{q}"),
        None => normal.into_owned(),
    };
    let pq = PathAndQuery::try_from(pq)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, "bad_path", e.to_string()))?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    *req.uri_mut() = Uri::from_parts(parts)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, "bad_path", e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_host_forms() {
        for (host, form) in [
            ("Example.COM:8080", "example.com"),
            ("example.com.", "example.com"),
            ("example.com.:80", "example.com"),
            ("[::1]:80", "[::1]"),
            ("[::1]", "[::1]"),
            ("[::FFFF:1]", "[::ffff:1]"),
            ("api.example.com", "api.example.com"),
            ("example.com:", "example.com"),
            ("example.com:8o", "example.com:8o"),
            ("a.b:80:90", "a.b:80"),
            ("[::1", "[:"),
            ("[::1]:x", "[::1]"),
            ("...", ""),
            ("Example..", "example"),
            ("127.0.0.1:19203", "127.0.0.1"),
        ] {
            let mut req = Request::get("/").header("host", host).body(()).unwrap();
            let ingress = admit(&ProxyConfig::default(), &mut req, None, false).unwrap();
            assert_eq!(ingress.match_host(), form, "{host}");
        }
    }

    #[test]
    fn http11_needs_exactly_one_host() {
        let cfg = ProxyConfig::default();
        let mut req = Request::get("/").body(()).unwrap();
        assert_eq!(admit(&cfg, &mut req, None, false).unwrap_err().code, "bad_host");
        let mut req = Request::get("/").header("host", "a").header("host", "b").body(()).unwrap();
        assert_eq!(admit(&cfg, &mut req, None, false).unwrap_err().code, "bad_host");
        let mut req = Request::get("/x/../y").header("host", "a").body(()).unwrap();
        admit(&cfg, &mut req, None, false).unwrap();
        assert_eq!(req.uri().path(), "/y");
    }
}
