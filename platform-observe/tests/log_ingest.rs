//! The log router: NDJSON ingest stores whole bodies and rejects bad lines by line number
//! and field (storing nothing of that body); search answers JSON pages; bad requests get
//! 4xx with a JSON error.

mod log_support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use log_support::backends;
use platform_observe::logs::{
    IngestResponse, LogErrorBody, LogPage, LogRouterConfig, LogStore, SqlLogStore, logs_router,
};
use tower::ServiceExt;

fn line(level: &str, message: &str) -> String {
    format!(
        r#"{{"time":"2026-11-26T10:00:00Z","level":"{level}","service":"billing","target":"billing::run","message":"{message}","fields":{{"n":1}}}}"#
    )
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let res = app.clone().oneshot(req).await.expect("infallible router");
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn post(app: &Router, body: impl Into<Body>) -> (StatusCode, Vec<u8>) {
    call(app, Request::post("/logs/ingest").body(body.into()).unwrap()).await
}

async fn get(app: &Router, query: &str) -> (StatusCode, Vec<u8>) {
    call(app, Request::get(format!("/logs/search?{query}")).body(Body::empty()).unwrap()).await
}

fn error(bytes: &[u8]) -> LogErrorBody {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!("not a JSON error body ({e}): {}", String::from_utf8_lossy(bytes))
    })
}

fn router(logs: &SqlLogStore, max_body_bytes: usize) -> Router {
    let store: Arc<dyn LogStore> = Arc::new(logs.clone());
    logs_router(store, LogRouterConfig { max_body_bytes })
}

#[tokio::test]
async fn ingest_accepts_ndjson_and_rejects_bad_lines_whole() {
    for b in backends("log_ingest_lines").await {
        let app = router(&b.logs, 1 << 20);
        let body = [
            line("info", "started"),
            String::new(),
            line("warn", "slow disk"),
            line("error", "crashed"),
        ]
        .join("\n")
            + "\n";
        let (status, bytes) = post(&app, body).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
        let ok: IngestResponse = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(ok.accepted, 3);
        assert_eq!(b.logs.count().await.unwrap(), 3);

        // Lines 2 and 4 are bad: nothing of this body is stored.
        let body = [
            line("info", "good one"),
            line("loud", "bad level"),
            line("info", "good two"),
            r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"billing"}"#.to_owned(),
        ]
        .join("\n");
        let (status, bytes) = post(&app, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let err = error(&bytes);
        assert_eq!(err.body.error, "invalid_records");
        assert_eq!((err.line, err.field.as_deref()), (Some(2), Some("level")));
        let bad: Vec<_> = err.bad_lines.iter().map(|l| (l.line, l.field.clone())).collect();
        assert_eq!(bad, vec![(2, Some("level".into())), (4, Some("message".into()))]);
        assert!(err.body.message.contains("line 2: field `level`"), "{}", err.body.message);
        assert_eq!(b.logs.count().await.unwrap(), 3, "nothing of a rejected body is stored");

        let (status, bytes) = post(&app, "{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error(&bytes).line, Some(1));
        b.cleanup().await;
    }
}

#[tokio::test]
async fn ingest_refuses_bodies_over_the_limit_with_json() {
    let b = backends("log_ingest_limit").await.remove(0);
    let app = router(&b.logs, 1024);
    let body = (0..20).map(|i| line("info", &format!("line {i}"))).collect::<Vec<_>>().join("\n");
    assert!(body.len() > 1024);
    let (status, bytes) = post(&app, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error(&bytes).body.error, "body_too_large");
    assert_eq!(b.logs.count().await.unwrap(), 0);
    b.cleanup().await;
}

#[tokio::test]
async fn search_answers_pages_and_names_bad_parameters() {
    for b in backends("log_ingest_search").await {
        let app = router(&b.logs, 1 << 20);
        let body = (0..5).map(|i| line("warn", &format!("disk {i} slow"))).collect::<Vec<_>>();
        let (status, _) = post(&app, body.join("\n") + "\n" + &line("info", "disk fine")).await;
        assert_eq!(status, StatusCode::OK);

        let (status, bytes) = get(&app, "q=disk%20slow&level=warn&service=billing&limit=2").await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
        let page: LogPage = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.records[0].record.service, "billing");
        let mut total = page.records.len();
        let mut cursor = page.next_cursor;
        while let Some(c) = cursor {
            let (_, bytes) = get(&app, &format!("q=disk+slow&level=warn&limit=2&cursor={c}")).await;
            let page: LogPage = serde_json::from_slice(&bytes).unwrap();
            total += page.records.len();
            cursor = page.next_cursor;
        }
        assert_eq!(total, 5, "{}", b.name);

        for (query, field) in [
            ("level=loud", "level"),
            ("q=%21%21%21", "q"),
            ("trace_id=xyz", "trace_id"),
            ("since=yesterday", "since"),
            ("limit=0", "limit"),
            ("cursor=abc", "cursor"),
            ("colour=red", "query"),
        ] {
            let (status, bytes) = get(&app, query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
            let err = error(&bytes);
            assert_eq!(err.body.error, "invalid_query", "{query}");
            assert_eq!(err.field.as_deref(), Some(field), "{query}: {}", err.body.message);
        }
        b.cleanup().await;
    }
}

#[tokio::test]
async fn a_failing_store_answers_503_and_stores_nothing() {
    let b = backends("log_ingest_down").await.remove(0);
    let app = router(&b.logs, 1 << 20);
    b.logs.store().close().await;
    let (status, bytes) = post(&app, line("info", "lost?")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error(&bytes).body.error, "log_store_unavailable");
    b.cleanup().await;
}
