//! Turning an event's fields into an [`AuditRecord`].

use std::fmt;

use serde_json::{Map, Number, Value};
use tracing::Level;
use tracing::field::{Field, Visit};

use crate::audit::record::{
    AuditRecord, MAX_ACTION_LEN, MAX_EXTRA_LEN, MAX_TEXT_LEN, Outcome, canonical_json,
};

/// Field names read into each record field; the first present wins, the others stay in
/// `extra`. platform-auth's audit events use `event`, `sub`, `path`, `key_id`, `family`
/// and `kid`.
pub(crate) const ACTION: &[&str] = &["action", "event"];
pub(crate) const ACTOR: &[&str] = &["actor", "sub", "subject", "user"];
pub(crate) const RESOURCE: &[&str] = &["resource", "path", "key_id", "family", "kid"];
pub(crate) const SOURCE: &[&str] =
    &["source_addr", "source", "client_addr", "remote_addr", "peer_addr"];

/// Every field of one event, as JSON values.
#[derive(Debug, Default)]
pub(crate) struct EventFields(pub(crate) Map<String, Value>);

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v =
            Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.0.insert(field.name().to_owned(), v);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

impl EventFields {
    /// Removes and returns the first of `names` present, as text.
    pub(crate) fn take(&mut self, names: &[&str]) -> Option<String> {
        let name = names.iter().find(|n| self.0.contains_key(**n))?;
        match self.0.remove(*name)? {
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// The record these fields describe. `trace_id` is the event's own `trace_id` field or
    /// else `current_trace`; `level` decides the outcome when no `outcome` field says.
    pub(crate) fn into_record(
        mut self,
        level: Level,
        name: &str,
        current_trace: impl FnOnce() -> Option<String>,
    ) -> AuditRecord {
        let action = self.take(ACTION).or_else(|| self.take(&["message"]));
        let action = clean(action.unwrap_or_else(|| name.to_owned()), MAX_ACTION_LEN);
        let action = action.unwrap_or_else(|| "unknown".to_owned());
        let outcome = match self.take(&["outcome"]) {
            Some(o) => o.parse().unwrap_or(Outcome::Unknown),
            None => infer_outcome(&action, level),
        };
        let mut record = AuditRecord::new(action, outcome);
        record.actor = self.take(ACTOR).and_then(|v| clean(v, MAX_TEXT_LEN));
        record.resource = self.take(RESOURCE).and_then(|v| clean(v, MAX_TEXT_LEN));
        record.reason = self.take(&["reason"]).and_then(|v| clean(v, MAX_TEXT_LEN));
        record.source_addr = self.take(SOURCE).and_then(|v| clean(v, MAX_TEXT_LEN));
        record.trace_id =
            self.take(&["trace_id"]).or_else(current_trace).and_then(|v| clean(v, MAX_TEXT_LEN));
        let size = canonical_json(&self.0).len();
        if size > MAX_EXTRA_LEN {
            self.0.clear();
            let note = format!("{size} bytes of extra fields dropped (limit {MAX_EXTRA_LEN})");
            self.0.insert("extra_dropped".to_owned(), Value::String(note));
        }
        record.extra = self.0;
        record
    }
}

/// No `outcome` field: an action named `…denied` was denied; otherwise a `WARN` event
/// reports a failure, an `ERROR` event an error, anything quieter a success.
pub(crate) fn infer_outcome(action: &str, level: Level) -> Outcome {
    if action.ends_with("denied") {
        Outcome::Denied
    } else if level == Level::ERROR {
        Outcome::Error
    } else if level == Level::WARN {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// `value` without NUL characters, cut to at most `max` bytes on a character boundary;
/// `None` when nothing is left.
pub(crate) fn clean(value: String, max: usize) -> Option<String> {
    let mut v = if value.contains('\0') { value.replace('\0', "") } else { value };
    if v.len() > max {
        let mut end = max;
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        v.truncate(end);
    }
    (!v.is_empty()).then_some(v)
}
