//! Unit tests of the logs module: search text, records, NDJSON, parameters, config.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::trace::TraceId;

#[test]
fn search_text_quotes_every_word_as_a_literal() {
    let q = SearchText::parse(r#"Payment "timeo*" OR 1=1; -- NEAR(a b) col:x"#).unwrap();
    assert_eq!(q.to_string(), "payment timeo* or 1 1 near a b col x");
    assert_eq!(q.to_fts5(), r#""payment" "timeo"* "or" "1" "1" "near" "a" "b" "col" "x""#);
    assert_eq!(
        q.to_tsquery(),
        "'payment' & 'timeo':* & 'or' & '1' & '1' & 'near' & 'a' & 'b' & 'col' & 'x'"
    );
    // Display is a fixed point of parse.
    assert_eq!(SearchText::parse(&q.to_string()).unwrap(), q);
}

#[test]
fn search_text_splits_punctuation_and_folds_case() {
    let q = SearchText::parse("order_id=42 Ünïcode→Straße").unwrap();
    assert_eq!(q.to_string(), "order id 42 ünïcode straße");
    assert!(!q.to_fts5().contains('='));
}

#[test]
fn search_text_refuses_what_cannot_be_searched() {
    for (text, needle) in [
        ("", "holds no word"),
        ("  -- ** ''' ", "holds no word"),
        (&"a ".repeat(MAX_TERMS + 1), "at most 16"),
        (&"x".repeat(MAX_TEXT_LEN + 1), "at most 512"),
    ] {
        let err = SearchText::parse(text).unwrap_err();
        assert_eq!(err.param(), "q");
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn levels_parse_order_and_map_to_severity_numbers() {
    assert_eq!("WARNING".parse::<LogLevel>().unwrap(), LogLevel::Warn);
    assert_eq!(" Error ".parse::<LogLevel>().unwrap(), LogLevel::Error);
    assert!("loud".parse::<LogLevel>().unwrap_err().to_string().contains("expected trace"));
    assert!(LogLevel::Trace < LogLevel::Error);
    for l in LogLevel::ALL {
        assert_eq!(LogLevel::from_severity_number(l.severity_number()), Some(l));
        assert_eq!(LogLevel::from(tracing::Level::from(l)), l);
    }
    assert_eq!(LogLevel::from_severity_number(0), None);
}

fn sample() -> LogRecord {
    let mut r = LogRecord::new(LogLevel::Warn, "orders", "orders::api", "slow payment");
    r.time = UNIX_EPOCH + Duration::from_micros(1_764_151_200_123_456);
    r.fields.insert("order_id".into(), 42.into());
    r.trace_id = TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736");
    r.span_id = crate::trace::SpanId::parse("00f067aa0ba902b7");
    r
}

#[test]
fn record_json_round_trips_with_rfc3339_micros_and_hex_ids() {
    let r = sample();
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""time":"2025-11-26T10:00:00.123456Z""#), "{json}");
    assert!(json.contains(r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#), "{json}");
    assert!(json.contains(r#""level":"warn""#), "{json}");
    assert_eq!(serde_json::from_str::<LogRecord>(&json).unwrap(), r);
    assert_eq!(parse_ndjson(&to_ndjson(&[r.clone(), r.clone()])).unwrap(), vec![r.clone(), r]);
}

#[test]
fn times_before_the_epoch_survive_the_microsecond_conversion() {
    for us in [-1_500_000, -1, 0, 1, 1_764_151_200_123_456] {
        assert_eq!(record::micros_of(record::time_of_micros(us)), us);
    }
}

#[test]
fn ndjson_names_line_and_field_of_every_bad_line() {
    let ok = r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a","message":"m"}"#;
    let body = [
        ok,
        "",
        r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a"}"#,
        r#"{"time":"yesterday","level":"info","service":"a","message":"m"}"#,
        r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a","message":"m","trace_id":"xyz"}"#,
        r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"","message":"m"}"#,
        r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a","message":"m"} trailing"#,
        "not json",
        r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a","message":"m","fields":[1]}"#,
    ]
    .join("\n");
    let err = parse_ndjson(body.as_bytes()).unwrap_err();
    let got: Vec<(usize, Option<&str>)> =
        err.bad.iter().map(|b| (b.line, b.field.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (3, Some("message")),
            (4, Some("time")),
            (5, Some("trace_id")),
            (6, Some("service")),
            (7, None),
            (8, None),
            (9, Some("fields")),
        ]
    );
    assert_eq!(err.total_lines, 8);
    assert!(err.to_string().starts_with("7 of 8 lines"), "{err}");
    assert!(err.bad[1].message.contains("RFC 3339"), "{}", err.bad[1].message);
    assert!(parse_ndjson(b"\n\n").unwrap().is_empty());
}

#[test]
fn query_parameters_round_trip_and_name_the_bad_one() {
    let q = LogQuery::new()
        .text("disk full*")
        .unwrap()
        .min_level(LogLevel::Warn)
        .service("orders")
        .trace_id(TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").unwrap())
        .since(UNIX_EPOCH + Duration::from_secs(1_000_000))
        .until(UNIX_EPOCH + Duration::from_micros(2_000_000_000_001))
        .cursor("123.45".parse().unwrap())
        .limit(5000);
    let params = q.to_params();
    let back = LogQuery::from_params(params.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    assert_eq!(back, q.clone().limit(MAX_LIMIT));
    assert_eq!(q.effective_limit(), MAX_LIMIT);

    for (params, param, needle) in [
        (vec![("level", "loud")], "level", "unknown log level"),
        (vec![("trace_id", "abc")], "trace_id", "32 lower-case hex"),
        (vec![("since", "monday")], "since", "RFC 3339"),
        (vec![("cursor", "x")], "cursor", "next_cursor"),
        (vec![("limit", "0")], "limit", "at least 1"),
        (vec![("limit", "-3")], "limit", "positive whole number"),
        (vec![("q", "!!")], "q", "no word"),
        (vec![("levle", "warn")], "query", "unknown parameter `levle`"),
        (vec![("service", "a"), ("service", "b")], "service", "more than once"),
    ] {
        let err = LogQuery::from_params(params).unwrap_err();
        assert_eq!(err.param(), param, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn ship_config_validation_names_the_field() {
    LogShipConfig::default().validate().unwrap();
    for (cfg, field) in [
        (LogShipConfig { service: String::new(), ..LogShipConfig::default() }, "service"),
        (LogShipConfig { buffer: 0, ..LogShipConfig::default() }, "buffer"),
        (LogShipConfig { batch_size: 0, ..LogShipConfig::default() }, "batch_size"),
        (LogShipConfig { batch_delay: Duration::ZERO, ..LogShipConfig::default() }, "batch_delay"),
        (LogShipConfig { write_attempts: 0, ..LogShipConfig::default() }, "write_attempts"),
        (
            LogShipConfig { exclude_targets: vec![String::new()], ..LogShipConfig::default() },
            "exclude_targets",
        ),
    ] {
        assert_eq!(cfg.validate().unwrap_err().field, field);
    }
    let err = serde_json::from_str::<LogShipConfig>(r#"{"bufer": 3}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `bufer`"), "{err}");
}

#[test]
fn shipper_refuses_to_start_outside_a_runtime() {
    let shipper = LogShipper::new(LogShipConfig::default()).unwrap();
    let store: std::sync::Arc<dyn LogStore> = std::sync::Arc::new(Never);
    assert_eq!(shipper.start(store).unwrap_err(), ShipError::NoRuntime);
}

/// A store that is never called in these tests.
struct Never;

#[async_trait::async_trait]
impl LogStore for Never {
    async fn append(&self, _: &[LogRecord]) -> Result<(), LogStoreError> {
        unreachable!()
    }
    async fn search(&self, _: &LogQuery) -> Result<LogPage, LogStoreError> {
        unreachable!()
    }
    async fn enforce_retention(
        &self,
        _: &RetentionPolicy,
        _: std::time::SystemTime,
    ) -> Result<RetentionReport, LogStoreError> {
        unreachable!()
    }
}
