//! How a request is produced again for each attempt.

use std::time::{Duration, SystemTime};

use http_body::Body;

use super::RetryEvent;
use super::body::{ReplayBody, SharedRecording, Unreplayable};

mod sealed {
    /// What [`Replay::start`](super::Replay::start) may read of the layer's state.
    #[derive(Debug)]
    pub struct StartContext<'a> {
        pub(in crate::resilience::retry) core: &'a crate::resilience::retry::layer::Core,
    }

    pub trait Sealed {}
}

pub(super) use sealed::StartContext;

/// How [`Retry`](super::Retry) produces the request of each attempt from the caller's
/// request. Implemented by [`CloneRequest`] and [`BufferBody`]; not implementable outside
/// this crate.
pub trait Replay<Req>: sealed::Sealed {
    /// The request the inner service receives.
    type Request;
    /// What a call keeps to make the requests of later attempts.
    type Attempts: Attempts<Request = Self::Request>;

    /// Splits the caller's request into the first attempt's request and the state for
    /// later attempts.
    #[doc(hidden)]
    fn start(req: Req, ctx: StartContext<'_>) -> (Self::Request, Self::Attempts);
}

/// The per-call state that makes the request of each later attempt.
pub trait Attempts: sealed::Sealed {
    /// The request the inner service receives.
    type Request;

    /// The next attempt's request, or why there is none (an event to report).
    #[doc(hidden)]
    fn next_request(&mut self) -> Result<Self::Request, RetryEvent>;
}

/// Tells how long a failed response asks the client to wait (`Retry-After`).
pub trait RetryAfter<Res>: sealed::Sealed {
    /// The wait asked for by `res`, if any.
    #[doc(hidden)]
    fn retry_after(&self, res: &Res) -> Option<Duration>;
}

/// Each attempt gets a clone of the caller's request (`Req: Clone`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CloneRequest;

impl sealed::Sealed for CloneRequest {}

impl<Req: Clone> Replay<Req> for CloneRequest {
    type Request = Req;
    type Attempts = CloneAttempts<Req>;

    fn start(req: Req, _ctx: StartContext<'_>) -> (Req, CloneAttempts<Req>) {
        (req.clone(), CloneAttempts { req })
    }
}

/// Keeps the caller's request and clones it for each later attempt.
#[derive(Debug)]
pub struct CloneAttempts<Req> {
    req: Req,
}

impl<Req> sealed::Sealed for CloneAttempts<Req> {}

impl<Req: Clone> Attempts for CloneAttempts<Req> {
    type Request = Req;

    fn next_request(&mut self) -> Result<Req, RetryEvent> {
        Ok(self.req.clone())
    }
}

impl<Req, Res> RetryAfter<Res> for CloneAttempts<Req> {
    fn retry_after(&self, _res: &Res) -> Option<Duration> {
        None
    }
}

/// HTTP requests: the head is cloned, the body streams through a bounded replay buffer
/// ([`ReplayBody`]), and only allowed methods are retried.
#[derive(Debug, Clone, Copy, Default)]
pub struct BufferBody;

impl sealed::Sealed for BufferBody {}

impl<B: Body> Replay<http::Request<B>> for BufferBody {
    type Request = http::Request<ReplayBody<B>>;
    type Attempts = HttpAttempts<B>;

    fn start(req: http::Request<B>, ctx: StartContext<'_>) -> (Self::Request, HttpAttempts<B>) {
        let core = ctx.core;
        let settings = core.settings();
        let (parts, body) = req.into_parts();
        let retryable = settings.methods.contains(&parts.method)
            || core.predicate.as_ref().is_some_and(|p| p(&parts));
        let max = settings.cfg.max_replay_bytes;
        let (body, recording) = ReplayBody::first(body, max, retryable);
        let first = http::Request::from_parts(parts.clone(), body);
        (first, HttpAttempts { parts, recording, retryable })
    }
}

/// Keeps an HTTP request's head and its body's recording for later attempts.
pub struct HttpAttempts<B> {
    parts: http::request::Parts,
    recording: SharedRecording<B>,
    retryable: bool,
}

impl<B> std::fmt::Debug for HttpAttempts<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAttempts")
            .field("method", &self.parts.method)
            .field("uri", &self.parts.uri)
            .field("retryable", &self.retryable)
            .finish_non_exhaustive()
    }
}

impl<B> sealed::Sealed for HttpAttempts<B> {}

impl<B: Body> Attempts for HttpAttempts<B> {
    type Request = http::Request<ReplayBody<B>>;

    fn next_request(&mut self) -> Result<Self::Request, RetryEvent> {
        if !self.retryable {
            return Err(RetryEvent::MethodNotRetried { method: self.parts.method.clone() });
        }
        let check = self.recording.lock().map(|r| r.check_replayable());
        match check.unwrap_or(Err(Unreplayable::Unavailable)) {
            Ok(()) => {}
            Err(Unreplayable::TooLarge { body_bytes, max_replay_bytes }) => {
                return Err(RetryEvent::BodyTooLarge { body_bytes, max_replay_bytes });
            }
            Err(Unreplayable::Unavailable) => return Err(RetryEvent::BodyUnavailable),
        }
        let body = ReplayBody::replay(self.recording.clone());
        Ok(http::Request::from_parts(self.parts.clone(), body))
    }
}

impl<B, ResB> RetryAfter<http::Response<ResB>> for HttpAttempts<B> {
    fn retry_after(&self, res: &http::Response<ResB>) -> Option<Duration> {
        parse_retry_after(res.headers().get(http::header::RETRY_AFTER)?, SystemTime::now())
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (relative to `now`; a date
/// in the past means no wait).
pub(super) fn parse_retry_after(value: &http::HeaderValue, now: SystemTime) -> Option<Duration> {
    let s = value.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(s).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
