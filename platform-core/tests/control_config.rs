//! The config half of the control plane: put / get / history / compare-and-set over
//! HTTP, the watch stream, and `HttpConfigSource` feeding a `ConfigHandle`.

#![cfg(all(feature = "control", feature = "http-client"))]

mod config_support;
mod control_support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use config_support::next_event;
use control_support::{TestServer, WAIT};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use platform_core::config::{
    ConfigEvent, ConfigHandle, ConfigLoader, ConfigSource, Format, HttpConfigSource, SourceEvent,
};
use platform_core::control::{
    ApiErrorBody, ConfigDocument, ConfigStore, ConfigStoreError, HistoryResponse, MemoryConfigStore,
};
use platform_core::registry::MemoryRegistry;
use serde_json::json;
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    if_match: Option<&str>,
    text: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(v) = if_match {
        req = req.header(header::IF_MATCH, v);
    }
    let body = text
        .map_or_else(Body::empty, |t| Body::from(json!({"format": "toml", "text": t}).to_string()));
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let etag = res.headers().get(header::ETAG).map(|v| v.to_str().unwrap().to_owned());
    let status = res.status();
    (status, etag, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn put_get_history_and_compare_and_set() {
    let store = MemoryConfigStore::with_history_len(3);
    let app = platform_core::control::router(Arc::new(MemoryRegistry::new()), Arc::new(store));
    let url = "/v1/config/billing/prod";

    let (status, etag, _) =
        call(&app, Method::PUT, url, Some("\"0\""), Some("workers = 1\n")).await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"1\"")), "If-Match 0 creates");
    let (status, etag, body) = call(&app, Method::GET, url, None, None).await;
    let doc: ConfigDocument = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, etag.as_deref(), doc.version, doc.text.as_str()),
        (StatusCode::OK, Some("\"1\""), 1, "workers = 1\n")
    );
    assert!(doc.updated_at_ms > 0);

    let (status, etag, _) =
        call(&app, Method::PUT, url, Some("\"1\""), Some("workers = 2\n")).await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"2\"")));
    // A second editor still based on version 1 loses, and learns the current version.
    let (status, _, body) = call(&app, Method::PUT, url, Some("1"), Some("workers = 9\n")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let err: ApiErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!((err.body.error.as_str(), err.current_version), ("version_conflict", Some(2)));
    let (status, ..) = call(&app, Method::PUT, url, Some("\"0\""), Some("workers = 9\n")).await;
    assert_eq!(status, StatusCode::CONFLICT, "If-Match 0 never overwrites");

    for n in 3..=5 {
        let (status, ..) =
            call(&app, Method::PUT, url, None, Some(&format!("workers = {n}\n"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, _, body) =
        call(&app, Method::GET, &format!("{url}/history?limit=10"), None, None).await;
    let history: HistoryResponse = serde_json::from_slice(&body).unwrap();
    let versions: Vec<u64> = history.versions.iter().map(|d| d.version).collect();
    assert_eq!(versions, [5, 4, 3], "newest first, capped at 3");
    assert_eq!(history.versions[0].text, "workers = 5\n");
    let (_, _, body) = call(&app, Method::GET, &format!("{url}/history?limit=2"), None, None).await;
    assert_eq!(serde_json::from_slice::<HistoryResponse>(&body).unwrap().versions.len(), 2);
}

async fn next_document(stream: &mut BoxStream<'static, SourceEvent>) -> u64 {
    match tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("event in time")
        .expect("stream open")
    {
        SourceEvent::Document(doc) => doc.version,
        other => panic!("expected a document, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_the_current_document_then_new_versions() {
    let store = Arc::new(MemoryConfigStore::new());
    store.put("billing", "prod", Format::Toml, "workers = 1\n", None).await.unwrap();
    let server = TestServer::start(Arc::new(MemoryRegistry::new()), store.clone()).await;
    let source = HttpConfigSource::new(&server.url(), "billing", "prod").unwrap();
    let mut stream = Box::new(source).into_stream();
    assert_eq!(next_document(&mut stream).await, 1, "the current document first");
    store.put("billing", "prod", Format::Toml, "workers = 2\n", None).await.unwrap();
    assert_eq!(next_document(&mut stream).await, 2, "then each new version");
    drop(stream);
    server.stop().await;
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct App {
    workers: u32,
    greeting: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_feeds_a_handle_and_keeps_the_last_good_value() {
    let store = Arc::new(MemoryConfigStore::new());
    let server = TestServer::start(Arc::new(MemoryRegistry::new()), store.clone()).await;
    let loader = ConfigLoader::<App>::new().without_env();
    let handle =
        ConfigHandle::builder()
            .validate(|c: &App| {
                if c.workers > 100 { Err("workers must be at most 100".into()) } else { Ok(()) }
            })
            .build(loader.load().unwrap())
            .unwrap();
    let mut events = handle.events();
    let source = HttpConfigSource::new(&server.url(), "billing", "prod").unwrap();
    let _reloader = loader.spawn_reloader(handle.clone(), vec![Box::new(source)]);

    let put = |text: &'static str| {
        let store = store.clone();
        async move { store.put("billing", "prod", Format::Toml, text, None).await.unwrap() }
    };
    put("workers = 4\ngreeting = \"hi\"\n").await;
    next_event(&mut events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    assert_eq!(*handle.load_full(), App { workers: 4, greeting: "hi".into() });

    // Parses as TOML (so the service stores it) but not as `App`: rejected by the client.
    put("workers = \"many\"\n").await;
    let rejected = next_event(&mut events, |e| matches!(e, ConfigEvent::Rejected { .. })).await;
    assert!(format!("{rejected:?}").contains("workers"), "names the key: {rejected:?}");
    // Fails validation: rejected too.
    put("workers = 500\n").await;
    next_event(&mut events, |e| matches!(e, ConfigEvent::Rejected { .. })).await;
    assert_eq!(handle.load().workers, 4, "the last good value stays");

    put("workers = 8\ngreeting = \"hi\"\n").await;
    next_event(&mut events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    assert_eq!(handle.load().workers, 8);
    server.stop().await;
}

/// A store whose watch never pushes anything: only reconciliation can see new versions.
#[derive(Debug)]
struct NoPush(MemoryConfigStore);

#[async_trait]
impl ConfigStore for NoPush {
    async fn get(&self, ns: &str, env: &str) -> Result<Option<ConfigDocument>, ConfigStoreError> {
        self.0.get(ns, env).await
    }
    async fn put(
        &self,
        ns: &str,
        env: &str,
        f: Format,
        t: &str,
        e: Option<u64>,
    ) -> Result<ConfigDocument, ConfigStoreError> {
        self.0.put(ns, env, f, t, e).await
    }
    async fn history(
        &self,
        ns: &str,
        env: &str,
        n: usize,
    ) -> Result<Vec<ConfigDocument>, ConfigStoreError> {
        self.0.history(ns, env, n).await
    }
    async fn watch(
        &self,
        _: &str,
        _: &str,
    ) -> Result<BoxStream<'static, ConfigDocument>, ConfigStoreError> {
        Ok(futures_util::stream::pending().boxed())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_catches_a_missed_push() {
    let inner = MemoryConfigStore::new();
    let server =
        TestServer::start(Arc::new(MemoryRegistry::new()), Arc::new(NoPush(inner.clone()))).await;
    let source = HttpConfigSource::new(&server.url(), "billing", "prod")
        .unwrap()
        .reconcile_interval(Duration::from_millis(100));
    let mut stream = Box::new(source).into_stream();
    inner.put("billing", "prod", Format::Toml, "workers = 1\n", None).await.unwrap();
    assert_eq!(next_document(&mut stream).await, 1);
    inner.put("billing", "prod", Format::Toml, "workers = 2\n", None).await.unwrap();
    assert_eq!(next_document(&mut stream).await, 2);
    drop(stream);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_service_is_reported_once_then_recovers() {
    // A port nothing listens on yet: take one and free it.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let source = HttpConfigSource::new(&format!("http://{addr}"), "billing", "prod")
        .unwrap()
        .reconnect_delay(Duration::from_millis(50));
    let mut stream = Box::new(source).into_stream();
    let first = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap();
    assert!(matches!(first, SourceEvent::Unavailable { .. }), "{first:?}");
    let store = Arc::new(MemoryConfigStore::new());
    store.put("billing", "prod", Format::Toml, "workers = 3\n", None).await.unwrap();
    let server = TestServer::start_on(addr, Arc::new(MemoryRegistry::new()), store).await;
    assert_eq!(
        next_document(&mut stream).await,
        1,
        "no second Unavailable; the document once it is up"
    );
    drop(stream);
    server.stop().await;
}
