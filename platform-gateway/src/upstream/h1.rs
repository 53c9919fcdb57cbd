//! An inline HTTP/1.1 client for requests without a body.
//!
//! hyper's connection-level client runs each connection as its own task and hands
//! requests and responses to it through channels, waking tasks both ways. For the
//! common request — no body, no upgrade, HTTP/1.1 — the gateway does the exchange in
//! the request's own future instead: the request head goes out in one write from a
//! buffer the connection keeps, the response head is parsed with `httparse` from the
//! connection's read buffer, and the response body ([`H1Body`]) owns the connection
//! while it streams, its frames split straight off that buffer. Once the body is
//! complete the connection goes back to its pool ([`Recycle`]) when it can carry the
//! next request; a body dropped early closes it.
//!
//! Response framing follows RFC 9112 §6.3: no body for `HEAD`, `1xx`, `204` and `304`;
//! chunked when `Transfer-Encoding` ends in `chunked` (extensions ignored, trailers
//! delivered as a trailers frame), read until close for any other `Transfer-Encoding`;
//! the `Content-Length` (every value agreeing) otherwise, or until close without one.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::Conn;
use crate::body::Body;

/// The most header lines a response head (or a trailer section) may have.
pub(crate) const MAX_HEADERS: usize = 100;

/// The largest response head (or trailer section, or chunk size line) accepted, in
/// bytes: hyper's default read buffer limit.
pub(crate) const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// What a read asks the socket for at first; doubled, up to [`MAX_READ`], while reads
/// fill it (large bodies), so big responses take few reads.
const FIRST_READ: usize = 8 * 1024;
const MAX_READ: usize = 256 * 1024;

/// Why an inline exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Writing the request failed.
    #[error("sending the request head failed: {0}")]
    Write(#[source] io::Error),
    /// The endpoint closed the connection before sending anything.
    #[error("upstream closed the connection before the response head")]
    ClosedBeforeHead,
    /// Reading failed before anything of the response arrived (a reset).
    #[error("reading the response head failed: {0}")]
    ResetBeforeHead(#[source] io::Error),
    /// The endpoint closed the connection in the middle of the response head.
    #[error("upstream closed the connection in the middle of the response head")]
    ClosedInHead,
    /// Reading failed in the middle of the response head.
    #[error("reading the response head failed: {0}")]
    ReadHead(#[source] io::Error),
    /// The response head does not parse.
    #[error("invalid response head: {0}")]
    InvalidHead(String),
    /// The response head has more header lines than [`MAX_HEADERS`].
    #[error("response head larger than {MAX_HEADERS} headers")]
    TooManyHeaders,
    /// The response head is longer than [`MAX_HEAD_BYTES`].
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    /// A `101 Switching Protocols` to a request that asked for no upgrade.
    #[error("invalid response head: 101 Switching Protocols to a request without Upgrade")]
    UnexpectedSwitch,
    /// `Content-Length` values that differ.
    #[error("conflicting content-length values")]
    ConflictingLength,
    /// A `Content-Length` that is not a number.
    #[error("invalid content-length value")]
    InvalidLength,
    /// `Transfer-Encoding` in an HTTP/1.0 response.
    #[error("invalid response head: transfer-encoding in an HTTP/1.0 response")]
    TransferEncodingInHttp10,
    /// A chunk size line that does not parse (or is too long).
    #[error("invalid chunk size line")]
    ChunkSize,
    /// A chunk's data not followed by CRLF.
    #[error("invalid chunked body: chunk data not followed by CRLF")]
    ChunkEnd,
    /// A trailer section that does not parse (or is too large).
    #[error("invalid trailers: {0}")]
    Trailers(String),
    /// The endpoint closed the connection before the body was complete.
    #[error("upstream closed the connection before the response body was complete")]
    IncompleteBody,
    /// Reading the body failed.
    #[error("reading the response body failed: {0}")]
    ReadBody(#[source] io::Error),
}

impl Error {
    /// Whether nothing of a response arrived: on a reused connection, the endpoint
    /// most likely closed it while idle, and the request never reached it.
    pub(crate) fn nothing_received(&self) -> bool {
        matches!(self, Self::Write(_) | Self::ClosedBeforeHead | Self::ResetBeforeHead(_))
    }
}

/// Where a finished connection goes: its endpoint's pool.
pub(crate) trait Recycle: Send + Sync {
    /// Takes back `conn`, idle and able to carry the next request.
    fn recycle(self: Arc<Self>, conn: H1Conn);
}

/// An HTTP/1.1 connection to an endpoint, with its read and write buffers (kept
/// across requests).
pub(crate) struct H1Conn {
    io: Conn,
    read: BytesMut,
    write: Vec<u8>,
    /// How much the next read asks for (grows while reads fill it).
    read_size: usize,
}

impl std::fmt::Debug for H1Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Conn").field("buffered", &self.read.len()).finish_non_exhaustive()
    }
}

impl H1Conn {
    /// A connection over `io`, nothing read or written yet.
    pub(crate) fn new(io: Conn) -> Self {
        Self { io, read: BytesMut::new(), write: Vec::new(), read_size: FIRST_READ }
    }

    /// The connection itself, for hyper's client (an idle connection has nothing
    /// buffered).
    pub(crate) fn into_io(self) -> Conn {
        debug_assert!(self.read.is_empty());
        self.io
    }

    /// Whether an idle connection still looks usable: a read that does not block
    /// (end of stream, unexpected bytes, an error) means the endpoint closed it or
    /// broke the protocol. Never waits, nor wakes anything later.
    pub(crate) fn is_open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.read.is_empty() && self.poll_fill(&mut cx).is_pending()
    }

    /// Reads what the socket has into the read buffer; `Ok(0)` is the end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let spare = self.read.capacity() - self.read.len();
        let asked = if spare < 1024 {
            self.read.reserve(self.read_size);
            self.read.capacity() - self.read.len()
        } else {
            spare
        };
        let buf = &mut self.read;
        let polled = match &mut self.io {
            Conn::Plain(io) => std::pin::pin!(io.inner_mut().read_buf(buf)).poll(cx),
            #[cfg(feature = "tls")]
            Conn::Tls(io) => std::pin::pin!(io.inner_mut().read_buf(buf)).poll(cx),
        };
        if let Poll::Ready(Ok(n)) = polled
            && n >= asked
            && self.read_size < MAX_READ
        {
            self.read_size *= 2;
        }
        polled
    }

    /// Writes the encoded request head, whole.
    async fn write_head(&mut self) -> io::Result<()> {
        let head = &self.write[..];
        match &mut self.io {
            // A TCP stream has nothing to flush.
            Conn::Plain(io) => io.inner_mut().write_all(head).await,
            #[cfg(feature = "tls")]
            Conn::Tls(io) => {
                let tls = io.inner_mut();
                tls.write_all(head).await?;
                tls.flush().await
            }
        }
    }

    /// Encodes the head of `req` (its body ended, no upgrade) into the write buffer as
    /// hyper's HTTP/1.1 client would: origin form, header lines as given
    /// (`Transfer-Encoding` left out: the body has ended), and `host` when the request
    /// has no `Host`. What [`send`] needs to know of the request is returned.
    pub(crate) fn encode_head(&mut self, req: &Request<Body>, host: &HeaderValue) -> Sent {
        let w = &mut self.write;
        w.clear();
        w.extend_from_slice(req.method().as_str().as_bytes());
        w.push(b' ');
        let uri = req.uri();
        let path = uri.path();
        w.extend_from_slice(if path.is_empty() { b"/" } else { path.as_bytes() });
        if let Some(query) = uri.query() {
            w.push(b'?');
            w.extend_from_slice(query.as_bytes());
        }
        w.extend_from_slice(if req.version() == Version::HTTP_10 {
            b" HTTP/1.0\r\n"
        } else {
            b" HTTP/1.1\r\n"
        });
        for (name, value) in req.headers() {
            if name == header::TRANSFER_ENCODING {
                continue;
            }
            header_line(w, name.as_str().as_bytes(), value.as_bytes());
        }
        if !req.headers().contains_key(header::HOST) {
            header_line(w, b"host", host.as_bytes());
        }
        w.extend_from_slice(b"\r\n");
        let close = req.version() != Version::HTTP_11
            || req
                .headers()
                .get_all(header::CONNECTION)
                .iter()
                .any(|v| has_token(v.as_bytes(), b"close"));
        Sent { head: req.method() == Method::HEAD, close }
    }

    /// Parses a response head from the read buffer (skipping interim `1xx` ones), or
    /// `None` when more bytes are needed.
    fn parse_head(&mut self, head_request: bool) -> Result<Option<Parsed>, Error> {
        loop {
            let Some(parsed) = self.parse_one_head(head_request)? else { return Ok(None) };
            if parsed.res.status().is_informational() {
                // `100 Continue`, `103 Early Hints`...: the final response follows.
                continue;
            }
            return Ok(Some(parsed));
        }
    }

    fn parse_one_head(&mut self, head_request: bool) -> Result<Option<Parsed>, Error> {
        // (name start, name end, value start, value end) of each header line.
        let mut spans = [[0u32; 4]; MAX_HEADERS];
        let (len, code, version, reason, count) = {
            let mut lines = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
            let mut res = httparse::Response::new(&mut []);
            let buf: &[u8] = &self.read;
            let len = match httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut res, buf, &mut lines)
            {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => {
                    return if buf.len() > MAX_HEAD_BYTES {
                        Err(Error::HeadTooLarge)
                    } else {
                        Ok(None)
                    };
                }
                Err(httparse::Error::TooManyHeaders) => return Err(Error::TooManyHeaders),
                Err(e) => return Err(Error::InvalidHead(e.to_string())),
            };
            if len > MAX_HEAD_BYTES {
                return Err(Error::HeadTooLarge);
            }
            // Where a slice httparse returned lies in `buf` (an empty one anywhere).
            let base = buf.as_ptr() as usize;
            let span = |s: &[u8]| {
                let start = if s.is_empty() { 0 } else { s.as_ptr() as usize - base };
                [start as u32, (start + s.len()) as u32]
            };
            for (slot, line) in spans.iter_mut().zip(res.headers.iter()) {
                let ([ns, ne], [vs, ve]) = (span(line.name.as_bytes()), span(line.value));
                *slot = [ns, ne, vs, ve];
            }
            let code = res.code.unwrap_or_default();
            // Kept, as hyper does, when it is not the status code's usual one.
            let reason = res.reason.filter(|r| {
                !r.is_empty()
                    && Some(*r)
                        != StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason())
            });
            let reason = reason.map(|r| span(r.as_bytes()));
            (len, code, res.version.unwrap_or_default(), reason, res.headers.len())
        };
        let head = self.read.split_to(len).freeze();
        let status = StatusCode::from_u16(code)
            .map_err(|_| Error::InvalidHead(format!("invalid status code {code}")))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::UnexpectedSwitch);
        }
        let version = if version == 1 { Version::HTTP_11 } else { Version::HTTP_10 };
        let mut res = Response::new(());
        *res.status_mut() = status;
        *res.version_mut() = version;
        if status.is_informational() {
            return Ok(Some(Parsed { res, framing: Framing::Length(0), keep_alive: false }));
        }
        let mut headers = HeaderMap::with_capacity(count);
        let mut keep_alive = version == Version::HTTP_11;
        let mut transfer_encoding = None::<bool>;
        let mut length = None::<Result<u64, Error>>;
        for [ns, ne, vs, ve] in &spans[..count] {
            let name = HeaderName::from_bytes(&head[*ns as usize..*ne as usize])
                .map_err(|e| Error::InvalidHead(format!("invalid header name: {e}")))?;
            let value = HeaderValue::from_maybe_shared(head.slice(*vs as usize..*ve as usize))
                .map_err(|e| Error::InvalidHead(format!("invalid value of {name}: {e}")))?;
            if name == header::CONNECTION {
                if has_token(value.as_bytes(), b"close") {
                    keep_alive = false;
                }
            } else if name == header::TRANSFER_ENCODING {
                // Only the last coding counts (RFC 9112 §6.3): is it `chunked`?
                transfer_encoding = Some(last_token_is(value.as_bytes(), b"chunked"));
            } else if name == header::CONTENT_LENGTH && !matches!(length, Some(Err(_))) {
                length = Some(content_length(value.as_bytes(), length.and_then(Result::ok)));
            }
            headers.append(name, value);
        }
        *res.headers_mut() = headers;
        if let Some([start, end]) = reason
            && let Ok(reason) =
                hyper::ext::ReasonPhrase::try_from(head.slice(start as usize..end as usize))
        {
            res.extensions_mut().insert(reason);
        }
        let framing = if head_request
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            Framing::Length(0)
        } else if let Some(chunked) = transfer_encoding {
            if version == Version::HTTP_10 {
                return Err(Error::TransferEncodingInHttp10);
            }
            if length.is_some() {
                // Both: the message may have been crafted to desynchronize; use it,
                // then close (RFC 9112 §6.3 item 3).
                keep_alive = false;
            }
            if chunked { Framing::Chunked } else { Framing::Close }
        } else {
            match length {
                Some(Ok(n)) => Framing::Length(n),
                Some(Err(e)) => return Err(e),
                None => Framing::Close,
            }
        };
        Ok(Some(Parsed { res, framing, keep_alive }))
    }
}

/// What the response reading needs to know of an encoded request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    /// A `HEAD` request: the response has no body.
    head: bool,
    /// The connection closes after this exchange (`Connection: close`, HTTP/1.0).
    close: bool,
}

/// A parsed response head and how its body is framed.
struct Parsed {
    res: Response<()>,
    framing: Framing,
    keep_alive: bool,
}

enum Framing {
    Length(u64),
    Chunked,
    Close,
}

fn header_line(w: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    w.extend_from_slice(name);
    w.extend_from_slice(b": ");
    w.extend_from_slice(value);
    w.extend_from_slice(b"\r\n");
}

/// Whether the comma-separated list `value` holds `token` (ASCII case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Whether the last element of the comma-separated list `value` is `token`.
fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    value.rsplit(|b| *b == b',').next().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The length a `Content-Length` value gives (a comma-separated list of equal
/// numbers counts as one), checked against an earlier value `seen`.
fn content_length(value: &[u8], seen: Option<u64>) -> Result<u64, Error> {
    let mut found = seen;
    for part in value.split(|b| *b == b',') {
        let digits = part.trim_ascii();
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::InvalidLength);
        }
        let n = digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        match found {
            Some(m) if m != n => return Err(Error::ConflictingLength),
            _ => found = Some(n),
        }
    }
    found.ok_or(Error::InvalidLength)
}

/// Sends the request [encoded](H1Conn::encode_head) on `conn` and reads the response
/// head; the body streams from the connection, which goes back to `home` when the body
/// is complete and the connection reusable.
pub(crate) async fn send(
    mut conn: H1Conn,
    sent: Sent,
    home: Arc<dyn Recycle>,
) -> Result<Response<H1Body>, Error> {
    conn.write_head().await.map_err(Error::Write)?;
    let head_request = sent.head;
    let mut received = false;
    let parsed = std::future::poll_fn(|cx| {
        loop {
            if received && let Some(parsed) = conn.parse_head(head_request)? {
                return Poll::Ready(Ok(parsed));
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if received => return Poll::Ready(Err(Error::ClosedInHead)),
                Ok(0) => return Poll::Ready(Err(Error::ClosedBeforeHead)),
                Ok(_) => received = true,
                Err(e) if received => return Poll::Ready(Err(Error::ReadHead(e))),
                Err(e) => return Poll::Ready(Err(Error::ResetBeforeHead(e))),
            }
        }
    })
    .await?;
    let keep_alive = parsed.keep_alive && !sent.close;
    let state = match parsed.framing {
        Framing::Length(0) => State::Done,
        Framing::Length(n) => State::Length(n),
        Framing::Chunked => State::Chunked(Chunk::Size),
        Framing::Close => State::Close,
    };
    let mut body = H1Body { conn: Some(conn), state, keep_alive, home: Some(home) };
    if matches!(body.state, State::Done) {
        body.finish();
    }
    Ok(parsed.res.map(|()| body))
}

/// The body of a response read inline; owns its connection while it streams.
pub(crate) struct H1Body {
    /// `None` once the body is complete (or failed).
    conn: Option<H1Conn>,
    state: State,
    /// Whether the connection may carry another request once the body is complete.
    keep_alive: bool,
    home: Option<Arc<dyn Recycle>>,
}

impl std::fmt::Debug for H1Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Body").field("state", &self.state).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
    /// Everything until the endpoint closes the connection.
    Close,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// A chunk size line is next.
    Size,
    /// This many bytes of the current chunk are left.
    Data(u64),
    /// The CRLF after a chunk's data is next.
    DataEnd,
    /// The trailer section (possibly empty) is next.
    Trailers,
}

impl H1Body {
    /// Whether the body is complete (all frames delivered).
    fn done(&self) -> bool {
        self.state == State::Done
    }

    /// The body is complete: the connection goes home when it can carry the next
    /// request, and is closed otherwise.
    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && conn.read.is_empty()
            && let Some(home) = self.home.take()
        {
            home.recycle(conn);
        }
    }

    /// Decodes what the read buffer holds: `Some` frame, or `None` when more bytes are
    /// needed or the body is complete. With `frames` false only framing is consumed
    /// (a chunk's CRLF, size lines, an empty trailer section), so a body whose end is
    /// already buffered is known complete right after its last data frame.
    fn decode(&mut self, frames: bool) -> Result<Option<Frame<Bytes>>, Error> {
        let Some(conn) = self.conn.as_mut() else { return Ok(None) };
        let buf = &mut conn.read;
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Length(left) => {
                    if buf.is_empty() || !frames {
                        return Ok(None);
                    }
                    let n = left.min(buf.len() as u64);
                    let data = buf.split_to(n as usize).freeze();
                    self.state = if n == left { State::Done } else { State::Length(left - n) };
                    return Ok(Some(Frame::data(data)));
                }
                State::Close => {
                    if buf.is_empty() || !frames {
                        return Ok(None);
                    }
                    return Ok(Some(Frame::data(buf.split().freeze())));
                }
                State::Chunked(Chunk::Data(left)) => {
                    if buf.is_empty() || !frames {
                        return Ok(None);
                    }
                    let n = left.min(buf.len() as u64);
                    let data = buf.split_to(n as usize).freeze();
                    self.state = State::Chunked(if n == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n)
                    });
                    return Ok(Some(Frame::data(data)));
                }
                State::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if buf[..2] != *b"\r\n" {
                        return Err(Error::ChunkEnd);
                    }
                    buf.advance(2);
                    self.state = State::Chunked(Chunk::Size);
                }
                State::Chunked(Chunk::Size) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if !buf[0].is_ascii_hexdigit() {
                        return Err(Error::ChunkSize);
                    }
                    match httparse::parse_chunk_size(buf) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            buf.advance(used);
                            self.state = State::Chunked(if size == 0 {
                                Chunk::Trailers
                            } else {
                                Chunk::Data(size)
                            });
                        }
                        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {
                            return Ok(None);
                        }
                        _ => return Err(Error::ChunkSize),
                    }
                }
                State::Chunked(Chunk::Trailers) => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if buf[..2] == *b"\r\n" {
                        buf.advance(2);
                        self.state = State::Done;
                        return Ok(None);
                    }
                    if !frames {
                        return Ok(None);
                    }
                    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let (used, trailers) = match httparse::parse_headers(buf, &mut lines) {
                        Ok(httparse::Status::Complete((used, lines))) => {
                            let mut trailers = HeaderMap::with_capacity(lines.len());
                            for line in lines {
                                let name = HeaderName::from_bytes(line.name.as_bytes())
                                    .map_err(|e| Error::Trailers(e.to_string()))?;
                                let value = HeaderValue::from_bytes(line.value)
                                    .map_err(|e| Error::Trailers(e.to_string()))?;
                                trailers.append(name, value);
                            }
                            (used, trailers)
                        }
                        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {
                            return Ok(None);
                        }
                        Ok(httparse::Status::Partial) => {
                            return Err(Error::Trailers(format!(
                                "larger than {MAX_HEAD_BYTES} bytes"
                            )));
                        }
                        Err(httparse::Error::TooManyHeaders) => {
                            return Err(Error::Trailers(format!("more than {MAX_HEADERS} fields")));
                        }
                        Err(e) => return Err(Error::Trailers(e.to_string())),
                    };
                    buf.advance(used);
                    self.state = State::Done;
                    return Ok(Some(Frame::trailers(trailers)));
                }
            }
        }
    }

    fn fail(&mut self, err: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.conn = None;
        self.state = State::Done;
        Poll::Ready(Some(Err(err)))
    }
}

impl HttpBody for H1Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        loop {
            match this.decode(true) {
                Err(e) => return this.fail(e),
                Ok(Some(frame)) => {
                    if frame.is_data() && matches!(this.state, State::Chunked(_)) {
                        // The end may be buffered already; an error shows on the next poll.
                        let _ = this.decode(false);
                    }
                    if this.done() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(None) if this.done() => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            let Some(conn) = this.conn.as_mut() else { return Poll::Ready(None) };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if this.state == State::Close => {
                    // The end of a close-delimited body: the connection cannot be reused.
                    this.keep_alive = false;
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(0) => return this.fail(Error::IncompleteBody),
                Ok(_) => {}
                Err(e) => return this.fail(Error::ReadBody(e)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Done => SizeHint::with_exact(0),
            State::Length(n) => SizeHint::with_exact(n),
            State::Chunked(_) | State::Close => SizeHint::default(),
        }
    }
}
