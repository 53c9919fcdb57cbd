//! Path normalization: done once, and the result is used for matching and forwarding.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::route::predicate::hex;

/// What to do with an encoded slash (`%2F`) in a request path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodedSlash {
    /// Answer `400 Bad Request` (the default): the upstream and the gateway could
    /// otherwise disagree on where segments end.
    #[default]
    Reject,
    /// Decode it to `/` before dot segments are removed, so it separates segments
    /// for matching and forwarding alike.
    Decode,
    /// Keep it encoded (as `%2F`): a literal slash inside one segment, for upstreams
    /// that decode it themselves.
    Preserve,
}

/// How request paths are normalized.
///
/// Normalization runs once per request, before routing, and the normalized path is the
/// one matched **and** forwarded, so a route that matches `/admin` also sees
/// `/%61dmin`, `/x/../admin` and `//admin`. Steps: percent-encoded unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) are decoded and other escapes upper-cased (RFC
/// 3986 §6.2.2); `%2F` is handled by [`encoded_slash`](Self::encoded_slash); `%00` and
/// malformed escapes are refused; empty segments are merged (`//` → `/`) unless
/// `merge_slashes` is off; `.` and `..` segments are removed (RFC 3986 §5.2.4, never
/// above the root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathPolicy {
    /// Encoded-slash handling (default `reject`).
    pub encoded_slash: EncodedSlash,
    /// Merge repeated slashes (default `true`).
    pub merge_slashes: bool,
}

impl Default for PathPolicy {
    fn default() -> Self {
        Self { encoded_slash: EncodedSlash::Reject, merge_slashes: true }
    }
}

/// Why a path was refused (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the request path must start with '/'")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("malformed percent-encoding in the request path")]
    BadEscape,
    /// `%00` in the path.
    #[error("the request path contains an encoded NUL (%00)")]
    Nul,
    /// `%2F` while the policy rejects it.
    #[error("the request path contains an encoded slash (%2F), which this gateway rejects")]
    EncodedSlash,
}

impl PathPolicy {
    /// The normalized form of `path` (borrowed when already normal).
    ///
    /// ```
    /// use platform_gateway::proxy::{EncodedSlash, PathPolicy};
    ///
    /// let policy = PathPolicy::default();
    /// assert_eq!(policy.normalize("/a/./b/../%63//d").unwrap(), "/a/c/d");
    /// assert!(policy.normalize("/a%2Fb").is_err());
    /// let keep = PathPolicy { encoded_slash: EncodedSlash::Preserve, ..PathPolicy::default() };
    /// assert_eq!(keep.normalize("/a%2fb/..").unwrap(), "/");
    /// ```
    ///
    /// # Errors
    /// A [`PathError`] for a relative path, a malformed escape, `%00`, or `%2F` under
    /// [`EncodedSlash::Reject`].
    pub fn normalize<'a>(&self, path: &'a str) -> Result<Cow<'a, str>, PathError> {
        if path == "*" {
            return Ok(Cow::Borrowed(path));
        }
        if !path.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        if already_normal(path, self.merge_slashes) {
            // Most paths: nothing to decode, no dot segments, no empty ones.
            return Ok(Cow::Borrowed(path));
        }
        let decoded = self.decode(path)?;
        let out = remove_dots(&decoded, self.merge_slashes);
        if out == path { Ok(Cow::Borrowed(path)) } else { Ok(Cow::Owned(out)) }
    }

    fn decode<'a>(&self, path: &'a str) -> Result<Cow<'a, str>, PathError> {
        if !path.contains('%') {
            return Ok(Cow::Borrowed(path));
        }
        let bytes = path.as_bytes();
        let mut out = String::with_capacity(path.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b != b'%' {
                out.push(b as char);
                i += 1;
                continue;
            }
            let (Some(h), Some(l)) =
                (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex))
            else {
                return Err(PathError::BadEscape);
            };
            let v = h << 4 | l;
            match v {
                0 => return Err(PathError::Nul),
                b'/' => match self.encoded_slash {
                    EncodedSlash::Reject => return Err(PathError::EncodedSlash),
                    EncodedSlash::Decode => out.push('/'),
                    EncodedSlash::Preserve => out.push_str("%2F"),
                },
                v if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') => {
                    out.push(v as char);
                }
                v => {
                    out.push('%');
                    out.push(HEX[usize::from(v >> 4)] as char);
                    out.push(HEX[usize::from(v & 0xf)] as char);
                }
            }
            i += 3;
        }
        Ok(Cow::Owned(out))
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `true` when `path` (absolute) has no escape, no `.` or `..` segment and, when
/// `merge`, no empty segment: normalizing it would give it back unchanged.
fn already_normal(path: &str, merge: bool) -> bool {
    let b = path.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'%' => return false,
            b'/' => match b.get(i + 1) {
                Some(b'/') if merge => return false,
                Some(b'.') => match b.get(i + 2) {
                    None | Some(b'/') => return false,
                    Some(b'.') if matches!(b.get(i + 3), None | Some(b'/')) => return false,
                    _ => {}
                },
                _ => {}
            },
            _ => {}
        }
    }
    true
}

/// Removes `.` and `..` segments (and empty ones when `merge`), keeping a trailing slash.
fn remove_dots(path: &str, merge: bool) -> String {
    let body = &path[1..];
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing = false;
    let mut parts = body.split('/').peekable();
    while let Some(seg) = parts.next() {
        let last = parts.peek().is_none();
        match seg {
            "." => trailing = last,
            ".." => {
                stack.pop();
                trailing = last;
            }
            "" if last => trailing = true,
            "" if merge => {}
            s => {
                stack.push(s);
                trailing = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for seg in &stack {
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> String {
        PathPolicy::default().normalize(p).unwrap().into_owned()
    }

    #[test]
    fn dot_segments_and_slashes() {
        for (input, want) in [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/../../etc", "/etc"),
            ("/..", "/"),
            ("//a///b//", "/a/b/"),
            ("/a/%2e%2E/b", "/b"),
            ("/%61dmin", "/admin"),
            ("/a%7e%20b", "/a~%20b"),
            ("/a%c3%a9", "/a%C3%A9"),
        ] {
            assert_eq!(n(input), want, "{input}");
        }
    }

    #[test]
    fn unmerged_slashes_are_kept() {
        let p = PathPolicy { merge_slashes: false, ..PathPolicy::default() };
        assert_eq!(p.normalize("/a//b/").unwrap(), "/a//b/");
    }

    #[test]
    fn encoded_slash_policies() {
        let d = PathPolicy { encoded_slash: EncodedSlash::Decode, ..PathPolicy::default() };
        assert_eq!(d.normalize("/a%2F..%2Fb").unwrap(), "/b");
        let p = PathPolicy { encoded_slash: EncodedSlash::Preserve, ..PathPolicy::default() };
        assert_eq!(p.normalize("/a%2f..%2Fb").unwrap(), "/a%2F..%2Fb");
        assert_eq!(PathPolicy::default().normalize("/a%2fb"), Err(PathError::EncodedSlash));
    }

    #[test]
    fn bad_paths() {
        let p = PathPolicy::default();
        assert_eq!(p.normalize("a/b"), Err(PathError::NotAbsolute));
        assert_eq!(p.normalize("/a%2"), Err(PathError::BadEscape));
        assert_eq!(p.normalize("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(p.normalize("/a%00"), Err(PathError::Nul));
        assert_eq!(p.normalize("*").unwrap(), "*");
    }

    #[test]
    fn normal_paths_are_borrowed() {
        assert!(matches!(PathPolicy::default().normalize("/a/b").unwrap(), Cow::Borrowed(_)));
        assert!(matches!(PathPolicy::default().normalize("/a/.b/..c/").unwrap(), Cow::Borrowed(_)));
    }

    /// The shortcut for paths already normal agrees with the full normalization on
    /// every path it takes.
    #[test]
    fn the_shortcut_only_takes_paths_normalization_keeps() {
        let alphabet = [b'/', b'/', b'.', b'.', b'a', b'%', b'2', b'e'];
        for merge in [true, false] {
            let policy = PathPolicy { merge_slashes: merge, ..PathPolicy::default() };
            for _ in 0..20_000 {
                let len = fastrand::usize(0..10);
                let mut path = vec![b'/'];
                path.extend((0..len).map(|_| alphabet[fastrand::usize(..alphabet.len())]));
                let path = String::from_utf8(path).unwrap();
                if already_normal(&path, merge) {
                    let decoded = policy.decode(&path).unwrap();
                    assert_eq!(remove_dots(&decoded, merge), path, "merge={merge}");
                }
            }
        }
    }
}
