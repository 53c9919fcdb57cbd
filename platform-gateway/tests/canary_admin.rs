//! The `/admin/canary` router: status, manual actions, and the JSON errors for unknown
//! canaries, unknown actions, refused actions and bad bodies.

mod canary_support;

use axum::body::Body;
use canary_support::*;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use platform_gateway::canary::{Canary, Rollouts, admin_router};
use serde_json::Value;
use tower::ServiceExt;

async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn setup() -> (axum::Router, Canary, Rollouts) {
    let rollouts = Rollouts::in_memory().with_instance("gw-1");
    let canary = planned(&rollouts, &[5.0, 50.0, 100.0], 20).await;
    (admin_router(rollouts.clone()), canary, rollouts)
}

#[tokio::test]
async fn status_lists_step_weights_stats_and_the_last_decision() {
    let (app, canary, _rollouts) = setup().await;
    drive(&canary, 0..400, failing_candidate);
    let (status, list) = call(&app, "GET", "/admin/canary", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, one) = call(&app, "GET", "/admin/canary/users", "").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["name"], "users");
    assert_eq!(one["instance"], "gw-1");
    assert_eq!(one["phase"], "progressing");
    assert_eq!(one["step"], 0);
    assert_eq!(one["steps"], serde_json::json!([5.0, 50.0, 100.0]));
    assert_eq!(one["versions"][0]["name"], STABLE);
    assert_eq!(one["versions"][0]["role"], "stable");
    assert_eq!(one["versions"][0]["weight_percent"], 95.0);
    assert_eq!(one["versions"][1]["weight_percent"], 5.0);
    let window = &one["versions"][1]["window"];
    assert!(window["requests"].as_u64().unwrap() > 0, "{one}");
    assert!(window["failures"].as_u64().unwrap() > 0, "{one}");
    assert!(window["p99_ms"].as_f64().unwrap() > 0.0, "{one}");
    assert_eq!(one["last_decision"]["kind"], "start");
    let total: u64 = [0, 1]
        .iter()
        .map(|i| one["versions"][*i]["instance_total"]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 400);
}

#[tokio::test]
async fn actions_change_the_rollout_and_record_who_and_why() {
    let (app, canary, _rollouts) = setup().await;
    let (status, paused) = call(
        &app,
        "POST",
        "/admin/canary/users/pause",
        r#"{"reason":"load test","actor":"carol"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["phase"], "paused");
    assert_eq!(paused["last_decision"]["kind"], "pause");
    assert_eq!(paused["last_decision"]["actor"], "carol");
    assert_eq!(paused["last_decision"]["reason"], "load test");

    let (status, refused) = call(&app, "POST", "/admin/canary/users/pause", "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["error"], "action_refused");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("progressing or rolling-back"), "{message}");

    let (status, resumed) = call(&app, "POST", "/admin/canary/users/resume", "").await;
    assert_eq!((status, &resumed["phase"]), (StatusCode::OK, &Value::from("progressing")));
    assert_eq!(resumed["last_decision"]["actor"], "admin");

    let (status, promoted) = call(&app, "POST", "/admin/canary/users/promote", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(promoted["phase"], "promoted");
    assert_eq!(promoted["versions"][1]["weight_percent"], 100.0);
    assert_eq!(weight(&canary, NEXT), 100.0);

    let (status, rolled) = call(&app, "POST", "/admin/canary/users/rollback", "").await;
    assert_eq!((status, &rolled["phase"]), (StatusCode::OK, &Value::from("rolled_back")));
    let (status, retried) = call(&app, "POST", "/admin/canary/users/retry", "").await;
    assert_eq!((status, &retried["step"]), (StatusCode::OK, &Value::from(0)));
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let (app, _canary, _rollouts) = setup().await;
    let (status, e) = call(&app, "GET", "/admin/canary/orders", "").await;
    assert_eq!((status, &e["error"]), (StatusCode::NOT_FOUND, &Value::from("unknown_canary")));
    let (status, e) = call(&app, "POST", "/admin/canary/orders/pause", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    let (status, e) = call(&app, "POST", "/admin/canary/users/jump", "").await;
    assert_eq!((status, &e["error"]), (StatusCode::BAD_REQUEST, &Value::from("unknown_action")));
    assert!(e["message"].as_str().unwrap().contains("promote, pause, resume"), "{e}");
    let (status, e) = call(&app, "POST", "/admin/canary/users/pause", "{\"why\":1}").await;
    assert_eq!((status, &e["error"]), (StatusCode::BAD_REQUEST, &Value::from("bad_request")));
}

#[tokio::test]
async fn a_canary_without_a_plan_is_listed_but_not_steered() {
    let rollouts = Rollouts::in_memory();
    let fixed = builder(&rollouts).await.weight(10.0).build().await.unwrap();
    let app = admin_router(rollouts.clone());
    let (status, one) = call(&app, "GET", "/admin/canary/users", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["phase"], Value::Null);
    assert_eq!(one["versions"][1]["weight_percent"], 10.0);
    let (status, e) = call(&app, "POST", "/admin/canary/users/promote", "").await;
    assert_eq!((status, &e["error"]), (StatusCode::CONFLICT, &Value::from("no_plan")));
    drop(fixed);
    let (status, _) = call(&app, "GET", "/admin/canary/users", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a dropped canary is no longer listed");
}
