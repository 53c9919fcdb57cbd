//! gRPC calls: recognised by their `content-type`, bounded by their `grpc-timeout`, and
//! answered the gRPC way when the gateway itself refuses or fails them.
//!
//! A gRPC client reads the outcome of a call from `grpc-status`, not from the HTTP
//! status, so a JSON 503 is an opaque failure to it. Every answer the gateway makes
//! itself for a gRPC request — no route, upstream down, timeout, open breaker, rate
//! limit, authentication — becomes a *trailers-only* response: HTTP 200,
//! `content-type: application/grpc`, and `grpc-status` / `grpc-message` in the single
//! header block, with the code from [`grpc_code`]. Answers from upstreams pass through
//! untouched, trailers included.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use platform_core::BoxError;
use tokio::time::{Instant, Sleep};

use crate::body::{self, Body};

/// The call's deadline, sent by gRPC clients: `1*8DIGIT` and a unit (`H`, `M`, `S`,
/// `m`, `u`, `n`).
pub(crate) const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_PUSHBACK: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");

/// gRPC status codes the gateway answers with.
mod code {
    pub(super) const UNKNOWN: u8 = 2;
    pub(super) const DEADLINE_EXCEEDED: u8 = 4;
    pub(super) const PERMISSION_DENIED: u8 = 7;
    pub(super) const RESOURCE_EXHAUSTED: u8 = 8;
    pub(super) const UNIMPLEMENTED: u8 = 12;
    pub(super) const INTERNAL: u8 = 13;
    pub(super) const UNAVAILABLE: u8 = 14;
    pub(super) const UNAUTHENTICATED: u8 = 16;
}

/// The gRPC status code the gateway answers a gRPC call with when it would have
/// answered an HTTP request with `status`.
///
/// | HTTP | gRPC |
/// |---|---|
/// | 400 | 13 `INTERNAL` (a malformed request) |
/// | 401 | 16 `UNAUTHENTICATED` |
/// | 403 | 7 `PERMISSION_DENIED` |
/// | 404, 501 | 12 `UNIMPLEMENTED` |
/// | 408, 504 | 4 `DEADLINE_EXCEEDED` |
/// | 413, 429, 431 | 8 `RESOURCE_EXHAUSTED` |
/// | 502, 503 | 14 `UNAVAILABLE` |
/// | anything else | 2 `UNKNOWN` |
///
/// ```
/// use http::StatusCode;
/// use platform_gateway::proxy::grpc_code;
///
/// assert_eq!(grpc_code(StatusCode::GATEWAY_TIMEOUT), 4);
/// assert_eq!(grpc_code(StatusCode::TOO_MANY_REQUESTS), 8);
/// ```
pub fn grpc_code(status: StatusCode) -> u8 {
    match status.as_u16() {
        400 => code::INTERNAL,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 | 501 => code::UNIMPLEMENTED,
        408 | 504 => code::DEADLINE_EXCEEDED,
        413 | 429 | 431 => code::RESOURCE_EXHAUSTED,
        502 | 503 => code::UNAVAILABLE,
        _ => code::UNKNOWN,
    }
}

/// A gRPC call (a request extension the gateway sets before routing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrpcCall {
    /// When the call's `grpc-timeout` runs out, when the client sent one.
    pub(crate) deadline: Option<Instant>,
}

impl GrpcCall {
    /// The call `headers` describe, when they are a gRPC request's: `content-type`
    /// `application/grpc`, alone or with a `+codec` or parameters (not gRPC-Web, whose
    /// trailers travel in the body).
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let ct = headers.get(header::CONTENT_TYPE)?.as_bytes();
        let rest = ct.strip_prefix(b"application/grpc")?;
        if !(rest.is_empty() || rest[0] == b'+' || rest[0] == b';') {
            return None;
        }
        let timeout = headers.get(GRPC_TIMEOUT).and_then(|v| parse_timeout(v.as_bytes()));
        Some(Self { deadline: timeout.map(|t| Instant::now() + t) })
    }
}

/// A response extension: the response came from an upstream (set on gRPC calls only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FromUpstream;

/// Parses a `grpc-timeout` value; `None` when malformed.
fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// `left` as a `grpc-timeout` value: the finest unit whose count fits in 8 digits,
/// rounded down so the upstream's deadline is never later than the gateway's.
pub(crate) fn timeout_value(left: Duration) -> HeaderValue {
    let nanos = left.as_nanos().max(1);
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let (count, unit) = units
        .iter()
        .map(|(per, unit)| (nanos / per, *unit))
        .find(|(count, _)| *count <= 99_999_999)
        .unwrap_or((99_999_999, 'H'));
    // Digits and an ASCII letter: always a valid header value.
    HeaderValue::from_str(&format!("{count}{unit}")).unwrap_or(HeaderValue::from_static("1n"))
}

/// The response to a gRPC call: an upstream's passes (its body cut off with
/// `DEADLINE_EXCEEDED` trailers if the call's deadline passes mid-stream); one the
/// gateway made itself becomes trailers-only with the status mapped by [`grpc_code`]
/// and the error's message.
pub(crate) async fn answer(call: GrpcCall, res: Response<Body>) -> Response<Body> {
    if res.extensions().get::<FromUpstream>().is_some() {
        return match call.deadline {
            Some(at) if res.status() == StatusCode::OK => {
                res.map(|b| body::boxed(DeadlineBody::new(b, at)))
            }
            _ => res,
        };
    }
    if res.status().is_success() {
        return res;
    }
    let status = res.status();
    let (mut parts, body) = res.into_parts();
    let message = match message_of(&parts.headers, body).await {
        Some(m) => m,
        None => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let headers = &mut parts.headers;
    let pushback = headers.remove(header::RETRY_AFTER).and_then(|v| {
        let secs: u64 = v.to_str().ok()?.trim().parse().ok()?;
        Some(HeaderValue::from(secs.saturating_mul(1000)))
    });
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(GRPC_STATUS, HeaderValue::from(u16::from(grpc_code(status))));
    if let Ok(m) = HeaderValue::from_str(&percent_encode(&message)) {
        headers.insert(GRPC_MESSAGE, m);
    }
    if let Some(p) = pushback {
        headers.insert(GRPC_PUSHBACK, p);
    }
    parts.status = StatusCode::OK;
    Response::from_parts(parts, body::empty())
}

/// The `message` of a small JSON error body (the gateway's and platform-auth's).
async fn message_of(headers: &HeaderMap, body: Body) -> Option<String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let small = body.size_hint().exact().is_some_and(|n| n <= 16 * 1024);
    if !(json && small) {
        return None;
    }
    let bytes = body.collect().await.ok()?.to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    doc.get("message")?.as_str().map(str::to_owned)
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn percent_encode(message: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A gRPC response body that ends with `DEADLINE_EXCEEDED` trailers when the call's
/// deadline passes before the upstream finishes; the upstream stream is then dropped
/// (reset).
struct DeadlineBody {
    inner: Option<Body>,
    sleep: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, at: Instant) -> Self {
        Self { inner: Some(inner), sleep: Box::pin(tokio::time::sleep_until(at)) }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        if let Poll::Ready(frame) = Pin::new(inner).poll_frame(cx) {
            if frame.is_none() {
                self.inner = None;
            }
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.inner = None;
        let mut trailers = HeaderMap::with_capacity(2);
        trailers.insert(GRPC_STATUS, HeaderValue::from(u16::from(code::DEADLINE_EXCEEDED)));
        trailers.insert(GRPC_MESSAGE, HeaderValue::from_static("the call's deadline passed"));
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(HttpBody::size_hint).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_in_every_unit() {
        assert_eq!(parse_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout(b"1S"), Some(Duration::from_secs(1)));
        assert_eq!(parse_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_timeout(b"99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in [&b""[..], b"m", b"100", b"123456789m", b"1x", b"-1S", b"1.5S"] {
            assert_eq!(parse_timeout(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn timeouts_format_in_the_finest_unit_that_fits() {
        assert_eq!(timeout_value(Duration::from_nanos(1500)), "1500n");
        assert_eq!(timeout_value(Duration::from_millis(250)), "250000u");
        assert_eq!(timeout_value(Duration::from_secs(5)), "5000000u");
        assert_eq!(timeout_value(Duration::from_secs(3600 * 100)), "360000S");
        assert_eq!(timeout_value(Duration::ZERO), "1n");
        for d in [Duration::from_millis(1234), Duration::from_secs(86_400 * 400)] {
            let v = timeout_value(d);
            let back = parse_timeout(v.as_bytes()).unwrap();
            assert!(back <= d, "{v:?}");
        }
    }

    #[test]
    fn only_grpc_content_types_are_calls() {
        let call = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            h.insert(GRPC_TIMEOUT, "100m".parse().unwrap());
            GrpcCall::of(&h)
        };
        let before = Instant::now();
        let deadline = call("application/grpc").unwrap().deadline.unwrap();
        assert!(deadline >= before + Duration::from_millis(100), "{deadline:?}");
        assert!(deadline <= Instant::now() + Duration::from_millis(100), "{deadline:?}");
        assert!(call("application/grpc+proto").is_some());
        assert!(call("application/grpc-web").is_none());
        assert!(call("application/json").is_none());
        assert!(GrpcCall::of(&HeaderMap::new()).is_none());
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("no route: 100% ✓"), "no route: 100%25 %E2%9C%93");
    }

    #[tokio::test]
    async fn gateway_errors_become_trailers_only() {
        let res = crate::error::json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "slow down".into(),
            None,
            Some(2),
        );
        let call = GrpcCall { deadline: None };
        let res = answer(call, res).await;
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "application/grpc");
        assert_eq!(h[GRPC_STATUS], "8");
        assert_eq!(h[GRPC_MESSAGE], "slow down");
        assert_eq!(h[GRPC_PUSHBACK], "2000");
        assert!(!h.contains_key(header::RETRY_AFTER));
        assert!(res.into_body().is_end_stream());
    }
}
