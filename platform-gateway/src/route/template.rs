//! Path templates: `/users/{id}/orders/{*rest}`.

use std::fmt;
use std::sync::Arc;

/// One piece of a [`PathTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A segment that must be equal to this text.
    Literal(String),
    /// `{name}`: any one non-empty segment, captured.
    Capture(Arc<str>),
    /// `{*name}`: the rest of the path (possibly empty), captured; always last.
    Tail(Arc<str>),
}

/// A path pattern with named captures, matched segment by segment against the
/// normalized path.
///
/// `{name}` captures one whole, non-empty segment; `{*name}` (last only) captures the
/// rest of the path, slashes included, possibly empty. Everything else is literal.
/// Captured text is the segment as forwarded (percent-encodings other than unreserved
/// characters stay encoded).
///
/// ```
/// use platform_gateway::route::PathTemplate;
///
/// let t: PathTemplate = "/users/{id}/files/{*path}".parse().unwrap();
/// let captures = t.matches("/users/42/files/a/b.txt").unwrap();
/// assert_eq!(captures.get("id"), Some("42"));
/// assert_eq!(captures.get("path"), Some("a/b.txt"));
/// assert!(t.matches("/users//files/x").is_none());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PathTemplate {
    source: String,
    segments: Vec<Segment>,
}

/// Values captured by a [`PathTemplate`], in template order; also a request extension
/// of routed requests whose path template captured something (absent when nothing was
/// captured).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    values: Vec<(Arc<str>, String)>,
}

impl Captures {
    /// The value captured as `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| &**n == name).map(|(_, v)| v.as_str())
    }

    /// Every (name, value) pair in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (&**n, v.as_str()))
    }

    /// `true` when nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path template {template:?}: {reason}")]
pub struct TemplateError {
    template: String,
    reason: String,
}

impl PathTemplate {
    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Names of the captures, in order.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Capture(n) | Segment::Tail(n) => Some(&**n),
            Segment::Literal(_) => None,
        })
    }

    /// Matches a normalized path; the captures on success.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let mut rest = path.strip_prefix('/')?;
        let mut values = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            if let Segment::Tail(name) = seg {
                values.push((name.clone(), rest.to_owned()));
                return Some(Captures { values });
            }
            let (head, tail, more) = match rest.split_once('/') {
                Some((h, t)) => (h, t, true),
                None => (rest, "", false),
            };
            match seg {
                Segment::Literal(lit) if lit == head => {}
                Segment::Capture(name) if !head.is_empty() => {
                    values.push((name.clone(), head.to_owned()));
                }
                _ => return None,
            }
            let last = i + 1 == self.segments.len();
            if last {
                return (!more).then_some(Captures { values });
            }
            if !more {
                // The path ended but the template goes on: only a tail may match nothing.
                return match self.segments.get(i + 1) {
                    Some(Segment::Tail(name)) if i + 2 == self.segments.len() => {
                        values.push((name.clone(), String::new()));
                        Some(Captures { values })
                    }
                    _ => None,
                };
            }
            rest = tail;
        }
        None
    }

    /// Fills `{name}` placeholders of a rewrite `pattern` with `captures`; see
    /// [`PathTemplate::check_rewrite`] for validation.
    pub(crate) fn expand(pattern: &str, captures: &Captures) -> String {
        let mut out = String::with_capacity(pattern.len() + 16);
        let mut rest = pattern;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = after[..end].trim_start_matches('*');
            out.push_str(captures.get(name).unwrap_or_default());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Checks that a rewrite `pattern` starts with `/` and names only captures of this
    /// template (`None` for a route without a template: then it may name none).
    pub(crate) fn check_rewrite(template: Option<&Self>, pattern: &str) -> Result<(), String> {
        if !pattern.starts_with('/') {
            return Err(format!("{pattern:?} must start with '/'"));
        }
        let mut rest = pattern;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                return Err(format!("{pattern:?} has an unclosed '{{'"));
            };
            let name = after[..end].trim_start_matches('*');
            if !template.is_some_and(|t| t.capture_names().any(|n| n == name)) {
                return Err(format!(
                    "{pattern:?} uses {{{name}}}, which the route's path template does not capture"
                ));
            }
            rest = &after[end + 1..];
        }
        Ok(())
    }
}

impl std::str::FromStr for PathTemplate {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Self, TemplateError> {
        let err = |reason: String| TemplateError { template: s.to_owned(), reason };
        let Some(body) = s.strip_prefix('/') else {
            return Err(err("must start with '/'".into()));
        };
        let parts: Vec<&str> = body.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        let mut names: Vec<&str> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let seg = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(inner) => {
                    let (tail, name) = match inner.strip_prefix('*') {
                        Some(n) => (true, n),
                        None => (false, inner),
                    };
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(err(format!(
                            "capture {part:?} needs a name of letters, digits and '_'"
                        )));
                    }
                    if names.contains(&name) {
                        return Err(err(format!("capture {{{name}}} appears twice")));
                    }
                    names.push(name);
                    if tail && i + 1 != parts.len() {
                        return Err(err(format!("{{*{name}}} must be the last segment")));
                    }
                    if tail { Segment::Tail(name.into()) } else { Segment::Capture(name.into()) }
                }
                None if part.contains('{') || part.contains('}') => {
                    return Err(err(format!(
                        "segment {part:?}: a capture must be a whole segment, like {{id}}"
                    )));
                }
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(seg);
        }
        Ok(Self { source: s.to_owned(), segments })
    }
}

impl fmt::Debug for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathTemplate({:?})", self.source)
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> PathTemplate {
        s.parse().unwrap()
    }

    #[test]
    fn literal_and_captures() {
        let tpl = t("/a/{x}/c");
        assert_eq!(tpl.matches("/a/b/c").unwrap().get("x"), Some("b"));
        assert!(tpl.matches("/a/b/c/").is_none());
        assert!(tpl.matches("/a/b").is_none());
        assert!(tpl.matches("/a//c").is_none());
        assert!(t("/").matches("/").is_some());
        assert!(t("/").matches("/x").is_none());
    }

    #[test]
    fn tail_matches_rest_or_nothing() {
        let tpl = t("/files/{*rest}");
        assert_eq!(tpl.matches("/files/a/b").unwrap().get("rest"), Some("a/b"));
        assert_eq!(tpl.matches("/files/").unwrap().get("rest"), Some(""));
        assert_eq!(tpl.matches("/files").unwrap().get("rest"), Some(""));
        assert!(tpl.matches("/filesx").is_none());
    }

    #[test]
    fn bad_templates_say_why() {
        for (bad, why) in [
            ("users", "start with '/'"),
            ("/a/{}", "needs a name"),
            ("/a/{*x}/b", "last segment"),
            ("/a/x{id}", "whole segment"),
            ("/{a}/{a}", "twice"),
        ] {
            let e = bad.parse::<PathTemplate>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn rewrite_expansion_and_checks() {
        let tpl = t("/u/{id}/{*rest}");
        let c = tpl.matches("/u/7/x/y").unwrap();
        assert_eq!(PathTemplate::expand("/v2/users/{id}/{rest}", &c), "/v2/users/7/x/y");
        assert!(PathTemplate::check_rewrite(Some(&tpl), "/v2/{id}").is_ok());
        assert!(
            PathTemplate::check_rewrite(Some(&tpl), "/v2/{nope}").unwrap_err().contains("nope")
        );
        assert!(PathTemplate::check_rewrite(None, "v2").is_err());
    }
}
