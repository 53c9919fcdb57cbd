//! The audit router: pages and reports as JSON, 400 with a JSON error naming the
//! parameter for every bad query.

mod audit_support;

use audit_support::{backends, sample};
use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use platform_observe::audit::audit_router;
use serde_json::Value;
use tower::ServiceExt;

async fn call(app: &Router, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder().method(method).uri(uri).body(Body::from(body.to_owned())).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(ct.as_ref().and_then(|v| v.to_str().ok()), Some("application/json"), "{uri}");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    call(app, Method::GET, uri, "").await
}

#[tokio::test]
async fn records_are_paged_as_json() {
    for db in backends("audit_http_records").await {
        db.log.append_batch(sample(12)).await.unwrap();
        let app: Router = audit_router(db.log.clone());
        let (status, page) = get(&app, "/audit/records?actor=ann&order=asc&limit=2").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let seqs: Vec<u64> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [1, 6]);
        assert_eq!(page["entries"][0]["actor"], "ann");
        assert_eq!(page["entries"][0]["hash"].as_str().unwrap().len(), 64);
        assert_eq!(page["next_cursor"], 6);
        let (_, rest) = get(&app, "/audit/records?actor=ann&order=asc&limit=2&cursor=6").await;
        assert_eq!(rest["entries"][0]["seq"], 11);
        assert_eq!(rest["next_cursor"], Value::Null);

        let (_, filtered) = get(
            &app,
            "/audit/records?outcome=denied&since_ms=1000&until_ms=1060&action=key_rotated",
        )
        .await;
        let seqs: Vec<u64> = filtered["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [3], "{}: {filtered}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn verify_reports_as_json() {
    for db in backends("audit_http_verify").await {
        let head = db.log.append_batch(sample(4)).await.unwrap();
        let app: Router = audit_router(db.log.clone());
        let (status, report) = get(&app, "/audit/verify").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (report["valid"].clone(), report["checked"].clone()),
            (Value::Bool(true), 4.into())
        );
        assert_eq!(report["last"]["hash"], head.hash.to_string());

        let anchored = format!("/audit/verify?anchor_seq={}&anchor_hash={}", head.seq, head.hash);
        assert_eq!(get(&app, &anchored).await.1["valid"], true);
        let body =
            format!(r#"{{"anchor": {{"seq": {}, "hash": "{}"}}}}"#, head.seq, "00".repeat(32));
        let (status, report) = call(&app, Method::POST, "/audit/verify", &body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(report["faults"][0]["kind"], "anchor_mismatch", "{report}");
        assert_eq!(call(&app, Method::POST, "/audit/verify", "").await.1["valid"], true);

        db.tamper("UPDATE platform_audit_log SET actor = 'mallory' WHERE seq = 2").await;
        let (status, report) = get(&app, "/audit/verify").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(report["valid"], false);
        assert_eq!(report["faults"][0]["seq"], 2);
        assert_eq!(report["faults"][0]["kind"], "hash_mismatch");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_parameters_get_400_with_a_json_error() {
    for db in backends("audit_http_bad").await {
        let app: Router = audit_router(db.log.clone());
        let hash = "ab".repeat(32);
        let cases = [
            ("/audit/records?limit=abc", Some("limit")),
            ("/audit/records?limit=0", Some("limit")),
            ("/audit/records?limit=-5", Some("limit")),
            ("/audit/records?outcome=ok", Some("outcome")),
            ("/audit/records?order=up", Some("order")),
            ("/audit/records?since_ms=soon", Some("since_ms")),
            ("/audit/records?since_ms=20&until_ms=10", Some("until_ms")),
            ("/audit/records?cursor=-1", Some("cursor")),
            ("/audit/records?actor=", Some("actor")),
            ("/audit/records?acter=ann", None),
            ("/audit/verify?anchor_seq=1", Some("anchor_hash")),
            (&*format!("/audit/verify?anchor_hash={hash}"), Some("anchor_seq")),
            ("/audit/verify?anchor_seq=1&anchor_hash=zz", Some("anchor_hash")),
            ("/audit/verify?page_size=0", Some("page_size")),
            ("/audit/verify?everything=1", None),
        ];
        for (uri, field) in cases {
            let (status, body) = get(&app, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"], "invalid_query", "{uri}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(!message.is_empty());
            match field {
                Some(f) => {
                    assert_eq!(body["field"], f, "{uri}: {body}");
                    assert!(message.contains(&format!("`{f}`")), "{uri}: {message}");
                }
                None => assert!(message.contains("unknown field"), "{uri}: {message}"),
            }
        }
        for body in ["{not json", r#"{"anchor": {"seq": 1}}"#, r#"{"page_sise": 10}"#] {
            let (status, err) = call(&app, Method::POST, "/audit/verify", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err["error"], "invalid_body", "{err}");
        }
        db.cleanup().await;
    }
}
