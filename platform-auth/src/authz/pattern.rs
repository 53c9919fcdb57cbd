//! [`Pattern`]: segment wildcards for actions (`orders:*`) and resources (`orders/**`).

use std::fmt;

/// A pattern over separated segments: actions use `:` (`orders:read`), resources `/`
/// (`orders/42/items`).
///
/// Per segment: a literal matches itself; `*` matches exactly one segment; `**` matches
/// any number of segments, including none; a `*` inside a segment (`report-*.csv`) matches
/// any characters within that one segment. Leading and trailing separators are ignored,
/// so `/orders/` is `orders`. Matching is case-sensitive and linear in
/// `pattern segments × path segments`.
///
/// ```
/// use platform_auth::authz::Pattern;
///
/// let p = Pattern::resource("orders/*/items/**")?;
/// assert!(p.matches("orders/42/items"));
/// assert!(p.matches("/orders/42/items/7/notes"));
/// assert!(!p.matches("orders/42"));
/// assert!(Pattern::action("orders:*")?.matches("orders:read"));
/// # Ok::<(), platform_auth::authz::PatternError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    raw: String,
    sep: char,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`
    One,
    /// `**`
    Any,
    /// A segment with `*` inside: the literal pieces between them.
    Glob(Vec<String>),
}

/// Why a pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern `{pattern}`: {problem}")]
#[non_exhaustive]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong.
    pub problem: &'static str,
}

impl Pattern {
    /// An action pattern (segments separated by `:`).
    pub fn action(raw: &str) -> Result<Self, PatternError> {
        Self::parse(raw, ':')
    }

    /// A resource pattern (segments separated by `/`).
    pub fn resource(raw: &str) -> Result<Self, PatternError> {
        Self::parse(raw, '/')
    }

    fn parse(raw: &str, sep: char) -> Result<Self, PatternError> {
        let bad = |problem| PatternError { pattern: raw.to_owned(), problem };
        let trimmed = raw.trim_matches(sep);
        if trimmed.is_empty() {
            return Err(bad("is empty (use `**` to match everything)"));
        }
        let mut segments = Vec::new();
        for s in trimmed.split(sep) {
            let seg = match s {
                "" => return Err(bad("has an empty segment")),
                "*" => Segment::One,
                "**" => Segment::Any,
                s if s.contains("**") => {
                    return Err(bad("`**` must be a whole segment"));
                }
                s if s.contains('*') => Segment::Glob(s.split('*').map(str::to_owned).collect()),
                s => Segment::Literal(s.to_owned()),
            };
            segments.push(seg);
        }
        Ok(Self { raw: raw.to_owned(), sep, segments })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether `value` (an action or resource, same separator) matches.
    pub fn matches(&self, value: &str) -> bool {
        let trimmed = value.trim_matches(self.sep);
        let parts: Vec<&str> =
            if trimmed.is_empty() { Vec::new() } else { trimmed.split(self.sep).collect() };
        // row[j]: the first i pattern segments match the first j parts.
        let mut row = vec![false; parts.len() + 1];
        row[0] = true;
        for seg in &self.segments {
            let mut next = vec![false; parts.len() + 1];
            for j in 0..=parts.len() {
                next[j] = match seg {
                    // Zero parts (row[j]) or one more part (next[j - 1]).
                    Segment::Any => row[j] || (j > 0 && next[j - 1]),
                    _ => j > 0 && row[j - 1] && seg.matches_one(parts[j - 1]),
                };
            }
            row = next;
        }
        row[parts.len()]
    }
}

impl Segment {
    fn matches_one(&self, part: &str) -> bool {
        match self {
            Self::Literal(l) => l == part,
            Self::One => true,
            Self::Any => true,
            Self::Glob(pieces) => glob(pieces, part),
        }
    }
}

/// `pieces` joined by `*` matches `s`: the first piece is a prefix, the last a suffix,
/// the middle ones appear in order (leftmost-first is optimal for `*`-only globs).
fn glob(pieces: &[String], s: &str) -> bool {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else { return false };
    if pieces.len() < 2 {
        return first == s;
    }
    let Some(mut rest) = s.strip_prefix(first.as_str()) else { return false };
    for mid in &pieces[1..pieces.len() - 1] {
        match rest.find(mid.as_str()) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.raw)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests;
