//! Predicates in words: for `/admin/routes`, and which ones fail for `/admin/explain`.

use std::fmt;

use super::predicate::{
    PathMatch, Predicates, RequestView, ValueMatch, cookie_values, query_values,
};
use super::{Captures, HostMatch};

impl fmt::Display for ValueMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Present => f.write_str("present"),
            Self::Absent => f.write_str("absent"),
            Self::Exact(v) => write!(f, "= {v:?}"),
            Self::Prefix(v) => write!(f, "starts with {v:?}"),
        }
    }
}

impl fmt::Display for PathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(p) => write!(f, "path = {p}"),
            Self::Prefix(p) => write!(f, "path under {p}"),
            Self::Template(t) => write!(f, "path like {t}"),
        }
    }
}

impl fmt::Display for HostMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(h) => f.write_str(h),
            Self::Wildcard(suffix) => write!(f, "*{suffix}"),
        }
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ")
}

impl Predicates {
    /// Each predicate in words, in the order checked; empty: the route takes everything.
    pub(crate) fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.methods.is_empty() {
            out.push(format!("method {}", list(&self.methods)));
        }
        if !self.hosts.is_empty() {
            out.push(format!("host {}", list(&self.hosts)));
        }
        if let Some(p) = &self.path {
            out.push(p.to_string());
        }
        out.extend(self.headers.iter().map(|h| format!("header {} {}", h.name, h.value)));
        out.extend(self.query.iter().map(|q| format!("query {} {}", q.name, q.value)));
        out.extend(self.cookies.iter().map(|c| format!("cookie {} {}", c.name, c.value)));
        out
    }

    /// Like `matches`, but checks every predicate and says which ones fail and why.
    pub(crate) fn explain(&self, req: &RequestView<'_>) -> Result<Captures, Vec<String>> {
        let mut failed = Vec::new();
        if !self.methods.is_empty() && !self.methods.contains(req.method) {
            failed.push(format!("method {} is not {}", req.method, list(&self.methods)));
        }
        if !self.hosts.is_empty() && !self.hosts.iter().any(|h| h.matches(req.host)) {
            failed.push(format!("host {:?} is not {}", req.host, list(&self.hosts)));
        }
        let captures = match &self.path {
            Some(p) => p.matches(req.path).unwrap_or_else(|| {
                failed.push(format!("path {} does not match: {p}", req.path));
                Captures::default()
            }),
            None => Captures::default(),
        };
        for h in &self.headers {
            let values = req.headers.get_all(&h.name).iter().filter_map(|v| v.to_str().ok());
            if !h.value.matches(values) {
                failed.push(format!("header {} is not {}", h.name, h.value));
            }
        }
        for q in &self.query {
            let values = query_values(req.query.unwrap_or(""), &q.name);
            if !q.value.matches(values.iter().map(String::as_str)) {
                failed.push(format!("query {} is not {}", q.name, q.value));
            }
        }
        for c in &self.cookies {
            if !c.value.matches(cookie_values(req.headers, &c.name)) {
                failed.push(format!("cookie {} is not {}", c.name, c.value));
            }
        }
        if failed.is_empty() { Ok(captures) } else { Err(failed) }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Method};

    use super::*;
    use crate::route::Route;

    #[test]
    fn explains_every_failing_predicate() {
        let route = Route::builder("r")
            .method(Method::POST)
            .host("*.example.com")
            .path_prefix("/api")
            .header("x-env", ValueMatch::Exact("beta".into()))
            .upstream("u")
            .build()
            .unwrap();
        let p = &route.predicates;
        assert_eq!(
            p.describe(),
            ["method POST", "host *.example.com", "path under /api", "header x-env = \"beta\""]
        );
        let headers = HeaderMap::new();
        let view = RequestView {
            method: &Method::GET,
            host: "example.com",
            path: "/api/x",
            query: None,
            headers: &headers,
        };
        let failed = p.explain(&view).unwrap_err();
        assert_eq!(
            failed,
            [
                "method GET is not POST",
                "host \"example.com\" is not *.example.com",
                "header x-env is not = \"beta\""
            ]
        );
        assert_eq!(p.matches(&view), None);
    }
}
