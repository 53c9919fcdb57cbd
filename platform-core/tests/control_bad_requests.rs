//! Bad requests to the control plane get a 4xx with a JSON body naming what was wrong.

#![cfg(feature = "control")]

use std::sync::Arc;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use platform_core::control::{ApiErrorBody, ControlPlane, MemoryConfigStore};
use platform_core::registry::{MemoryRegistry, Snapshot};
use serde_json::json;
use tower::ServiceExt;

fn app() -> axum::Router {
    ControlPlane::new(Arc::new(MemoryRegistry::new()), Arc::new(MemoryConfigStore::new()))
        .body_limit(4096)
        .router()
}

async fn send(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
    let res = app().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// Sends and expects `status` with an error body whose code is `code`.
async fn rejected(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    status: StatusCode,
    code: &str,
) -> ApiErrorBody {
    let (got, bytes) = send(method, uri, headers, body).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert_eq!(got, status, "{uri}: {text}");
    let body: ApiErrorBody = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: not a JSON error body ({e}): {text}"));
    assert_eq!(body.body.error, code, "{uri}: {text}");
    body
}

fn register_body(port: serde_json::Value, weight: u32, ttl: &str) -> Option<String> {
    Some(json!({"instance": {"service": "orders", "id": "a", "host": "10.0.0.1", "port": port, "weight": weight}, "ttl": ttl}).to_string())
}

#[tokio::test]
async fn registry_input_errors_name_the_field() {
    let url = "/v1/registry/orders/instances";
    let e = rejected(
        Method::POST,
        url,
        &[],
        register_body(json!("eighty"), 1, "10s"),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("instance.port"));
    let e = rejected(
        Method::POST,
        url,
        &[],
        register_body(json!(80), 0, "10s"),
        StatusCode::BAD_REQUEST,
        "invalid_instance",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("weight"));
    assert!(e.body.message.contains("weight"), "{e:?}");
    let e = rejected(
        Method::POST,
        url,
        &[],
        register_body(json!(80), 1, "1ms"),
        StatusCode::BAD_REQUEST,
        "invalid_instance",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("ttl"));
    let e = rejected(
        Method::POST,
        url,
        &[],
        register_body(json!(80), 1, "2h"),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("ttl"));
    let e = rejected(
        Method::POST,
        url,
        &[],
        register_body(json!(80), 1, "soon"),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("ttl"));
    let e = rejected(
        Method::POST,
        "/v1/registry/billing/instances",
        &[],
        register_body(json!(80), 1, "10s"),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("instance.service"));
    let e = rejected(
        Method::POST,
        url,
        &[],
        Some("{not json".into()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("body"));
    let e = rejected(
        Method::PUT,
        "/v1/registry/orders/instances/a/health",
        &[],
        Some(r#"{"health":"sleepy"}"#.into()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("health"));
    let e = rejected(
        Method::GET,
        "/v1/registry/bad%20name",
        &[],
        None,
        StatusCode::BAD_REQUEST,
        "invalid_instance",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("service"));
}

#[tokio::test]
async fn registry_unknowns_are_404_or_empty() {
    rejected(
        Method::PUT,
        "/v1/registry/orders/instances/a/heartbeat",
        &[],
        None,
        StatusCode::NOT_FOUND,
        "lease_not_found",
    )
    .await;
    rejected(
        Method::PUT,
        "/v1/registry/orders/instances/a/health",
        &[],
        Some(r#"{"health":"draining"}"#.into()),
        StatusCode::NOT_FOUND,
        "instance_not_found",
    )
    .await;
    // An unknown service is an empty snapshot at version 0, like `Registry::instances`.
    let (status, bytes) = send(Method::GET, "/v1/registry/never-seen", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Snapshot>(&bytes).unwrap(), Snapshot::default());
    let (status, bytes) = send(Method::DELETE, "/v1/registry/orders/instances/a", &[], None).await;
    assert_eq!((status, bytes), (StatusCode::OK, br#"{"removed":false}"#.to_vec()));
}

#[tokio::test]
async fn config_input_errors_name_the_field() {
    let url = "/v1/config/billing/prod";
    let e = rejected(
        Method::PUT,
        url,
        &[],
        Some(json!({"format": "toml", "text": "workers = = 1\n"}).to_string()),
        StatusCode::BAD_REQUEST,
        "invalid_document",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("text"));
    assert!(e.body.message.contains(":1:"), "names line and column: {e:?}");
    let e = rejected(
        Method::PUT,
        url,
        &[],
        Some(json!({"format": "ini", "text": ""}).to_string()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("format"));
    let good = Some(json!({"format": "toml", "text": "workers = 1\n"}).to_string());
    let e = rejected(
        Method::PUT,
        url,
        &[("if-match", "seven")],
        good.clone(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("If-Match"));
    let e = rejected(
        Method::PUT,
        "/v1/config/bill%2Fing/prod",
        &[],
        good,
        StatusCode::BAD_REQUEST,
        "invalid_document",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("namespace"));
    let e = rejected(
        Method::GET,
        "/v1/config/billing/prod/history?limit=0",
        &[],
        None,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("limit"));
    let e = rejected(
        Method::GET,
        "/v1/config/billing/prod/history?limit=many",
        &[],
        None,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("query"));
    rejected(Method::GET, url, &[], None, StatusCode::NOT_FOUND, "document_not_found").await;
}

#[tokio::test]
async fn limits_and_unknown_routes() {
    let huge =
        json!({"format": "toml", "text": format!("x = \"{}\"\n", "a".repeat(8192))}).to_string();
    rejected(
        Method::PUT,
        "/v1/config/billing/prod",
        &[],
        Some(huge),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    rejected(Method::GET, "/v2/anything", &[], None, StatusCode::NOT_FOUND, "no_route").await;
    rejected(
        Method::PATCH,
        "/v1/config/billing/prod",
        &[],
        None,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}
