//! A [`LogQuery`] as URL query parameters and back: the search endpoint parses them, the
//! HTTP client writes them, so both sides share one definition.

use super::query::{LogCursor, LogQuery, LogQueryError};
use super::record::{LogLevel, format_time, parse_time};
use super::text::SearchText;
use crate::trace::TraceId;

/// The parameters the search endpoint understands.
pub(crate) const PARAMS: &[&str] =
    &["q", "level", "service", "trace_id", "since", "until", "cursor", "limit"];

impl LogQuery {
    /// Builds a query from URL parameters (`q`, `level`, `service`, `trace_id`, `since`,
    /// `until`, `cursor`, `limit`); an unknown or repeated parameter, or a malformed value,
    /// is an error naming the parameter.
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, LogQueryError> {
        let mut q = LogQuery::new();
        let mut seen: Vec<&'static str> = Vec::new();
        for (key, value) in params {
            let Some(&param) = PARAMS.iter().find(|p| **p == key) else {
                return Err(LogQueryError::Param {
                    param: "query",
                    problem: format!("unknown parameter `{key}`; known: {}", PARAMS.join(", ")),
                });
            };
            if seen.contains(&param) {
                return Err(LogQueryError::param_err(param, "is given more than once"));
            }
            seen.push(param);
            let bad = |problem: String| LogQueryError::param_err(param, problem);
            match param {
                "q" => q.text = Some(SearchText::parse(value)?),
                "level" => {
                    let level = value.parse::<LogLevel>().map_err(|e| bad(e.to_string()))?;
                    q.min_level = Some(level);
                }
                "service" => q.service = Some(value.to_owned()),
                "trace_id" => {
                    q.trace_id = Some(TraceId::parse(value).ok_or_else(|| {
                        bad(format!("`{value}` is not 32 lower-case hex digits (not all zero)"))
                    })?);
                }
                "since" => q.since = Some(parse_time(value).map_err(bad)?),
                "until" => q.until = Some(parse_time(value).map_err(bad)?),
                "cursor" => q.cursor = Some(value.parse::<LogCursor>()?),
                _ => {
                    let n: usize = value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not a positive whole number")))?;
                    if n == 0 {
                        return Err(bad("must be at least 1".into()));
                    }
                    q.limit = n;
                }
            }
        }
        Ok(q)
    }

    /// The query as URL parameters, the inverse of [`from_params`](Self::from_params).
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(t) = &self.text {
            out.push(("q", t.to_string()));
        }
        if let Some(l) = self.min_level {
            out.push(("level", l.to_string()));
        }
        if let Some(s) = &self.service {
            out.push(("service", s.clone()));
        }
        if let Some(t) = self.trace_id {
            out.push(("trace_id", t.to_string()));
        }
        if let Some(t) = self.since {
            out.push(("since", format_time(t)));
        }
        if let Some(t) = self.until {
            out.push(("until", format_time(t)));
        }
        if let Some(c) = self.cursor {
            out.push(("cursor", c.to_string()));
        }
        out.push(("limit", self.effective_limit().to_string()));
        out
    }
}

/// Percent-encodes a query-string component (everything but RFC 3986 unreserved bytes).
#[cfg_attr(not(feature = "logs-client"), allow(dead_code))]
pub(crate) fn encode_component(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}
