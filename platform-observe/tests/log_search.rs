//! Log search finds records by text, level, service, trace id and time range, pages with a
//! cursor, and treats any user text as words — on SQLite (FTS5) and PostgreSQL.

mod log_support;

use std::collections::HashSet;
use std::time::Duration;

use log_support::{backends, rec, t0};
use platform_observe::logs::LogRecord;
use platform_observe::logs::{LogLevel, LogQuery, LogStore, LogStoreError, SqlLogStore};
use platform_observe::trace::{SpanId, TraceId};

const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_B: &str = "0af7651916cd43dd8448eb211c80319c";

async fn seed(logs: &SqlLogStore) {
    let a = TraceId::parse(TRACE_A);
    let mut records = vec![
        rec(0, LogLevel::Info, "auth", "user alice logged in"),
        rec(1, LogLevel::Warn, "orders", "payment timeout for order 42"),
        rec(2, LogLevel::Error, "orders", "Payment declined: card expired"),
        rec(3, LogLevel::Debug, "orders", "cache miss key=user:7"),
        rec(4, LogLevel::Error, "storage", "disk full on /var/lib"),
        rec(5, LogLevel::Info, "geo", "Über-Straße café"),
    ];
    records[0].fields.insert("user".into(), "alice".into());
    records[1].fields.insert("order_id".into(), 42.into());
    records[1].trace_id = a;
    records[1].span_id = SpanId::parse("00f067aa0ba902b7");
    records[2].trace_id = a;
    records[2].fields.insert("detail".into(), serde_json::json!({"reason": ["expired", 2027]}));
    records[4].trace_id = TraceId::parse(TRACE_B);
    logs.append(&records).await.expect("append");
}

/// The messages of the first page of `q`, newest first.
async fn messages(logs: &SqlLogStore, q: LogQuery) -> Vec<String> {
    let page = logs.search(&q).await.expect("search");
    page.records.into_iter().map(|e| e.record.message).collect()
}

fn text(t: &str) -> LogQuery {
    LogQuery::new().text(t).expect("valid search text")
}

#[tokio::test]
async fn search_by_text_level_service_trace_and_time() {
    for b in backends("log_search_filters").await {
        let logs = &b.logs;
        seed(logs).await;
        let n = b.name;
        let m = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let declined = "Payment declined: card expired";
        let timeout = "payment timeout for order 42";

        assert_eq!(messages(logs, text("payment")).await, m(&[declined, timeout]), "{n}");
        assert_eq!(messages(logs, text("PAYMENT Timeout")).await, m(&[timeout]), "{n}");
        assert_eq!(messages(logs, text("time*")).await, m(&[timeout]), "{n}: prefix");
        assert_eq!(messages(logs, text("alice")).await, m(&["user alice logged in"]), "{n}");
        // Field keys and values, nested ones included, are searchable.
        assert_eq!(messages(logs, text("order_id 42")).await, m(&[timeout]), "{n}: field");
        assert_eq!(messages(logs, text("2027")).await, m(&[declined]), "{n}: nested field");
        assert_eq!(messages(logs, text("straße")).await, m(&["Über-Straße café"]), "{n}");
        assert!(messages(logs, text("cafe")).await.is_empty(), "{n}: accents are kept");
        assert!(messages(logs, text("payment alice")).await.is_empty(), "{n}: words are ANDed");

        let warn = LogQuery::new().min_level(LogLevel::Warn);
        assert_eq!(
            messages(logs, warn).await,
            m(&["disk full on /var/lib", declined, timeout]),
            "{n}: min level"
        );
        let q = LogQuery::new().min_level(LogLevel::Error).service("orders");
        assert_eq!(messages(logs, q).await, m(&[declined]), "{n}: level + service");

        let a = TraceId::parse(TRACE_A).unwrap();
        let page = logs.search(&LogQuery::new().trace_id(a)).await.unwrap();
        let got: Vec<_> = page.records.iter().map(|e| e.record.message.as_str()).collect();
        assert_eq!(got, [declined, timeout], "{n}: trace");
        assert!(page.records.iter().all(|e| e.record.trace_id == Some(a)));
        assert_eq!(page.records[1].record.span_id, SpanId::parse("00f067aa0ba902b7"));
        assert_eq!(page.records[1].record.fields["order_id"], 42);
        assert_eq!(page.records[1].record.time, t0() + Duration::from_secs(1));
        assert_eq!(messages(logs, text("declined").trace_id(a)).await, m(&[declined]), "{n}");

        let range = LogQuery::new()
            .since(t0() + Duration::from_secs(2))
            .until(t0() + Duration::from_secs(5));
        assert_eq!(
            messages(logs, range).await,
            m(&["disk full on /var/lib", "cache miss key=user:7", declined]),
            "{n}: since inclusive, until exclusive"
        );
        b.cleanup().await;
    }
}

#[tokio::test]
async fn hostile_text_is_searched_as_words_never_as_syntax() {
    for b in backends("log_search_hostile").await {
        let logs = &b.logs;
        seed(logs).await;
        for t in [
            r#""); DROP TABLE platform_logs; --"#,
            "NEAR(payment declined)",
            "message:payment",
            "payment OR alice",
            "payment AND NOT declined",
            "payment '\\' \" \\\" '' ^ :* & | ! <-> ( )",
            "payment*)",
            "\u{0}payment",
        ] {
            match logs.search(&text(t)).await {
                Ok(_) => {}
                Err(e @ LogStoreError::Database { .. }) => {
                    panic!("{}: {t:?} reached the database as syntax: {e:?}", b.name)
                }
                Err(e) => panic!("{}: {t:?}: {e}", b.name),
            }
        }
        // `OR` is a word, not an operator: no record holds both "payment" and "or".
        assert!(messages(logs, text("payment OR alice")).await.is_empty(), "{}", b.name);
        assert_eq!(logs.count().await.unwrap(), 6, "{}: the table is intact", b.name);
        b.cleanup().await;
    }
}

#[tokio::test]
async fn keyset_pages_neither_skip_nor_repeat_records() {
    for b in backends("log_search_pages").await {
        let logs = &b.logs;
        seed(logs).await;
        // Two more at the same instant as an existing record: the id breaks the tie.
        logs.append(&[
            rec(3, LogLevel::Info, "orders", "tie one"),
            rec(3, LogLevel::Info, "orders", "tie two"),
        ])
        .await
        .unwrap();
        let mut seen = Vec::new();
        let mut q = LogQuery::new().limit(3);
        loop {
            let page = logs.search(&q).await.unwrap();
            assert!(page.records.len() <= 3);
            seen.extend(page.records.iter().map(|e| (e.record.time, e.id)));
            match page.next_cursor {
                Some(c) => q = q.cursor(c.to_string().parse().unwrap()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 8, "{}", b.name);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 8, "{}: no repeats", b.name);
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "{}: newest first by (time, id)", b.name);
        b.cleanup().await;
    }
}

/// A batch larger than one insert statement (SQLite splits it into statements of 256
/// rows; the last one partial): every record is stored once and indexed under its own id.
#[tokio::test]
async fn a_large_batch_is_stored_and_indexed_record_by_record() {
    for b in backends("log_search_large_batch").await {
        let logs = &b.logs;
        let batch: Vec<LogRecord> = (0..600)
            .map(|i| {
                let mut r = rec(i, LogLevel::Info, "orders", &format!("order number{i} placed"));
                r.fields.insert("order".into(), i.into());
                r
            })
            .collect();
        logs.append(&batch).await.unwrap();
        for i in [0, 255, 256, 511, 512, 599] {
            let found = messages(logs, text(&format!("number{i}"))).await;
            assert_eq!(found, vec![format!("order number{i} placed")], "{}: text of {i}", b.name);
            let by_field = messages(logs, text(&i.to_string())).await;
            assert!(by_field.contains(&format!("order number{i} placed")), "{}: field {i}", b.name);
        }
        assert_eq!(messages(logs, text("placed").limit(1000)).await.len(), 600, "{}", b.name);
        b.cleanup().await;
    }
}
