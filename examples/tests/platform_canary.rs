//! A canary rollout through the platform, driven end to end over HTTP: two versions of
//! the demo upstream behind a canary route of the routes file, the gateway judging
//! them, the canary admin API on the admin listener, the rollout in the platform's
//! database across restarts and reloads of the routes file.

mod common;

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::eventually;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use platform_examples::demo_upstream::DemoUpstream;
use platform_examples::platform::{Platform, PlatformConfig};
use serde_json::{Value, json};

/// Serves version `version` of the demo upstream, failing `error_rate` of its requests.
async fn demo(version: &str, error_rate: f64) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = DemoUpstream::new(version).error_rate(error_rate).router();
    tokio::spawn(axum::serve(listener, router).into_future());
    addr
}

/// A routes file with the `demo` canary route between `v1` and `v2`, following `plan`
/// (judged every 100 ms), then `extra`.
fn routes(v1: SocketAddr, v2: SocketAddr, plan: &str, extra: &str) -> String {
    format!(
        r#"
[upstreams.demo-v1]
endpoints = ["{v1}"]

[upstreams.demo-v2]
endpoints = ["{v2}"]

[[routes]]
id = "demo"
path_prefix = "/demo"

[routes.canary]
stable = "demo-v1"
canary = "demo-v2"
cohort = [{{ header = "x-user-id" }}]
override_header = "x-canary"
plan = {plan}
analysis = {{ interval = "100ms", max_error_rate_increase = 0.05, on_failure = "rollback" }}
{extra}"#
    )
}

/// The platform of the tests with `routes` as its routes file in `dir`.
async fn start(dir: &Path, routes: &str) -> (Platform, PlatformConfig, PathBuf) {
    let file = dir.join("routes.toml");
    std::fs::write(&file, routes).expect("write the routes file");
    let mut config = common::config(dir);
    config.gateway.routes_file = Some(file.clone());
    (common::start(&config).await, config, file)
}

/// Sends one request per user `u{i}` to `/demo/`; returns which version answered each.
async fn traffic(gateway: &str, users: Range<u32>) -> BTreeMap<u32, String> {
    let mut answered = BTreeMap::new();
    for i in users {
        let req = Request::get(format!("{gateway}/demo/hello"))
            .header("x-user-id", format!("u{i}"))
            .body(Full::<Bytes>::default())
            .expect("request");
        let answer = common::send(req).await;
        let version = answer.body["version"].as_str().unwrap_or("none").to_owned();
        answered.insert(i, version);
    }
    answered
}

/// How many requests each version answered.
fn count(answered: &BTreeMap<u32, String>) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for version in answered.values() {
        *counts.entry(version.as_str()).or_default() += 1;
    }
    counts
}

/// `GET /admin/canary/demo`.
async fn status(platform: &Platform) -> Value {
    let admin = common::admin_url(platform);
    let answer = common::get(&format!("{admin}/admin/canary/demo"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body
}

/// `POST /admin/canary/demo/{action}` with a reason, as `token`'s holder.
async fn act(platform: &Platform, action: &str, token: Option<&str>) -> common::Answer {
    let url = format!("{}/admin/canary/demo/{action}", common::admin_url(platform));
    common::json(Method::POST, &url, &json!({"reason": format!("test {action}")}), token).await
}

/// Sends traffic from ever new users until the rollout's status satisfies `done`.
async fn drive_until(platform: &Platform, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let gateway = platform.gateway_url();
    for round in 0..200 {
        let status = status(platform).await;
        if done(&status) {
            return status;
        }
        traffic(&gateway, round * 40..round * 40 + 40).await;
    }
    panic!("{what} did not happen; the rollout is at {:#}", status(platform).await);
}

/// `after` is the rollout `before` was: same phase, step, revision and window.
fn assert_same_rollout(before: &Value, after: &Value, event: &str) {
    for key in ["phase", "step", "revision", "window", "window_started_ms"] {
        assert_eq!(after[key], before[key], "{key} after {event}: {after:#}");
    }
}

/// The candidate's weight in percent.
fn candidate_weight(status: &Value) -> f64 {
    status["versions"][1]["weight_percent"].as_f64().expect("weight")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_rolled_back_then_retried_and_promoted_through_the_admin_api() {
    let (v1, v2) = (demo("v1", 0.0).await, demo("v2", 0.5).await);
    let plan = r#"{ steps = [50, 100], min_duration = "300ms", min_requests = 20 }"#;
    let dir = tempfile::tempdir().unwrap();
    let (platform, _, _) = start(dir.path(), &routes(v1, v2, plan, "")).await;
    let gateway = platform.gateway_url();
    let admin = common::admin_url(&platform);

    let listed = common::get(&format!("{admin}/admin/canary"), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body[0]["name"], "demo", "{:?}", listed.body);
    assert_eq!(listed.body[0]["phase"], "progressing");
    assert_eq!(candidate_weight(&listed.body[0]), 50.0);

    // Half the users reach v2, which fails half its requests: rolled back at step 1.
    let rolled_back = drive_until(&platform, "the rollback", |s| s["phase"] == "rolled_back").await;
    let decision = &rolled_back["last_decision"];
    assert_eq!(decision["kind"], "rollback", "{rolled_back:#}");
    let reason = decision["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("step 1 failed") && reason.contains("error rate"), "{reason}");
    assert!(decision["actor"].as_str().is_some_and(|a| a.starts_with("analysis@")));
    assert_eq!(candidate_weight(&rolled_back), 0.0);

    // The stable version serves every user now; testers still reach v2 on purpose.
    let answered = traffic(&gateway, 10_000..10_200).await;
    assert_eq!(count(&answered), BTreeMap::from([("v1", 200)]));
    let forced = Request::get(format!("{gateway}/demo/hello"))
        .header("x-canary", "demo-v2")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(common::send(forced).await.body["version"], "v2");
    let metrics = common::get(&format!("{admin}/metrics"), None).await.body;
    let metrics = metrics.as_str().unwrap_or_default();
    assert!(
        metrics.contains(r#"gateway_canary_decisions_total{canary="demo",decision="rollback"} 1"#),
        "{metrics}"
    );

    // Actions need an administrator's token; they are recorded under their name.
    let refused = act(&platform, "retry", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);
    let token = common::admin_token(&platform).await;
    let bob = json!({"username": "bob", "password": "another long passphrase"});
    let created =
        common::json(Method::POST, &format!("{admin}/admin/users"), &bob, Some(&token)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let first = platform.bootstrap().expect("a first start");
    let bobs = common::login(&gateway, first, "bob", "another long passphrase").await;
    let bobs = bobs.body["access_token"].as_str().expect("bob's token").to_owned();
    let forbidden = act(&platform, "retry", Some(&bobs)).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "not an administrator: {:?}",
        forbidden.body
    );
    let retried = act(&platform, "retry", Some(&token)).await;
    assert_eq!(retried.status, StatusCode::OK, "{:?}", retried.body);
    assert_eq!(
        (retried.body["phase"].as_str(), retried.body["step"].as_u64()),
        (Some("progressing"), Some(0))
    );
    // The actor is the token's subject: the administrator's user id.
    let actor = retried.body["last_decision"]["actor"].as_str().unwrap_or_default().to_owned();
    assert!(!actor.is_empty() && actor != "admin" && !actor.starts_with("analysis@"), "{actor}");
    let refused = act(&platform, "resume", Some(&token)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "action_refused");

    let promoted = act(&platform, "promote", Some(&token)).await;
    assert_eq!(promoted.status, StatusCode::OK, "{:?}", promoted.body);
    assert_eq!(promoted.body["phase"], "promoted");
    let answered = traffic(&gateway, 20_000..20_100).await;
    assert_eq!(count(&answered), BTreeMap::from([("v2", 100)]));
    platform.shutdown().await;
}

/// Step 1 is quick, step 2 (50 %) lasts an hour: the rollout stays there.
const TWO_STEPS: &str = r#"{ steps = [10, { weight = 50, min_duration = "1h" }, 100], min_duration = "300ms", min_requests = 10 }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_rollout_resumes_at_the_same_step_with_the_same_users() {
    let (v1, v2) = (demo("v1", 0.0).await, demo("v2", 0.0).await);
    let dir = tempfile::tempdir().unwrap();
    let (platform, config, _) = start(dir.path(), &routes(v1, v2, TWO_STEPS, "")).await;
    let before = drive_until(&platform, "step 2", |s| s["step"] == 1).await;
    assert_eq!((before["phase"].as_str(), candidate_weight(&before)), (Some("progressing"), 50.0));
    let users_before = traffic(&platform.gateway_url(), 0..200).await;
    let split = count(&users_before);
    assert!(split["v1"] > 50 && split["v2"] > 50, "about half each: {split:?}");
    platform.shutdown().await;

    let platform = common::start(&config).await;
    let after = status(&platform).await;
    assert_same_rollout(&before, &after, "the restart");
    assert_eq!(after["last_decision"], before["last_decision"]);
    assert_eq!(candidate_weight(&after), 50.0);
    let users_after = traffic(&platform.gateway_url(), 0..200).await;
    assert_eq!(users_after, users_before, "every user keeps their version");
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_the_routes_file_mid_rollout_keeps_the_step() {
    let (v1, v2) = (demo("v1", 0.0).await, demo("v2", 0.0).await);
    let dir = tempfile::tempdir().unwrap();
    let (platform, _, file) = start(dir.path(), &routes(v1, v2, TWO_STEPS, "")).await;
    let gateway = platform.gateway_url();
    let before = drive_until(&platform, "step 2", |s| s["step"] == 1).await;

    // A route added beside the canary's: the rollout goes on untouched.
    let other = "\n[[routes]]\nid = \"other\"\npath_prefix = \"/other\"\nupstream = \"demo-v1\"\n";
    std::fs::write(&file, routes(v1, v2, TWO_STEPS, other)).unwrap();
    eventually("the new route", || async {
        common::get(&format!("{gateway}/other"), None).await.body["version"] == "v1"
    })
    .await;
    let kept = status(&platform).await;
    assert_same_rollout(&before, &kept, "the reload");

    // The canary route itself changes, its step keeping its weight: rebuilt, same step.
    let stricter = TWO_STEPS.replace("min_requests = 10", "min_requests = 15");
    std::fs::write(&file, routes(v1, v2, &stricter, other)).unwrap();
    eventually("the reload", || async {
        let config = platform.live_config().config().await;
        let demo = config.routes.iter().find(|r| r.id == "demo").and_then(|r| r.canary.clone());
        demo.and_then(|c| c.plan).is_some_and(|p| p.min_requests == 15)
    })
    .await;
    let rebuilt = status(&platform).await;
    assert_same_rollout(&before, &rebuilt, "the reload");

    // The plan gives step 2 another weight: the rollout moves to it, at the same step.
    let gentler = stricter.replace("weight = 50", "weight = 30");
    std::fs::write(&file, routes(v1, v2, &gentler, other)).unwrap();
    eventually("the replan", || async {
        status(&platform).await["last_decision"]["kind"] == "replan"
    })
    .await;
    let replanned = status(&platform).await;
    assert_eq!(
        (replanned["phase"].as_str(), replanned["step"].as_u64()),
        (Some("progressing"), Some(1))
    );
    assert_eq!(candidate_weight(&replanned), 30.0);
    let reason = replanned["last_decision"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("step 2 runs at 30% (was step 2 at 50%)"), "{reason}");
    platform.shutdown().await;
}

#[test]
fn the_walkthroughs_routes_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = common::config(dir);
    config.gateway.routes_file = Some(dir.join("config/canary-routes.toml"));
    let any = "127.0.0.1:1".parse().unwrap();
    let services = platform_examples::platform::ServiceAddrs::new(any, any, any);
    let gateway = platform_examples::platform::gateway_config(&config.gateway, services)
        .expect("the shipped canary routes file is valid");
    let demo = gateway.routes.iter().find(|r| r.id == "demo").expect("the demo route");
    let canary = demo.canary.as_ref().expect("a canary target");
    assert_eq!(
        (canary.stable.as_str(), canary.canary.as_slice()),
        ("demo-v1", &["demo-v2".to_owned()][..])
    );
}
