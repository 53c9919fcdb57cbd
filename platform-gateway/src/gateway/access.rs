//! The access log: one `tracing` event per request, target `platform::gateway::access`.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::body::{self, Body};

/// The access-log target (filter it with `platform::gateway::access=info`).
pub(crate) const TARGET: &str = "platform::gateway::access";

/// Whether anyone listens to the access log; when not, requests carry no record.
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// What one request did, filled in as it goes (a request extension; clones share it,
/// so every retry attempt reports into the same record).
#[derive(Debug, Clone)]
pub(crate) struct AccessRecord {
    inner: Arc<Record>,
}

#[derive(Debug)]
struct Record {
    started: Instant,
    method: Method,
    path: String,
    bytes_in: AtomicU64,
    served: Mutex<Served>,
}

#[derive(Debug, Default)]
struct Served {
    trace_id: Option<String>,
    client: Option<String>,
    route: Option<Arc<str>>,
    upstream: Option<Arc<str>>,
    endpoint: Option<Arc<str>>,
    attempts: u32,
}

impl AccessRecord {
    pub(crate) fn new(method: &Method, path: &str) -> Self {
        let record = Record {
            started: Instant::now(),
            method: method.clone(),
            path: path.to_owned(),
            bytes_in: AtomicU64::new(0),
            served: Mutex::new(Served::default()),
        };
        Self { inner: Arc::new(record) }
    }

    fn served(&self) -> std::sync::MutexGuard<'_, Served> {
        self.inner.served.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The request's trace id and client address, once known.
    pub(crate) fn identify(&self, trace_id: Option<&str>, client: Option<String>) {
        let mut s = self.served();
        s.trace_id = trace_id.map(str::to_owned);
        s.client = client;
    }

    /// The route that matched.
    pub(crate) fn route(&self, id: &Arc<str>) {
        self.served().route = Some(id.clone());
    }

    /// One attempt sent to `endpoint` of `upstream` (the last one is what served).
    pub(crate) fn attempt(&self, upstream: &Arc<str>, endpoint: &Arc<str>) {
        let mut s = self.served();
        s.upstream = Some(upstream.clone());
        s.endpoint = Some(endpoint.clone());
        s.attempts += 1;
    }

    /// Counts request-body bytes read.
    pub(crate) fn body_in<B>(&self, body: B) -> Counted<B> {
        Counted { inner: body, record: self.clone(), direction: Direction::In, head: None }
    }

    /// Wraps the response body so the line is written once it has been sent (or
    /// dropped), with the bytes it carried.
    pub(crate) fn finish(self, res: http::Response<Body>) -> http::Response<Body> {
        let head = Some((res.status(), self.inner.started.elapsed()));
        let record = self;
        res.map(|b| body::boxed(Counted { inner: b, record, direction: Direction::Out(0), head }))
    }

    fn write(&self, status: StatusCode, head: std::time::Duration, bytes_out: u64) {
        let total = self.inner.started.elapsed();
        let s = self.served();
        tracing::info!(
            target: TARGET,
            trace_id = s.trace_id.as_deref().unwrap_or(""),
            client = s.client.as_deref().unwrap_or(""),
            method = %self.inner.method,
            path = %self.inner.path,
            route = s.route.as_deref().unwrap_or(""),
            upstream = s.upstream.as_deref().unwrap_or(""),
            endpoint = s.endpoint.as_deref().unwrap_or(""),
            status = status.as_u16(),
            head_ms = head.as_secs_f64() * 1000.0,
            duration_ms = total.as_secs_f64() * 1000.0,
            bytes_in = self.inner.bytes_in.load(Ordering::Relaxed),
            bytes_out,
            attempts = s.attempts,
            retries = s.attempts.saturating_sub(1),
            "{} {} {}",
            self.inner.method,
            self.inner.path,
            status.as_u16()
        );
    }
}

#[derive(Debug)]
enum Direction {
    In,
    Out(u64),
}

pin_project! {
    /// A body that counts its bytes into the record; the response side writes the line
    /// when dropped.
    pub(crate) struct Counted<B> {
        #[pin]
        inner: B,
        record: AccessRecord,
        direction: Direction,
        head: Option<(StatusCode, std::time::Duration)>,
    }

    impl<B> PinnedDrop for Counted<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let (Direction::Out(n), Some((status, head))) = (&*this.direction, this.head.take()) {
                this.record.write(status, head, *n);
            }
        }
    }
}

impl<B> HttpBody for Counted<B>
where
    B: HttpBody<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let n = data.len() as u64;
            match this.direction {
                Direction::In => {
                    this.record.inner.bytes_in.fetch_add(n, Ordering::Relaxed);
                }
                Direction::Out(total) => *total += n,
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
