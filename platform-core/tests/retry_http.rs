//! The HTTP retry layer: idempotent methods, body replay buffer, Retry-After.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use platform_core::BoxError;
use platform_core::error::RateLimited;
use platform_core::resilience::retry::ReplayBody;
use platform_core::resilience::{Listeners, RetryConfig, RetryEvent, RetryLayer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

type Seen = Arc<Mutex<Vec<Bytes>>>;

/// Answers each call with the next status of `statuses` (the last one repeats), reading
/// the body first when `read_body` is true and recording what it read.
fn upstream<B>(
    statuses: &'static [(u16, Option<&'static str>)],
    read_body: bool,
) -> (
    Seen,
    impl Service<Request<ReplayBody<B>>, Response = Response<String>, Error = BoxError> + Clone,
)
where
    B: http_body::Body<Error: Into<BoxError>> + Send + 'static,
    B::Data: Send,
{
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let svc = service_fn(move |req: Request<ReplayBody<B>>| {
        let log = log.clone();
        async move {
            let n = log.lock().unwrap().len();
            let body =
                if read_body { req.into_body().collect().await?.to_bytes() } else { Bytes::new() };
            log.lock().unwrap().push(body);
            let (status, retry_after) = statuses[n.min(statuses.len() - 1)];
            let mut res = Response::builder().status(status);
            if let Some(v) = retry_after {
                res = res.header(http::header::RETRY_AFTER, v);
            }
            Ok::<_, BoxError>(res.body(String::new())?)
        }
    });
    (seen, svc)
}

fn request(method: Method, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder().method(method).uri("/items/1").body(Full::new(Bytes::from(body))).unwrap()
}

fn events() -> (Arc<Mutex<Vec<RetryEvent>>>, Listeners<RetryEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, Listeners::new().with(move |e: &RetryEvent| sink.lock().unwrap().push(e.clone())))
}

fn cfg() -> RetryConfig {
    RetryConfig::builder().backoff(Duration::from_millis(10), Duration::from_millis(100), 2.0)
}

#[tokio::test(start_paused = true)]
async fn small_body_is_replayed_byte_for_byte() {
    let (seen, inner) = upstream(&[(503, None), (502, None), (200, None)], true);
    let svc = RetryLayer::http(cfg().max_attempts(3)).unwrap().layer(inner);
    let res = svc.oneshot(request(Method::PUT, "hello, replay")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), vec![Bytes::from("hello, replay"); 3]);
}

#[tokio::test(start_paused = true)]
async fn unread_body_is_handed_to_the_next_attempt() {
    // The first attempt answers 503 without reading the body; the second reads all of it.
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let inner = service_fn(move |req: Request<ReplayBody<Full<Bytes>>>| {
        let log = log.clone();
        async move {
            if log.lock().unwrap().is_empty() {
                log.lock().unwrap().push(Bytes::new());
                return Ok::<_, BoxError>(Response::builder().status(503).body(String::new())?);
            }
            let body = req.into_body().collect().await?.to_bytes();
            log.lock().unwrap().push(body);
            Ok(Response::new(String::new()))
        }
    });
    let svc = RetryLayer::http(cfg()).unwrap().layer(inner);
    let res = svc.oneshot(request(Method::PUT, "late reader")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap()[1], Bytes::from("late reader"));
}

#[tokio::test(start_paused = true)]
async fn body_larger_than_the_buffer_is_not_retried_and_reported() {
    let (seen, inner) = upstream(&[(503, None), (200, None)], true);
    let (events, listeners) = events();
    let layer = RetryLayer::http(cfg().max_replay_bytes(8)).unwrap().with_listeners(listeners);
    // A streamed body with no announced length: the overflow is found while it streams.
    let chunks = ["0123456789", "abcdefghij", "klmno"]
        .map(|c| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(c))));
    let body = StreamBody::new(futures_util::stream::iter(chunks));
    let req = Request::builder().method(Method::PUT).uri("/big").body(body).unwrap();
    let res = layer.layer(inner).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "the original failure comes back");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(seen.lock().unwrap()[0].len(), 25, "the first attempt got the whole body");
    assert!(
        events
            .lock()
            .unwrap()
            .contains(&RetryEvent::BodyTooLarge { body_bytes: 25, max_replay_bytes: 8 })
    );
}

#[tokio::test(start_paused = true)]
async fn announced_length_over_the_buffer_skips_recording() {
    let (seen, inner) = upstream(&[(503, None), (200, None)], false);
    let (events, listeners) = events();
    let layer = RetryLayer::http(cfg().max_replay_bytes(4)).unwrap().with_listeners(listeners);
    let res = layer.layer(inner).oneshot(request(Method::PUT, "twelve bytes")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        events
            .lock()
            .unwrap()
            .contains(&RetryEvent::BodyTooLarge { body_bytes: 12, max_replay_bytes: 4 })
    );
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_methods_are_not_retried() {
    let (seen, inner) = upstream(&[(503, None), (200, None)], true);
    let (events, listeners) = events();
    let layer = RetryLayer::http(cfg()).unwrap().with_listeners(listeners);
    let res = layer.layer(inner).oneshot(request(Method::POST, "order")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        events.lock().unwrap().contains(&RetryEvent::MethodNotRetried { method: Method::POST })
    );
}

#[tokio::test(start_paused = true)]
async fn predicate_widens_the_retried_methods() {
    let (seen, inner) = upstream(&[(503, None), (200, None)], true);
    let layer = RetryLayer::http(cfg())
        .unwrap()
        .retry_if(|parts| parts.headers.contains_key("idempotency-key"));
    let mut req = request(Method::POST, "order");
    req.headers_mut().insert("idempotency-key", "k-1".parse().unwrap());
    let res = layer.layer(inner).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), vec![Bytes::from("order"); 2]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_are_honoured() {
    let (seen, inner) = upstream(&[(503, Some("2")), (200, None)], false);
    let svc = RetryLayer::http(cfg()).unwrap().layer(inner);
    let start = Instant::now();
    let res = svc.oneshot(request(Method::GET, "")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap().len(), 2);
    // The backoff (≤ 20ms) is shorter, so the wait is exactly what the response asked for.
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn retry_after_dates_are_honoured() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
    let statuses: &'static [(u16, Option<&'static str>)] = Box::leak(
        vec![(429, Some(&*Box::leak(date.into_boxed_str()))), (200, None)].into_boxed_slice(),
    );
    let (_, inner) = upstream(statuses, false);
    let svc = RetryLayer::http(cfg()).unwrap().layer(inner);
    let start = Instant::now();
    assert_eq!(svc.oneshot(request(Method::GET, "")).await.unwrap().status(), StatusCode::OK);
    // HTTP dates have whole-second precision.
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(3) && waited <= Duration::from_secs(5), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_over_the_cap_is_not_retried() {
    let (seen, inner) = upstream(&[(503, Some("120")), (200, None)], false);
    let (events, listeners) = events();
    let layer = RetryLayer::http(cfg().max_retry_after(Duration::from_secs(10)))
        .unwrap()
        .with_listeners(listeners);
    let res = layer.layer(inner).oneshot(request(Method::GET, "")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.lock().unwrap().len(), 1);
    let too_long =
        events.lock().unwrap().iter().any(|e| matches!(e, RetryEvent::RetryAfterTooLong { .. }));
    assert!(too_long);
}

#[tokio::test(start_paused = true)]
async fn local_rejection_errors_are_not_retried() {
    let calls = Arc::new(Mutex::new(0));
    let count = calls.clone();
    let inner = service_fn(move |_req: Request<ReplayBody<Full<Bytes>>>| {
        *count.lock().unwrap() += 1;
        async {
            Err::<Response<String>, BoxError>(Box::new(RateLimited::new(Duration::from_secs(1))))
        }
    });
    let err = RetryLayer::http(cfg())
        .unwrap()
        .layer(inner)
        .oneshot(request(Method::GET, ""))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<RateLimited>().is_some());
    assert_eq!(*calls.lock().unwrap(), 1);
}
