use super::*;
use std::time::Duration;

#[derive(Debug)]
struct Wrapper(BoxError);
impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrapped")
    }
}
impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[test]
fn finds_rejection_through_source_chain() {
    let inner: BoxError = Box::new(RateLimited::new(Duration::from_millis(1500)));
    let outer = Wrapper(inner);
    let r = Rejection::find(&outer).expect("found");
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.status(), http::StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn each_leaf_maps_to_its_status() {
    let cases: Vec<(BoxError, u16, &str)> = vec![
        (Box::new(CircuitOpen::new(None)), 503, "circuit_open"),
        (Box::new(RateLimited::new(Duration::from_secs(1))), 429, "rate_limited"),
        (Box::new(Overloaded::new("full")), 503, "overloaded"),
        (Box::new(Elapsed::new(Duration::from_secs(1))), 504, "timeout"),
        (Box::new(BudgetExhausted::new(None)), 503, "retry_budget_exhausted"),
    ];
    for (err, status, code) in cases {
        let res = error_response(&*err);
        assert_eq!(res.status().as_u16(), status, "{code}");
        assert_eq!(Rejection::find(&*err).map(|r| r.code()), Some(code));
    }
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    let err = RateLimited::new(Duration::from_millis(1001));
    let res = Rejection::RateLimited(&err).to_http_response();
    assert_eq!(res.headers()[http::header::RETRY_AFTER], "2");
    let open = CircuitOpen::new(Some(Duration::from_secs(3)));
    let res = Rejection::CircuitOpen(&open).to_http_response();
    assert_eq!(res.headers()[http::header::RETRY_AFTER], "3");
}

#[test]
fn no_retry_after_without_hint() {
    let err = Overloaded::new("queue full");
    let res = Rejection::Overloaded(&err).to_http_response();
    assert!(res.headers().get(http::header::RETRY_AFTER).is_none());
}

#[tokio::test]
async fn body_is_json_with_code_and_message() {
    use http_body_util::BodyExt;
    let err: BoxError = Box::new(RateLimited::new(Duration::from_secs(4)));
    let res = error_response(&*err);
    assert_eq!(res.headers()[http::header::CONTENT_TYPE], "application/json");
    let bytes = res.into_body().collect().await.expect("full body").to_bytes();
    let body: ErrorBody = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body.error, "rate_limited");
    assert_eq!(body.retry_after_secs, Some(4));
    assert!(body.message.contains("4000ms"), "{}", body.message);
}

#[test]
fn unknown_errors_are_internal() {
    let err: BoxError = "boom".into();
    assert!(!is_rejection(&*err));
    assert_eq!(error_response(&*err).status(), http::StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn budget_exhausted_keeps_last_error_as_source() {
    let last: BoxError = "upstream reset".into();
    let err = BudgetExhausted::new(Some(last));
    assert!(err.to_string().contains("upstream reset"));
    assert!(std::error::Error::source(&err).is_some());
}
