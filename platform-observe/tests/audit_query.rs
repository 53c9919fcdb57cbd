//! Query filters and keyset pages return exactly the matching records, on SQLite and
//! PostgreSQL; bad queries and bad records are refused with the field named.

mod audit_support;

use audit_support::{backends, sample};
use platform_observe::audit::{
    AuditError, AuditLog, AuditQuery, AuditRecord, ChainHead, MAX_LIMIT, Order, Outcome,
};

/// The model of a query: which records it should return.
type Matcher = Box<dyn Fn(&AuditRecord) -> bool>;

/// Every page of `q` (page size `limit`), concatenated; checks the page sizes.
async fn all_pages(log: &AuditLog, q: AuditQuery, limit: u32) -> Vec<u64> {
    let mut q = q.limit(limit);
    let mut out = Vec::new();
    loop {
        let page = log.query(&q).await.expect("query");
        assert!(page.entries.len() <= limit as usize);
        out.extend(page.entries.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(page.entries.len(), limit as usize, "a full page before a cursor");
                assert_eq!(Some(c), out.last().copied());
                q = q.cursor(c);
            }
            None => return out,
        }
    }
}

#[tokio::test]
async fn filters_and_pages_return_exactly_the_matching_records() {
    let records = sample(60);
    for db in backends("audit_query_filters").await {
        db.log.append_batch(records.clone()).await.expect("append");
        let cases: Vec<(AuditQuery, Matcher)> = vec![
            (AuditQuery::new(), Box::new(|_| true)),
            (AuditQuery::new().actor("bob"), Box::new(|r| r.actor.as_deref() == Some("bob"))),
            (AuditQuery::new().action("export"), Box::new(|r| r.action == "export")),
            (
                AuditQuery::new().resource("doc/3"),
                Box::new(|r| r.resource.as_deref() == Some("doc/3")),
            ),
            (
                AuditQuery::new().outcome(Outcome::Denied),
                Box::new(|r| r.outcome == Outcome::Denied),
            ),
            (
                AuditQuery::new().trace_id(format!("{:032x}", 2)),
                Box::new(|r| r.trace_id.as_deref() == Some("00000000000000000000000000000002")),
            ),
            (
                AuditQuery::new().since_ms(1100).until_ms(1300),
                Box::new(|r| (1100..1300).contains(&r.time_ms)),
            ),
            (
                AuditQuery::new().actor("ann").outcome(Outcome::Success).since_ms(1200),
                Box::new(|r| {
                    r.actor.as_deref() == Some("ann")
                        && r.outcome == Outcome::Success
                        && r.time_ms >= 1200
                }),
            ),
            (AuditQuery::new().actor("nobody"), Box::new(|_| false)),
        ];
        for (q, matches) in &cases {
            let want: Vec<u64> =
                (1..).zip(&records).filter(|(_, r)| matches(r)).map(|(seq, _)| seq).collect();
            for order in [Order::Asc, Order::Desc] {
                let mut want = want.clone();
                if order == Order::Desc {
                    want.reverse();
                }
                for limit in [1, 4, 7, 100] {
                    let got = all_pages(&db.log, q.clone().order(order), limit).await;
                    assert_eq!(got, want, "{}: {q:?} {order:?} limit {limit}", db.name);
                }
            }
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn entries_round_trip_every_field() {
    for db in backends("audit_query_round_trip").await {
        let record = AuditRecord::new("role_granted", Outcome::Failure)
            .at_ms(1_700_000_000_123)
            .actor("admin@example.com")
            .resource("user/42")
            .reason("quota_exceeded: ünïcødé")
            .trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
            .source_addr("[2001:db8::1]:443")
            .extra("role", "writer")
            .extra("nested", serde_json::json!({"b": [1, 2.5, null], "a": true}));
        let head = db.log.append(record.clone()).await.unwrap();
        let page = db.log.query(&AuditQuery::new()).await.unwrap();
        assert_eq!(page.entries.len(), 1);
        let entry = &page.entries[0];
        assert_eq!(entry.record, record, "{}", db.name);
        assert_eq!((entry.seq, entry.hash), (head.seq, head.hash));
        assert_eq!(entry.prev_hash, ChainHead::EMPTY.hash);
        assert_eq!(page.next_cursor, None);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn pages_continue_correctly_while_records_are_appended() {
    for db in backends("audit_query_live").await {
        db.log.append_batch(sample(5)).await.unwrap();
        let q = AuditQuery::new().order(Order::Asc).limit(3);
        let first = db.log.query(&q).await.unwrap();
        db.log.append_batch(sample(2)).await.unwrap();
        let second = db.log.query(&q.clone().cursor(first.next_cursor.unwrap())).await.unwrap();
        let seqs: Vec<u64> = second.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [4, 5, 6], "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_queries_name_the_parameter() {
    for db in backends("audit_query_bad").await {
        db.log.append_batch(sample(3)).await.unwrap();
        for (q, field) in [
            (AuditQuery::new().limit(0), "limit"),
            (AuditQuery::new().since_ms(20).until_ms(10), "until_ms"),
            (AuditQuery::new().since_ms(10).until_ms(10), "until_ms"),
            (AuditQuery::new().actor(""), "actor"),
            (AuditQuery::new().action("a".repeat(300)), "action"),
            (AuditQuery::new().resource("a\0b"), "resource"),
            (AuditQuery::new().cursor(u64::MAX), "cursor"),
        ] {
            match db.log.query(&q).await {
                Err(AuditError::InvalidQuery { field: f, problem }) => {
                    assert_eq!(f, field, "{problem}");
                }
                other => panic!("{}: {q:?} gave {other:?}", db.name),
            }
        }
        // Above the cap is not an error: the page is capped.
        let big = AuditQuery::new().limit(MAX_LIMIT * 10);
        assert_eq!(big.effective_limit(), MAX_LIMIT);
        assert_eq!(db.log.query(&big).await.unwrap().entries.len(), 3);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_bad_record_fails_its_whole_batch() {
    for db in backends("audit_bad_record").await {
        let batch = vec![
            AuditRecord::new("ok", Outcome::Success),
            AuditRecord::new("ok", Outcome::Success).actor(""),
            AuditRecord::new("ok", Outcome::Success),
        ];
        let err = db.log.append_batch(batch).await.unwrap_err();
        assert!(
            matches!(err, AuditError::InvalidRecord { index: 1, field: "actor", .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("#1") && err.to_string().contains("`actor`"), "{err}");
        assert_eq!(db.log.head().await.unwrap(), ChainHead::EMPTY, "{}: nothing written", db.name);
        assert_eq!(db.log.append_batch(Vec::new()).await.unwrap(), ChainHead::EMPTY);
        db.cleanup().await;
    }
}
