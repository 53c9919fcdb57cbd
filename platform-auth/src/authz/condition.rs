//! [`Condition`]: attribute comparisons such as `resource.owner == principal.id`.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use super::request::Resource;
use crate::principal::{CredentialKind, Principal};

/// One comparison over attributes, written `<operand> <operator> <operand>`.
///
/// Operands are attributes — `principal.<name>`, `resource.<name>` or `context.<name>`,
/// with `.` for nested objects — or JSON literals (`"eu"`, `3`, `true`, `["a", "b"]`).
/// Operators: `==`, `!=`, `<`, `<=`, `>`, `>=` (numbers), `in` (the left value is an
/// element of the right array) and `contains` (the left array has the right value).
///
/// Principal attributes: `id` (= `subject`), `roles`, `scopes`, `kind` (`bearer`,
/// `api_key`, `session_cookie`), `key_id`, then any claim of its token (`tenant`,
/// `sid`, …). Resource attributes: `id` (the resource path) and those the caller set.
/// Context attributes: what the caller put in the request context (the
/// [`AuthorizeLayer`](crate::AuthorizeLayer) sets `method` and `path`).
///
/// An attribute that is missing makes the condition false, whatever the operator: a
/// policy never allows because data is absent.
#[derive(Clone, PartialEq)]
pub struct Condition {
    raw: String,
    left: Operand,
    op: Op,
    right: Operand,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Attr(Root, Vec<String>),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Principal,
    Resource,
    Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid condition `{condition}`: {problem}")]
#[non_exhaustive]
pub struct ConditionError {
    /// The condition as written.
    pub condition: String,
    /// What is wrong.
    pub problem: String,
}

/// What conditions are evaluated against.
pub(crate) struct Attrs<'a> {
    pub(crate) principal: &'a Principal,
    pub(crate) resource: &'a Resource,
    pub(crate) context: &'a Map<String, Value>,
}

const OPERATORS: [(&str, Op); 6] =
    [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];

impl Condition {
    /// Parses `raw`.
    pub fn parse(raw: &str) -> Result<Self, ConditionError> {
        let bad = |problem: String| ConditionError { condition: raw.to_owned(), problem };
        let (left, rest) = operand(raw.trim_start()).map_err(bad)?;
        let (op, rest) = operator(rest.trim_start()).map_err(bad)?;
        let (right, rest) = operand(rest.trim_start()).map_err(bad)?;
        if !rest.trim().is_empty() {
            return Err(bad(format!("unexpected `{}` after the comparison", rest.trim())));
        }
        if matches!((&left, &right), (Operand::Literal(_), Operand::Literal(_))) {
            return Err(bad("compares two literals; one side must be an attribute".to_owned()));
        }
        Ok(Self { raw: raw.trim().to_owned(), left, op, right })
    }

    /// The condition as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub(crate) fn holds(&self, attrs: &Attrs<'_>) -> bool {
        let (Some(l), Some(r)) = (attrs.value(&self.left), attrs.value(&self.right)) else {
            return false;
        };
        let (l, r) = (l.as_ref(), r.as_ref());
        match self.op {
            Op::Eq => same(l, r),
            Op::Ne => !same(l, r),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else { return false };
                match self.op {
                    Op::Lt => a < b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    _ => a >= b,
                }
            }
            Op::In => r.as_array().is_some_and(|items| items.iter().any(|i| same(l, i))),
            Op::Contains => l.as_array().is_some_and(|items| items.iter().any(|i| same(i, r))),
        }
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

fn operand(s: &str) -> Result<(Operand, &str), String> {
    let word_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(s.len());
    let word = &s[..word_end];
    let is_attr = word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !matches!(word, "true" | "false" | "null");
    if is_attr {
        let mut parts = word.split('.');
        let root = match parts.next() {
            Some("principal") => Root::Principal,
            Some("resource") => Root::Resource,
            Some("context") => Root::Context,
            other => {
                return Err(format!(
                    "unknown attribute root `{}` (expected principal, resource or context)",
                    other.unwrap_or_default()
                ));
            }
        };
        let path: Vec<String> = parts.map(str::to_owned).collect();
        if path.is_empty() {
            return Err(format!(
                "`{word}` needs an attribute name after the root, e.g. `{word}.id`"
            ));
        }
        if path.iter().any(String::is_empty) {
            return Err(format!("`{word}` has an empty attribute name"));
        }
        return Ok((Operand::Attr(root, path), &s[word_end..]));
    }
    if s.is_empty() {
        return Err("a comparison needs two operands".to_owned());
    }
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    match values.next() {
        Some(Ok(v)) => Ok((Operand::Literal(v), &s[values.byte_offset()..])),
        _ => Err(format!(
            "`{}` is neither an attribute (principal.…, resource.…, context.…) nor a JSON literal",
            s.split_whitespace().next().unwrap_or(s)
        )),
    }
}

fn operator(s: &str) -> Result<(Op, &str), String> {
    for (token, op) in OPERATORS {
        if let Some(rest) = s.strip_prefix(token) {
            return Ok((op, rest));
        }
    }
    for (word, op) in [("in", Op::In), ("contains", Op::Contains)] {
        if let Some(rest) = s.strip_prefix(word)
            && rest.starts_with(char::is_whitespace)
        {
            return Ok((op, rest));
        }
    }
    let found = s.split_whitespace().next().unwrap_or("the end");
    Err(format!("expected an operator (== != < <= > >= in contains), found `{found}`"))
}

impl Attrs<'_> {
    fn value(&self, operand: &Operand) -> Option<Cow<'_, Value>> {
        let (root, path) = match operand {
            Operand::Literal(v) => return Some(Cow::Owned(v.clone())),
            Operand::Attr(root, path) => (root, path),
        };
        let (first, rest) = path.split_first()?;
        let top: Cow<'_, Value> = match root {
            Root::Principal => self.principal_attr(first)?,
            Root::Resource if first == "id" => Cow::Owned(Value::from(self.resource.id.as_str())),
            Root::Resource => Cow::Borrowed(self.resource.attributes.get(first)?),
            Root::Context => Cow::Borrowed(self.context.get(first)?),
        };
        rest.iter().try_fold(top, |v, key| match v {
            Cow::Borrowed(v) => v.get(key).map(Cow::Borrowed),
            Cow::Owned(v) => v.get(key).cloned().map(Cow::Owned),
        })
    }

    fn principal_attr(&self, name: &str) -> Option<Cow<'_, Value>> {
        let p = self.principal;
        let strings = |v: &[String]| Value::from(v.to_vec());
        let owned = match name {
            "id" | "subject" | "sub" => Value::from(p.subject.as_str()),
            "roles" => strings(&p.roles),
            "scopes" => strings(&p.scopes),
            "kind" => Value::from(match p.kind {
                CredentialKind::Bearer => "bearer",
                CredentialKind::ApiKey => "api_key",
                CredentialKind::SessionCookie => "session_cookie",
            }),
            "key_id" => Value::from(p.key_id.clone()?),
            _ => {
                let claims = p.claims.as_deref()?;
                return match name {
                    "sid" => claims.sid.as_deref().map(|s| Cow::Owned(Value::from(s))),
                    "iss" => Some(Cow::Owned(Value::from(claims.iss.as_str()))),
                    _ => claims.extra.get(name).map(Cow::Borrowed),
                };
            }
        };
        Some(Cow::Owned(owned))
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Condition({:?})", self.raw)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests;
