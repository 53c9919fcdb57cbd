//! [`AuditRecord`] and [`Outcome`]: what one entry of the audit trail says.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest `action` accepted, in bytes.
pub const MAX_ACTION_LEN: usize = 256;
/// The longest `actor`, `resource`, `reason`, `trace_id` or `source_addr`, in bytes.
pub const MAX_TEXT_LEN: usize = 4096;
/// The longest `extra` object accepted, in bytes of its canonical JSON.
pub const MAX_EXTRA_LEN: usize = 64 * 1024;

/// How the audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The action was carried out.
    Success,
    /// The action was attempted and did not succeed (bad credentials, invalid token…).
    Failure,
    /// A policy refused the action (missing scope, forbidden resource).
    Denied,
    /// The system could not decide or complete the action (a backend was down).
    Error,
    /// The emitter did not say.
    Unknown,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 5] =
        [Self::Success, Self::Failure, Self::Denied, Self::Error, Self::Unknown];

    /// The stored and serialized name: `success`, `failure`, `denied`, `error`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the [`Outcome`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an outcome: expected success, failure, denied, error or unknown")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|o| o.as_str() == s).ok_or_else(|| UnknownOutcome(s.into()))
    }
}

/// One entry of the audit trail: who did what to which resource, how it ended and why.
///
/// Build it with [`new`](Self::new) and the setters; the time is taken then. Optional
/// fields are `None` when unknown (an empty string is refused on append). `extra` holds
/// any further fields as a JSON object; it is hashed in a canonical form (sorted keys),
/// so the order in which fields were added does not matter.
///
/// ```
/// use platform_observe::audit::{AuditRecord, Outcome};
///
/// let record = AuditRecord::new("api_key_revoked", Outcome::Success)
///     .actor("alice")
///     .resource("api_key/7f3a")
///     .source_addr("10.0.0.7")
///     .extra("ticket", "OPS-12");
/// assert_eq!(record.actor.as_deref(), Some("alice"));
/// assert_eq!(record.extra["ticket"], "OPS-12");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// When it happened: milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// Who acted (a subject, user or service name).
    pub actor: Option<String>,
    /// What was done: a stable, machine-readable name such as `token_issued`.
    pub action: String,
    /// What it was done to (a path, key id, record id).
    pub resource: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it ended so (`insufficient_scope`, `expired`).
    pub reason: Option<String>,
    /// The trace the action ran in (32 hex digits for W3C trace context).
    pub trace_id: Option<String>,
    /// Where the request came from (an IP address, `ip:port`).
    pub source_addr: Option<String>,
    /// Any further fields.
    #[serde(default)]
    pub extra: Map<String, Value>,
}

impl AuditRecord {
    /// A record of `action` ending with `outcome`, timed now, every other field unset.
    pub fn new(action: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            time_ms: now_ms(),
            actor: None,
            action: action.into(),
            resource: None,
            outcome,
            reason: None,
            trace_id: None,
            source_addr: None,
            extra: Map::new(),
        }
    }

    /// Sets the time (milliseconds since the Unix epoch).
    pub fn at_ms(mut self, time_ms: i64) -> Self {
        self.time_ms = time_ms;
        self
    }

    /// Sets who acted.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets what was acted on.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Sets why the action ended so.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the trace id (anything displayable, e.g. a [`TraceId`](crate::trace::TraceId)).
    pub fn trace_id(mut self, trace_id: impl fmt::Display) -> Self {
        self.trace_id = Some(trace_id.to_string());
        self
    }

    /// Sets where the request came from.
    pub fn source_addr(mut self, addr: impl fmt::Display) -> Self {
        self.source_addr = Some(addr.to_string());
        self
    }

    /// Adds (or replaces) one free-form field.
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// The optional text fields with their names, in a fixed order.
    pub(crate) fn optional_fields(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("actor", self.actor.as_deref()),
            ("resource", self.resource.as_deref()),
            ("reason", self.reason.as_deref()),
            ("trace_id", self.trace_id.as_deref()),
            ("source_addr", self.source_addr.as_deref()),
        ]
    }

    /// Checks the limits; returns the field at fault and the problem. `extra` is the
    /// canonical JSON of [`extra`](Self::extra).
    pub(crate) fn check(&self, extra: &str) -> Result<(), (&'static str, String)> {
        check_text("action", &self.action, MAX_ACTION_LEN)?;
        for (field, value) in self.optional_fields() {
            if let Some(v) = value {
                check_text(field, v, MAX_TEXT_LEN)?;
            }
        }
        if extra.len() > MAX_EXTRA_LEN {
            return Err((
                "extra",
                format!("is {} bytes of JSON, more than the {MAX_EXTRA_LEN} allowed", extra.len()),
            ));
        }
        Ok(())
    }
}

/// Non-empty, at most `max` bytes, no NUL (PostgreSQL `TEXT` cannot hold it).
pub(crate) fn check_text(
    field: &'static str,
    v: &str,
    max: usize,
) -> Result<(), (&'static str, String)> {
    if v.is_empty() {
        return Err((field, "is empty: leave it unset instead".to_owned()));
    }
    if v.len() > max {
        return Err((field, format!("is {} bytes long, more than the {max} allowed", v.len())));
    }
    if v.contains('\0') {
        return Err((field, "contains a NUL character".to_owned()));
    }
    Ok(())
}

/// `extra` as JSON with object keys sorted at every depth, whatever the map's own order.
pub(crate) fn canonical_json(extra: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_object(extra, &mut out);
    out
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(&Value::String(k.clone()), out);
        out.push(':');
        write_value(&map[k], out);
    }
    out.push('}');
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => write_object(m, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        // Scalars print the same whatever the map type.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
