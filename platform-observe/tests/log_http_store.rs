//! `HttpLogStore` against a real central instance (the log router on a TCP port): shipping
//! from another service, search through the client, oversized batches split, retention
//! refused.

mod log_support;

use std::sync::Arc;
use std::time::SystemTime;

use log_support::{rec, sqlite_logs};
use platform_observe::logs::{
    HttpLogStore, LogLevel, LogQuery, LogRouterConfig, LogShipConfig, LogShipper, LogStore,
    LogStoreError, RetentionPolicy, SqlLogStore, logs_router,
};
use tracing_subscriber::layer::SubscriberExt;

/// Serves the log router over `logs` on a free port; returns its base URL.
async fn central(logs: &SqlLogStore, max_body_bytes: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store: Arc<dyn LogStore> = Arc::new(logs.clone());
    let app: axum::Router = logs_router(store, LogRouterConfig { max_body_bytes });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn another_service_ships_to_the_central_instance_and_searches_it() {
    let (logs, _dir) = sqlite_logs().await;
    let url = central(&logs, 1 << 20).await;
    let remote = HttpLogStore::new(&url).unwrap();

    let shipper = LogShipper::new(LogShipConfig::new("billing")).unwrap();
    let _sub =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(shipper.layer()));
    shipper.start(Arc::new(remote.clone())).unwrap();
    tracing::warn!(invoice = "inv-7", "invoice overdue");
    tracing::info!("invoice paid");
    shipper.flush().await.unwrap();
    assert_eq!(shipper.stats().shipped, 2);

    let page = remote
        .search(
            &LogQuery::new().text("invoice").unwrap().min_level(LogLevel::Warn).service("billing"),
        )
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].record.fields["invoice"], "inv-7");
    assert_eq!(logs.count().await.unwrap(), 2, "stored centrally");

    // Pagination through the client.
    let mut q = LogQuery::new().service("billing").limit(1);
    let mut seen = 0;
    loop {
        let page = remote.search(&q).await.unwrap();
        seen += page.records.len();
        match page.next_cursor {
            Some(c) => q = q.cursor(c),
            None => break,
        }
    }
    assert_eq!(seen, 2);

    match remote.search(&LogQuery::new().limit(0).text("x").unwrap()).await {
        Ok(page) => assert!(page.records.is_empty()),
        Err(e) => panic!("a clamped limit is valid: {e}"),
    }
    let err = remote.enforce_retention(&RetentionPolicy::default(), SystemTime::now()).await;
    assert!(matches!(err, Err(LogStoreError::Unsupported(_))), "{err:?}");
}

#[tokio::test]
async fn batches_over_the_central_body_limit_are_split_not_lost() {
    let (logs, _dir) = sqlite_logs().await;
    let url = central(&logs, 2048).await;
    let remote = HttpLogStore::new(&url).unwrap();
    let batch: Vec<_> =
        (0..40).map(|i| rec(i, LogLevel::Info, "billing", &format!("record {i:03}"))).collect();
    remote.append(&batch).await.unwrap();
    assert_eq!(logs.count().await.unwrap(), 40);

    let huge = rec(0, LogLevel::Info, "billing", &"x".repeat(4096));
    match remote.append(&[huge]).await {
        Err(LogStoreError::Rejected { status: 413, .. }) => {}
        other => panic!("a single record over the limit is refused: {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_central_instance_is_unavailable() {
    assert!(HttpLogStore::new("https://logs:9000").is_err());
    assert!(HttpLogStore::new("logs:9000").is_err());
    let remote = HttpLogStore::new("http://127.0.0.1:9").unwrap();
    let err = remote.append(&[rec(0, LogLevel::Info, "a", "b")]).await.unwrap_err();
    assert!(matches!(err, LogStoreError::Unavailable { .. }), "{err:?}");
}
