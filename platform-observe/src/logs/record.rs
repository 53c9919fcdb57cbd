//! [`LogRecord`] and [`LogLevel`]: one structured log line, its JSON form and its checks.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::trace::{SpanId, TraceId};

/// The severity of a record, ordered from least to most severe
/// (`Trace < Debug < Info < Warn < Error`).
///
/// Written in JSON as `"trace"`, `"debug"`, `"info"`, `"warn"`, `"error"`; parsed case-
/// insensitively, `"warning"` accepted for `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// Very verbose diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    #[default]
    Info,
    /// Something unexpected the service handled.
    Warn,
    /// A failure.
    Error,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [Self; 5] = [Self::Trace, Self::Debug, Self::Info, Self::Warn, Self::Error];

    /// The lower-case name (`info`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    /// The OpenTelemetry severity number of the level (1, 5, 9, 13, 17); the stores keep
    /// this number so a minimum-level filter is one comparison.
    pub fn severity_number(self) -> i32 {
        match self {
            Self::Trace => 1,
            Self::Debug => 5,
            Self::Info => 9,
            Self::Warn => 13,
            Self::Error => 17,
        }
    }

    /// The level whose [`severity_number`](Self::severity_number) range holds `n`
    /// (OpenTelemetry ranges: 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–24 error).
    pub fn from_severity_number(n: i32) -> Option<Self> {
        Some(match n {
            1..=4 => Self::Trace,
            5..=8 => Self::Debug,
            9..=12 => Self::Info,
            13..=16 => Self::Warn,
            17..=24 => Self::Error,
            _ => return None,
        })
    }
}

impl From<tracing::Level> for LogLevel {
    fn from(level: tracing::Level) -> Self {
        match level {
            tracing::Level::TRACE => Self::Trace,
            tracing::Level::DEBUG => Self::Debug,
            tracing::Level::INFO => Self::Info,
            tracing::Level::WARN => Self::Warn,
            tracing::Level::ERROR => Self::Error,
        }
    }
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => Self::TRACE,
            LogLevel::Debug => Self::DEBUG,
            LogLevel::Info => Self::INFO,
            LogLevel::Warn => Self::WARN,
            LogLevel::Error => Self::ERROR,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level name that is not one of `trace`, `debug`, `info`, `warn` (`warning`), `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{0}`: expected trace, debug, info, warn or error")]
pub struct UnknownLevel(pub String);

impl FromStr for LogLevel {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Self::ALL
            .into_iter()
            .find(|l| t.eq_ignore_ascii_case(l.as_str()))
            .or_else(|| t.eq_ignore_ascii_case("warning").then_some(Self::Warn))
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

impl Serialize for LogLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One structured log record, as shipped, ingested, stored and returned by search.
///
/// Its JSON form is one line of the NDJSON ingest format:
///
/// ```json
/// {"time":"2026-11-26T10:00:00.123456Z","level":"warn","target":"orders::api",
///  "service":"orders","message":"payment slow","fields":{"order_id":42},
///  "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
/// ```
///
/// `time` is RFC 3339 in UTC (`Z` or `+00:00`); `time`, `level`, `service` and
/// `message` are required, the rest optional. Unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When the event happened.
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// Severity.
    pub level: LogLevel,
    /// The emitting module (`tracing` target), e.g. `orders::api`.
    #[serde(default)]
    pub target: String,
    /// The service that emitted the record.
    pub service: String,
    /// The event's message.
    pub message: String,
    /// The event's other fields.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The trace the event belongs to, when it was emitted inside one.
    #[serde(default, with = "opt_hex", skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The span it was emitted in, when known.
    #[serde(default, with = "opt_hex", skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
}

/// Longest accepted `service` and `target`, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A record that fails [`LogRecord::validate`]: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` {problem}")]
pub struct InvalidRecord {
    /// The offending field (`service`, `level`, `time`, …).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl InvalidRecord {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into() }
    }
}

impl LogRecord {
    /// A record stamped now, with no fields and no trace.
    pub fn new(
        level: LogLevel,
        service: impl Into<String>,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            time: SystemTime::now(),
            level,
            target: target.into(),
            service: service.into(),
            message: message.into(),
            fields: serde_json::Map::new(),
            trace_id: None,
            span_id: None,
        }
    }

    /// Checks what the JSON types cannot: `service` is 1 to [`MAX_NAME_LEN`] bytes,
    /// `target` at most [`MAX_NAME_LEN`], neither holds control characters.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        for (field, value, may_be_empty) in
            [("service", &self.service, false), ("target", &self.target, true)]
        {
            if value.is_empty() && !may_be_empty {
                return Err(InvalidRecord::new(field, "must not be empty"));
            }
            if value.len() > MAX_NAME_LEN {
                return Err(InvalidRecord::new(
                    field,
                    format!("is {} bytes long; at most {MAX_NAME_LEN} are allowed", value.len()),
                ));
            }
            if value.chars().any(char::is_control) {
                return Err(InvalidRecord::new(field, "must not contain control characters"));
            }
        }
        Ok(())
    }

    /// Microseconds since the Unix epoch (negative before it), as the stores keep time.
    pub fn time_micros(&self) -> i64 {
        micros_of(self.time)
    }
}

/// Microseconds since the Unix epoch, saturating.
pub(crate) fn micros_of(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

/// The time `us` microseconds after the Unix epoch.
pub(crate) fn time_of_micros(us: i64) -> SystemTime {
    let d = Duration::from_micros(us.unsigned_abs());
    if us >= 0 { UNIX_EPOCH + d } else { UNIX_EPOCH - d }
}

/// Parses an RFC 3339 UTC timestamp, with a message saying what is accepted.
pub(crate) fn parse_time(s: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339(s.trim()).map_err(|e| {
        format!(
            "`{s}` is not an RFC 3339 UTC time ({e}); write e.g. `2026-11-26T10:00:00Z` \
             or `2026-11-26T10:00:00.5+00:00`"
        )
    })
}

/// RFC 3339 with microseconds, UTC.
pub(crate) fn format_time(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_micros(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_time(&s).map_err(serde::de::Error::custom)
    }
}

/// `Option<TraceId>` / `Option<SpanId>` as lower-case hex strings.
mod opt_hex {
    use std::fmt::Display;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::trace::{SpanId, TraceId};

    pub(super) trait Hex: Sized + Display {
        const WHAT: &'static str;
        fn parse(s: &str) -> Option<Self>;
    }

    impl Hex for TraceId {
        const WHAT: &'static str = "32 lower-case hex digits, not all zero";
        fn parse(s: &str) -> Option<Self> {
            TraceId::parse(s)
        }
    }

    impl Hex for SpanId {
        const WHAT: &'static str = "16 lower-case hex digits, not all zero";
        fn parse(s: &str) -> Option<Self> {
            SpanId::parse(s)
        }
    }

    pub(super) fn serialize<T: Hex, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(id) => s.collect_str(id),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, T: Hex, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let Some(s) = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? else {
            return Ok(None);
        };
        T::parse(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not {}", T::WHAT)))
    }
}
