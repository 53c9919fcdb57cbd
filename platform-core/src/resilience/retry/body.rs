//! [`ReplayBody`]: a request body recorded while it streams, so a retry can send it again.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use crate::error::BoxError;

/// What has been read of the original body, shared by every attempt of one call.
pub(super) struct Recording<B> {
    /// The unread rest of the original body while no attempt holds it.
    rest: Option<Pin<Box<B>>>,
    chunks: Vec<Bytes>,
    buffered: usize,
    /// Bytes read so far, or the body's announced length when larger.
    seen: u64,
    max: usize,
    /// Recording stopped: the body is larger than `max` (or replay is not wanted).
    overflowed: bool,
    /// Reading the original body failed; it cannot be replayed.
    broken: bool,
    trailers: Option<HeaderMap>,
    complete: bool,
}

/// Why a recorded body cannot be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unreplayable {
    TooLarge { body_bytes: u64, max_replay_bytes: usize },
    Unavailable,
}

pub(super) type SharedRecording<B> = Arc<Mutex<Recording<B>>>;

fn lock<B>(rec: &SharedRecording<B>) -> MutexGuard<'_, Recording<B>> {
    // Plain data: a panic elsewhere cannot leave it half-updated in a harmful way.
    rec.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B> Recording<B> {
    fn record(&mut self, bytes: &Bytes) {
        self.seen = self.seen.saturating_add(bytes.len() as u64);
        if self.overflowed {
            return;
        }
        if self.buffered + bytes.len() > self.max {
            self.overflowed = true;
            self.chunks = Vec::new();
            self.buffered = 0;
        } else {
            self.buffered += bytes.len();
            self.chunks.push(bytes.clone());
        }
    }

    /// Whether another attempt can send the whole body again.
    pub(super) fn check_replayable(&self) -> Result<(), Unreplayable> {
        if self.overflowed {
            return Err(Unreplayable::TooLarge {
                body_bytes: self.seen,
                max_replay_bytes: self.max,
            });
        }
        if self.broken || (!self.complete && self.rest.is_none()) {
            return Err(Unreplayable::Unavailable);
        }
        Ok(())
    }
}

/// A request body that is recorded (up to `max_replay_bytes`) while the first attempt
/// streams it, and replayed from that record by later attempts.
///
/// The inner service of [`HttpRetry`](super::HttpRetry) receives
/// `http::Request<ReplayBody<B>>`. If an attempt stops reading early, the next attempt
/// replays what was recorded and then continues with the unread rest of the original.
pub struct ReplayBody<B> {
    rec: SharedRecording<B>,
    /// The original body, while this attempt is reading it.
    body: Option<Pin<Box<B>>>,
    /// Recorded chunks this attempt has already sent.
    pos: usize,
    trailers_sent: bool,
}

impl<B: Body> ReplayBody<B> {
    /// The first attempt's body. `max` is the replay buffer; `record == false` streams
    /// the body without keeping a copy (the request will not be retried anyway).
    pub(super) fn first(body: B, max: usize, record: bool) -> (Self, SharedRecording<B>) {
        let announced = body.size_hint().lower();
        let overflowed = !record || announced > max as u64;
        let rec = Arc::new(Mutex::new(Recording {
            rest: None,
            chunks: Vec::new(),
            buffered: 0,
            seen: if overflowed { announced } else { 0 },
            max,
            overflowed,
            broken: false,
            trailers: None,
            complete: false,
        }));
        let this =
            Self { rec: rec.clone(), body: Some(Box::pin(body)), pos: 0, trailers_sent: false };
        (this, rec)
    }

    /// A later attempt's body, replaying `rec`.
    pub(super) fn replay(rec: SharedRecording<B>) -> Self {
        Self { rec, body: None, pos: 0, trailers_sent: false }
    }
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            {
                let mut rec = lock(&this.rec);
                if let Some(chunk) = rec.chunks.get(this.pos) {
                    this.pos += 1;
                    return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
                }
                if rec.complete {
                    if !std::mem::replace(&mut this.trailers_sent, true)
                        && let Some(t) = rec.trailers.clone()
                    {
                        return Poll::Ready(Some(Ok(Frame::trailers(t))));
                    }
                    return Poll::Ready(None);
                }
                if this.body.is_none() {
                    this.body = rec.rest.take();
                    if this.body.is_none() {
                        let err = "request body is still held by a previous attempt";
                        return Poll::Ready(Some(Err(err.into())));
                    }
                }
            }
            let Some(body) = this.body.as_mut() else { continue };
            let frame = ready!(body.as_mut().poll_frame(cx));
            let mut rec = lock(&this.rec);
            match frame {
                None => {
                    rec.complete = true;
                    this.trailers_sent = true;
                    this.body = None;
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    rec.broken = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(mut data) => {
                        let bytes = data.copy_to_bytes(data.remaining());
                        rec.record(&bytes);
                        this.pos = rec.chunks.len();
                        return Poll::Ready(Some(Ok(Frame::data(bytes))));
                    }
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            rec.trailers = Some(t.clone());
                            this.trailers_sent = true;
                            return Poll::Ready(Some(Ok(Frame::trailers(t))));
                        }
                    }
                },
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        let rec = lock(&self.rec);
        if rec.complete && !rec.overflowed {
            let left: usize = rec.chunks.iter().skip(self.pos).map(Bytes::len).sum();
            return SizeHint::with_exact(left as u64);
        }
        match &self.body {
            Some(b) if rec.seen == 0 => b.size_hint(),
            _ => SizeHint::default(),
        }
    }
}

impl<B> Drop for ReplayBody<B> {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            let mut rec = lock(&self.rec);
            if !rec.complete {
                rec.rest = Some(body);
            }
        }
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayBody").field("pos", &self.pos).finish_non_exhaustive()
    }
}
