//! The `[[routes]]` entries of a config file, compiled to [`Route`]s.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_core::resilience::{RateLimitConfig, RetryConfig};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::filter::{HeaderRules, RateKey};
use crate::proxy::HostPolicy;
use crate::route::{Route, ValueMatch};

/// How a header, query parameter or cookie must look: a string is an exact value;
/// `{ prefix = "b" }`, `{ present = true }` or `{ absent = true }` say more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValueSpec {
    /// Exactly this value.
    Exact(String),
    /// A rule.
    Rule {
        /// The value starts with this.
        #[serde(default)]
        prefix: Option<String>,
        /// `true`: present with any value.
        #[serde(default)]
        present: Option<bool>,
        /// `true`: not present.
        #[serde(default)]
        absent: Option<bool>,
    },
}

impl ValueSpec {
    fn to_match(&self) -> Result<ValueMatch, String> {
        Ok(match self {
            Self::Exact(v) => ValueMatch::Exact(v.clone()),
            Self::Rule { prefix: Some(p), present: None, absent: None } => {
                ValueMatch::Prefix(p.clone())
            }
            Self::Rule { prefix: None, present: Some(true), absent: None } => ValueMatch::Present,
            Self::Rule { prefix: None, present: None, absent: Some(true) } => ValueMatch::Absent,
            _ => return Err(
                "give one of a value, { prefix = \"..\" }, { present = true } or { absent = true }"
                    .into(),
            ),
        })
    }
}

/// What the upstream receives as `Host`: `"preserve"` (default), `"rewrite"`, or
/// `{ set = "name" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostSpec {
    /// The client's `Host`.
    #[default]
    Preserve,
    /// The endpoint's `host:port`.
    Rewrite,
    /// This value.
    Set(String),
}

/// Header changes: `{ set = { "x-a" = "1" }, add = { .. }, remove = ["x-b"] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderRulesSpec {
    /// Headers removed.
    pub remove: Vec<String>,
    /// Headers set (replacing).
    pub set: BTreeMap<String, String>,
    /// Headers added.
    pub add: BTreeMap<String, String>,
}

impl HeaderRulesSpec {
    fn compile(&self) -> Result<HeaderRules, String> {
        let name = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("{n:?} is not a header name"))
        };
        let pair = |(n, v): (&String, &String)| -> Result<(HeaderName, HeaderValue), String> {
            Ok((
                name(n)?,
                HeaderValue::from_str(v).map_err(|_| format!("{v:?} is not a header value"))?,
            ))
        };
        Ok(HeaderRules {
            remove: self.remove.iter().map(|n| name(n)).collect::<Result<_, _>>()?,
            set: self.set.iter().map(pair).collect::<Result<_, _>>()?,
            add: self.add.iter().map(pair).collect::<Result<_, _>>()?,
        })
    }
}

/// One `[[routes]]` entry. Exactly one of `path`, `path_prefix` and `path_template` may
/// be given (none matches every path); exactly one of `upstream` and `upstreams`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteSpec {
    /// Unique route id.
    pub id: String,
    /// Higher is tried first (default 0).
    pub priority: i32,
    /// Exact path.
    pub path: Option<String>,
    /// Path prefix, by whole segments.
    pub path_prefix: Option<String>,
    /// Path template with `{captures}`.
    pub path_template: Option<String>,
    /// Hosts (`example.com`, `*.example.com`).
    pub hosts: Vec<String>,
    /// Methods (`GET`, ...).
    pub methods: Vec<String>,
    /// Header predicates.
    pub headers: BTreeMap<String, ValueSpec>,
    /// Query-parameter predicates.
    pub query: BTreeMap<String, ValueSpec>,
    /// Cookie predicates.
    pub cookies: BTreeMap<String, ValueSpec>,
    /// The upstream.
    pub upstream: Option<String>,
    /// A weighted split: `{ stable = 95, next = 5 }`.
    pub upstreams: BTreeMap<String, u32>,
    /// `Host` towards the upstream.
    pub host_header: HostSpec,
    /// Prefix removed before forwarding.
    pub strip_prefix: Option<String>,
    /// Path forwarded instead, `{captures}` filled in.
    pub rewrite_path: Option<String>,
    /// Request header changes.
    pub request_headers: HeaderRulesSpec,
    /// Response header changes.
    pub response_headers: HeaderRulesSpec,
    /// Bound on the whole exchange.
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Largest request body.
    pub max_body_bytes: Option<u64>,
    /// Retries (platform-core `RetryConfig`).
    pub retry: Option<RetryConfig>,
    /// Circuit breaker (platform-core `CircuitBreakerConfig`).
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    /// Rate limit (platform-core `RateLimitConfig`).
    pub rate_limit: Option<RateLimitConfig>,
    /// What the rate limit counts by: `"route"` (default), `"client_address"`, or
    /// `{ header = "x-api-key" }`.
    pub rate_limit_key: RateKey,
    /// CORS (feature `cors`).
    #[cfg(feature = "cors")]
    pub cors: Option<super::cors::CorsSpec>,
    /// A canary rollout between versions instead of `upstream` (feature `canary`).
    #[cfg(feature = "canary")]
    pub canary: Option<crate::canary::CanarySpec>,
}

impl RouteSpec {
    fn has_canary(&self) -> bool {
        #[cfg(feature = "canary")]
        return self.canary.is_some();
        #[cfg(not(feature = "canary"))]
        false
    }

    /// Every upstream the route names: `upstream`, `upstreams` and a canary's versions.
    pub(crate) fn named_upstreams(&self) -> impl Iterator<Item = &String> {
        #[cfg(feature = "canary")]
        let versions = self.canary.iter().flat_map(crate::canary::CanarySpec::upstreams);
        #[cfg(not(feature = "canary"))]
        let versions = std::iter::empty();
        self.upstream.iter().chain(self.upstreams.keys()).chain(versions)
    }

    /// Compiles the entry into a [`Route`]; a canary target is built by
    /// [`RouteSpec::build`], the stable version stands in for it here.
    pub(crate) fn compile(&self) -> Result<Route, ConfigError> {
        let id = self.id.as_str();
        let err = |field: &str, msg: String| ConfigError::new(msg).route(id).field(field);
        let mut b = Route::builder(id).priority(self.priority);
        match (&self.path, &self.path_prefix, &self.path_template) {
            (Some(p), None, None) => b = b.path_exact(p),
            (None, Some(p), None) => b = b.path_prefix(p),
            (None, None, Some(t)) => b = b.path_template(t),
            (None, None, None) => {}
            _ => {
                return Err(err(
                    "path",
                    "give only one of `path`, `path_prefix` and `path_template`".into(),
                ));
            }
        }
        for h in &self.hosts {
            b = b.host(h);
        }
        for m in &self.methods {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| err("methods", format!("{m:?} is not an HTTP method")))?;
            b = b.method(method);
        }
        for (name, v) in &self.headers {
            b = b.header(name, v.to_match().map_err(|e| err(&format!("headers.{name}"), e))?);
        }
        for (name, v) in &self.query {
            b = b.query(name, v.to_match().map_err(|e| err(&format!("query.{name}"), e))?);
        }
        for (name, v) in &self.cookies {
            b = b.cookie(name, v.to_match().map_err(|e| err(&format!("cookies.{name}"), e))?);
        }
        #[cfg(feature = "canary")]
        if let Some(c) = &self.canary {
            if self.upstream.is_some() || !self.upstreams.is_empty() {
                let msg = "give one of `upstream`, `upstreams` and `canary`, not several";
                return Err(err("canary", msg.into()));
            }
            c.validate(id).map_err(|(f, m)| err(&format!("canary.{f}"), m))?;
            // The stable version stands in until `GatewayConfig::build` puts the canary
            // backend in place.
            b = b.upstream(&c.stable);
        }
        b = match (&self.upstream, self.upstreams.is_empty()) {
            _ if self.has_canary() => b,
            (Some(u), true) => b.upstream(u),
            (None, false) => {
                b.weighted_upstreams(self.upstreams.iter().map(|(n, w)| (n.clone(), *w)))
            }
            (Some(_), false) => {
                return Err(err("upstreams", "give `upstream` or `upstreams`, not both".into()));
            }
            (None, true) => {
                return Err(err(
                    "upstream",
                    "is missing; name the upstream this route sends to".into(),
                ));
            }
        };
        b = b.host_policy(match &self.host_header {
            HostSpec::Preserve => HostPolicy::Preserve,
            HostSpec::Rewrite => HostPolicy::Rewrite,
            HostSpec::Set(v) => HostPolicy::Set(
                HeaderValue::from_str(v)
                    .map_err(|_| err("host_header", format!("{v:?} is not a header value")))?,
            ),
        });
        if let Some(p) = &self.strip_prefix {
            b = b.strip_prefix(p);
        }
        if let Some(p) = &self.rewrite_path {
            b = b.rewrite_path(p);
        }
        b = b.request_headers(
            self.request_headers.compile().map_err(|e| err("request_headers", e))?,
        );
        b = b.response_headers(
            self.response_headers.compile().map_err(|e| err("response_headers", e))?,
        );
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        if let Some(n) = self.max_body_bytes {
            b = b.max_body_bytes(n);
        }
        if let Some(r) = &self.retry {
            b = b.retry(r.clone());
        }
        if let Some(c) = &self.circuit_breaker {
            b = b.circuit_breaker(c.clone());
        }
        if let Some(r) = &self.rate_limit {
            b = b.rate_limit(r.clone(), self.rate_limit_key.clone());
        }
        #[cfg(feature = "cors")]
        if let Some(c) = &self.cors {
            b = b.cors(c.compile().map_err(|e| err("cors", e))?);
        }
        Ok(b.build()?)
    }
}
