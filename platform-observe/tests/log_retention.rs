//! Retention removes records older than the age limit and the oldest beyond the count
//! limit — only those — with their full-text index entries, on SQLite and PostgreSQL.

mod log_support;

use std::time::Duration;

use log_support::{Backend, backends, rec, t0};
use platform_core::store::Store;
use platform_observe::logs::{LogLevel, LogQuery, LogStore, RetentionPolicy};

const HOUR: u64 = 3600;

/// Index entries of `word` in the SQLite FTS table (PostgreSQL keeps its index in the row).
async fn sqlite_index_hits(b: &Backend, word: &str) -> Option<i64> {
    let Store::Sqlite(pool) = b.logs.store() else { return None };
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM platform_logs_fts WHERE platform_logs_fts MATCH $1",
    )
    .bind(word)
    .fetch_one(pool)
    .await
    .expect("fts count");
    Some(n)
}

async fn messages(b: &Backend) -> Vec<String> {
    let page = b.logs.search(&LogQuery::new()).await.expect("search");
    page.records.into_iter().map(|e| e.record.message).collect()
}

#[tokio::test]
async fn age_then_count_limits_remove_only_what_they_should() {
    for b in backends("log_retention_limits").await {
        let n = b.name;
        // Record i is i hours and 30 minutes older than `now`.
        let now = t0() + Duration::from_secs(20 * HOUR);
        let records: Vec<_> = (0..10)
            .map(|i| {
                let at = 20 * HOUR - i * HOUR - HOUR / 2;
                rec(at, LogLevel::Info, "svc", &format!("event number{i} happened"))
            })
            .collect();
        b.logs.append(&records).await.unwrap();

        let age_only =
            RetentionPolicy { max_age: Some(Duration::from_secs(5 * HOUR)), max_records: None };
        let report = b.logs.enforce_retention(&age_only, now).await.unwrap();
        assert_eq!((report.expired, report.trimmed), (5, 0), "{n}");
        let expected: Vec<String> = (0..5).map(|i| format!("event number{i} happened")).collect();
        assert_eq!(messages(&b).await, expected, "{n}: the five youngest remain");

        let count_only = RetentionPolicy { max_age: None, max_records: Some(3) };
        let report = b.logs.enforce_retention(&count_only, now).await.unwrap();
        assert_eq!((report.expired, report.trimmed), (0, 2), "{n}");
        assert_eq!(messages(&b).await, expected[..3].to_vec(), "{n}: the three newest remain");

        // Deleted records leave the full-text index too.
        let gone = b.logs.search(&LogQuery::new().text("number4").unwrap()).await.unwrap();
        assert!(gone.records.is_empty(), "{n}");
        if let Some(hits) = sqlite_index_hits(&b, "number4").await {
            assert_eq!(hits, 0, "{n}: stale FTS entry");
            assert_eq!(sqlite_index_hits(&b, "happened").await, Some(3), "{n}");
        }

        let both =
            RetentionPolicy { max_age: Some(Duration::from_secs(5 * HOUR)), max_records: Some(3) };
        let again = b.logs.enforce_retention(&both, now).await.unwrap();
        assert_eq!((again.expired, again.trimmed), (0, 0), "{n}: nothing more to delete");
        assert_eq!(b.logs.count().await.unwrap(), 3, "{n}");
        b.cleanup().await;
    }
}

#[tokio::test]
async fn count_limit_keeps_the_newest_ids_among_equal_times() {
    for b in backends("log_retention_ties").await {
        let same: Vec<_> =
            (0..4).map(|i| rec(7, LogLevel::Info, "svc", &format!("tie {i}"))).collect();
        b.logs.append(&same).await.unwrap();
        let policy = RetentionPolicy { max_age: None, max_records: Some(2) };
        let report = b.logs.enforce_retention(&policy, t0()).await.unwrap();
        assert_eq!(report.trimmed, 2, "{}", b.name);
        assert_eq!(messages(&b).await, ["tie 3", "tie 2"], "{}", b.name);
        b.cleanup().await;
    }
}

#[tokio::test]
async fn large_expiries_run_in_chunks_until_done() {
    for b in backends("log_retention_chunks").await {
        // More than two 5000-row deletion chunks.
        let old: Vec<_> = (0..12_000).map(|_| rec(0, LogLevel::Debug, "svc", "old")).collect();
        b.logs.append(&old).await.unwrap();
        b.logs.append(&[rec(10 * HOUR, LogLevel::Info, "svc", "fresh")]).await.unwrap();
        let policy =
            RetentionPolicy { max_age: Some(Duration::from_secs(HOUR)), max_records: None };
        let report =
            b.logs.enforce_retention(&policy, t0() + Duration::from_secs(10 * HOUR)).await.unwrap();
        assert_eq!(report.expired, 12_000, "{}", b.name);
        assert_eq!(messages(&b).await, ["fresh"], "{}", b.name);
        b.cleanup().await;
    }
}
