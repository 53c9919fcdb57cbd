//! Route predicates: path, host, method, header, query and cookie.

use http::{HeaderMap, HeaderName, Method};

use super::{Captures, PathTemplate};

/// How a route matches the (normalized) request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// Exactly this path.
    Exact(String),
    /// This path or anything below it, by whole segments: `/api` matches `/api`,
    /// `/api/` and `/api/users` but not `/apix`. A prefix ending in `/` matches only
    /// paths below it.
    Prefix(String),
    /// A template with captures (see [`PathTemplate`]).
    Template(PathTemplate),
}

impl PathMatch {
    /// Matches `path`; the captures (empty unless a template) on success.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        match self {
            Self::Exact(p) => (p == path).then(Captures::default),
            Self::Prefix(p) => prefix_matches(p, path).then(Captures::default),
            Self::Template(t) => t.matches(path),
        }
    }

    /// The literal prefix a matching path starts with (for strip-prefix checks).
    pub(crate) fn template(&self) -> Option<&PathTemplate> {
        match self {
            Self::Template(t) => Some(t),
            _ => None,
        }
    }
}

/// Whether `path` is `prefix` or below it, by whole segments.
pub(crate) fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" || prefix.is_empty() {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

/// How a route matches the request host (the `Host` header, or the URI authority of an
/// HTTP/2 request), compared without port and case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// Exactly this host name.
    Exact(String),
    /// `*.example.com`: any host with at least one more label before `.example.com`
    /// (not `example.com` itself).
    Wildcard(String),
}

impl HostMatch {
    /// Parses `example.com` or `*.example.com`.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let p = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
        if p.is_empty() {
            return Err("host pattern must not be empty".into());
        }
        if let Some(suffix) = p.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(format!("{pattern:?}: a wildcard is `*.` before a domain"));
            }
            return Ok(Self::Wildcard(format!(".{suffix}")));
        }
        if p.contains('*') || p.contains('/') || p.contains(' ') {
            return Err(format!("{pattern:?} is not a host name or `*.domain` wildcard"));
        }
        Ok(Self::Exact(p))
    }

    /// Matches a host already lower-cased and without port.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Wildcard(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }
}

/// How a header, query parameter or cookie value must look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueMatch {
    /// Present, any value.
    Present,
    /// Not present.
    Absent,
    /// Present with exactly this value.
    Exact(String),
    /// Present with a value starting with this text.
    Prefix(String),
}

impl ValueMatch {
    /// Matches the values found (none when absent); any one value may match.
    pub(crate) fn matches<'a>(&self, mut values: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Self::Present => values.next().is_some(),
            Self::Absent => values.next().is_none(),
            Self::Exact(want) => values.any(|v| v == want),
            Self::Prefix(want) => values.any(|v| v.starts_with(want.as_str())),
        }
    }
}

/// A header predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPredicate {
    /// The header.
    pub name: HeaderName,
    /// Its wanted value.
    pub value: ValueMatch,
}

/// A query-parameter predicate (values compared percent-decoded, `+` as space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPredicate {
    /// The parameter name.
    pub name: String,
    /// Its wanted value.
    pub value: ValueMatch,
}

/// A cookie predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePredicate {
    /// The cookie name.
    pub name: String,
    /// Its wanted value.
    pub value: ValueMatch,
}

/// Everything a route checks, in the order it checks it (cheapest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Predicates {
    pub(crate) methods: Vec<Method>,
    pub(crate) hosts: Vec<HostMatch>,
    pub(crate) path: Option<PathMatch>,
    pub(crate) headers: Vec<HeaderPredicate>,
    pub(crate) query: Vec<QueryPredicate>,
    pub(crate) cookies: Vec<CookiePredicate>,
}

/// The parts of a request routes look at.
#[derive(Debug)]
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a Method,
    /// Lower case, no port; empty when unknown.
    pub(crate) host: &'a str,
    /// Normalized.
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
}

impl Predicates {
    /// Checks every predicate; the path captures on success.
    pub(crate) fn matches(&self, req: &RequestView<'_>) -> Option<Captures> {
        if !self.methods.is_empty() && !self.methods.contains(req.method) {
            return None;
        }
        if !self.hosts.is_empty() && !self.hosts.iter().any(|h| h.matches(req.host)) {
            return None;
        }
        let captures = match &self.path {
            Some(p) => p.matches(req.path)?,
            None => Captures::default(),
        };
        for h in &self.headers {
            let values = req.headers.get_all(&h.name).iter().filter_map(|v| v.to_str().ok());
            if !h.value.matches(values) {
                return None;
            }
        }
        for q in &self.query {
            let values = query_values(req.query.unwrap_or(""), &q.name);
            if !q.value.matches(values.iter().map(String::as_str)) {
                return None;
            }
        }
        for c in &self.cookies {
            if !c.value.matches(cookie_values(req.headers, &c.name)) {
                return None;
            }
        }
        Some(captures)
    }
}

/// The decoded values of query parameter `name`.
pub(crate) fn query_values(query: &str, name: &str) -> Vec<String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k) == name).then(|| decode_component(v))
        })
        .collect()
}

/// Values of cookie `name` in every `Cookie` header.
pub(crate) fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// Percent-decodes a query component (`+` is a space); invalid escapes stay as written.
fn decode_component(s: &str) -> String {
    percent_decode(s)
}

/// Percent-decodes `s` with `+` as space; invalid escapes are kept literally.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hex digit.
pub(crate) fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_segment_aware() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/x"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(prefix_matches("/api/", "/api/x"));
        assert!(!prefix_matches("/api/", "/api"));
        assert!(prefix_matches("/", "/anything"));
    }

    #[test]
    fn hosts_and_wildcards() {
        let w = HostMatch::parse("*.Example.com").unwrap();
        assert!(w.matches("a.example.com"));
        assert!(w.matches("a.b.example.com"));
        assert!(!w.matches("example.com"));
        assert!(!w.matches("badexample.com"));
        assert!(HostMatch::parse("example.com.").unwrap().matches("example.com"));
        assert!(HostMatch::parse("a*.com").is_err());
        assert!(HostMatch::parse("*.").is_err());
    }

    #[test]
    fn query_and_cookie_values() {
        assert_eq!(query_values("a=1&b=x+y&a=%32", "a"), ["1", "2"]);
        assert_eq!(query_values("b=x+y", "b"), ["x y"]);
        assert_eq!(query_values("flag&z=%zz", "z"), ["%zz"]);
        assert_eq!(query_values("flag", "flag"), [""]);
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; beta=yes".parse().unwrap());
        h.append("cookie", "c=\"q\"".parse().unwrap());
        assert_eq!(cookie_values(&h, "beta").collect::<Vec<_>>(), ["yes"]);
        assert_eq!(cookie_values(&h, "c").collect::<Vec<_>>(), ["q"]);
        assert!(ValueMatch::Absent.matches(cookie_values(&h, "zz")));
    }
}
