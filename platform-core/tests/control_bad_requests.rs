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
    let instance =
        json!({"service": "orders", "id": "a", "host": "10.0.0.1", "port": port, "weight": weight});
    Some(json!({"instance": instance, "ttl": ttl}).to_string())
}

/// One bad request: method, path, `If-Match`, body, expected status, code and field.
type Case = (
    Method,
    &'static str,
    Option<&'static str>,
    Option<String>,
    StatusCode,
    &'static str,
    &'static str,
);

async fn check_cases(cases: Vec<Case>) {
    for (method, uri, if_match, body, status, code, field) in cases {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        let e = rejected(method, uri, &headers, body, status, code).await;
        assert_eq!(e.field.as_deref(), Some(field), "{uri}: {e:?}");
        assert!(!e.body.message.is_empty());
    }
}

#[tokio::test]
async fn registry_input_errors_name_the_field() {
    let post = |body| (Method::POST, "/v1/registry/orders/instances", None, body);
    let bad = StatusCode::BAD_REQUEST;
    let cases: Vec<Case> = vec![
        with(
            post(register_body(json!("eighty"), 1, "10s")),
            bad,
            "invalid_request",
            "instance.port",
        ),
        with(post(register_body(json!(80), 0, "10s")), bad, "invalid_instance", "weight"),
        with(post(register_body(json!(80), 1, "1ms")), bad, "invalid_instance", "ttl"),
        with(post(register_body(json!(80), 1, "2h")), bad, "invalid_request", "ttl"),
        with(post(register_body(json!(80), 1, "soon")), bad, "invalid_request", "ttl"),
        with(post(Some("{not json".into())), bad, "invalid_request", "body"),
        with(
            (
                Method::POST,
                "/v1/registry/billing/instances",
                None,
                register_body(json!(80), 1, "10s"),
            ),
            bad,
            "invalid_request",
            "instance.service",
        ),
        with(
            (
                Method::PUT,
                "/v1/registry/orders/instances/a/health",
                None,
                Some(r#"{"health":"sleepy"}"#.into()),
            ),
            bad,
            "invalid_request",
            "health",
        ),
        with(
            (Method::GET, "/v1/registry/bad%20name", None, None),
            bad,
            "invalid_instance",
            "service",
        ),
    ];
    check_cases(cases).await;
}

fn with(
    (method, uri, if_match, body): (Method, &'static str, Option<&'static str>, Option<String>),
    status: StatusCode,
    code: &'static str,
    field: &'static str,
) -> Case {
    (method, uri, if_match, body, status, code, field)
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
    let doc = |format: &str, text: &str| Some(json!({"format": format, "text": text}).to_string());
    let bad = StatusCode::BAD_REQUEST;
    let cases: Vec<Case> = vec![
        with(
            (Method::PUT, url, None, doc("toml", "workers = = 1\n")),
            bad,
            "invalid_document",
            "text",
        ),
        with((Method::PUT, url, None, doc("ini", "")), bad, "invalid_request", "format"),
        with(
            (Method::PUT, url, Some("seven"), doc("toml", "")),
            bad,
            "invalid_request",
            "If-Match",
        ),
        with(
            (Method::PUT, "/v1/config/bill%2Fing/prod", None, doc("toml", "")),
            bad,
            "invalid_document",
            "namespace",
        ),
        with(
            (Method::GET, "/v1/config/billing/prod/history?limit=0", None, None),
            bad,
            "invalid_request",
            "limit",
        ),
        with(
            (Method::GET, "/v1/config/billing/prod/history?limit=x", None, None),
            bad,
            "invalid_request",
            "query",
        ),
    ];
    check_cases(cases).await;
    let syntax =
        rejected(Method::PUT, url, &[], doc("toml", "workers = = 1\n"), bad, "invalid_document")
            .await;
    assert!(syntax.body.message.contains(":1:"), "names line and column: {syntax:?}");
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
