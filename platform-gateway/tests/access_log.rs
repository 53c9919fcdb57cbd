//! One access-log event per request (target `platform::gateway::access`) with the trace
//! id, route, upstream endpoint, status, durations, bytes in and out and retries.

mod common;

use bytes::Bytes;
use common::{echo_upstream, send, serve, status_upstream};
use http::Request;
use http_body_util::Full;
use platform_core::resilience::RetryConfig;
use platform_core::test_util::LogCapture;
use platform_gateway::{Gateway, Route, Upstream};

// A current-thread runtime: the subscriber set for this thread sees every task.
#[tokio::test]
async fn one_line_per_request_with_route_endpoint_bytes_and_retries() {
    let (capture, _guard) = LogCapture::install(tracing::Level::INFO);

    let echo = echo_upstream("echo").await;
    let failing = status_upstream("down", 503).await;
    let gateway = Gateway::builder()
        .upstream(Upstream::builder("echo").endpoint(echo.to_string()).build().await.unwrap())
        .upstream(Upstream::builder("down").endpoint(failing.to_string()).build().await.unwrap())
        .route(Route::builder("users").path_prefix("/users").upstream("echo").build().unwrap())
        .route(
            Route::builder("flaky")
                .path_prefix("/flaky")
                .retry(RetryConfig::builder().max_attempts(2))
                .upstream("down")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let gw = serve(gateway).await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let req = Request::post(format!("http://{gw}/users/1"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .body(Full::new(Bytes::from_static(b"hello")))
        .unwrap();
    let (status, _) = send(req).await;
    assert_eq!(status, 200);
    let (status, _) = common::get(gw, "/flaky").await;
    assert_eq!(status, 503);
    let (status, _) = common::get(gw, "/nowhere").await;
    assert_eq!(status, 404);

    let lines = capture.lines_containing("platform::gateway::access");
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let users = &lines[0];
    for part in [
        &format!("trace_id=\"{trace}\"") as &str,
        "method=POST",
        "path=/users/1",
        "route=\"users\"",
        "upstream=\"echo\"",
        &format!("endpoint=\"{echo}\""),
        "status=200",
        "bytes_in=5",
        "attempts=1",
        "retries=0",
        "head_ms=",
        "duration_ms=",
    ] {
        assert!(users.contains(part), "{part} missing in {users}");
    }
    assert!(!users.contains("bytes_out=0 "), "{users}");
    let flaky = &lines[1];
    for part in ["route=\"flaky\"", "status=503", "attempts=2", "retries=1", "upstream=\"down\""] {
        assert!(flaky.contains(part), "{part} missing in {flaky}");
    }
    let unmatched = &lines[2];
    assert!(unmatched.contains("status=404") && unmatched.contains("route=\"\""), "{unmatched}");
}
