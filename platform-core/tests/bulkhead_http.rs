//! The HTTP bulkhead holds a call's slot until its response body ends.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use platform_core::BoxError;
use platform_core::error::Overloaded;
use platform_core::resilience::{BulkheadConfig, BulkheadLayer};
use tower::{Layer, ServiceExt, service_fn};

type Chunks =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, BoxError>>>>;

fn streaming()
-> impl tower::Service<Request<()>, Response = Response<Chunks>, Error = BoxError, Future: Send>
+ Clone
+ Send
+ 'static {
    service_fn(|_req: Request<()>| async {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = ["one ", "two ", "three"]
            .into_iter()
            .map(|c| Ok(Frame::data(Bytes::from(c))))
            .collect();
        Ok::<_, BoxError>(Response::new(StreamBody::new(futures_util::stream::iter(frames))))
    })
}

#[tokio::test(start_paused = true)]
async fn slot_is_held_until_the_body_is_consumed() {
    let layer = BulkheadLayer::http(BulkheadConfig::new(1)).unwrap();
    let res = layer.layer(streaming()).oneshot(Request::new(())).await.unwrap();
    assert_eq!(layer.available(), 0, "the response is out but its body is not read");
    let err = layer.layer(streaming()).oneshot(Request::new(())).await.unwrap_err();
    assert_eq!(err.downcast_ref::<Overloaded>().unwrap().reason(), "bulkhead full");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, Bytes::from("one two three"));
    assert_eq!(layer.available(), 1, "the slot came back at the end of the body");
    assert!(layer.layer(streaming()).oneshot(Request::new(())).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn slot_is_returned_when_the_body_is_dropped() {
    let layer =
        BulkheadLayer::http(BulkheadConfig::new(1).queue(1, Duration::from_secs(1))).unwrap();
    let res = layer.layer(streaming()).oneshot(Request::new(())).await.unwrap();
    let waiter = tokio::spawn(layer.layer(streaming()).oneshot(Request::new(())));
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "waits for the first body");
    drop(res);
    assert!(waiter.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn plain_bulkhead_releases_at_response() {
    let layer = BulkheadLayer::new(1);
    let res = layer.layer(streaming()).oneshot(Request::new(())).await.unwrap();
    assert_eq!(layer.available(), 1, "generic bulkheads do not wait for bodies");
    drop(res);
}
