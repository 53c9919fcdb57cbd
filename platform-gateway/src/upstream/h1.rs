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
use crate::proxy::{ForwardHeaders, is_forwarding_header};

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
    /// Where the header lines of the last response head lie in it (name start, name
    /// end, value start, value end); kept between responses, so parsing allocates once.
    spans: Vec<[u32; 4]>,
}

impl std::fmt::Debug for H1Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Conn").field("buffered", &self.read.len()).finish_non_exhaustive()
    }
}

impl H1Conn {
    /// A connection over `io`, nothing read or written yet.
    pub(crate) fn new(io: Conn) -> Self {
        Self {
            io,
            read: BytesMut::new(),
            write: Vec::new(),
            read_size: FIRST_READ,
            spans: Vec::new(),
        }
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
        if self.read.capacity() - self.read.len() < 1024 {
            self.read.reserve(self.read_size);
        }
        let buf = &mut self.read;
        let polled = match &mut self.io {
            Conn::Plain(io) => std::pin::pin!(io.inner_mut().read_buf(buf)).poll(cx),
            #[cfg(feature = "tls")]
            Conn::Tls(io) => std::pin::pin!(io.inner_mut().read_buf(buf)).poll(cx),
        };
        if let Poll::Ready(Ok(n)) = polled
            && n >= self.read_size
            && self.read_size < MAX_READ
        {
            self.read_size *= 2;
        }
        polled
    }

    /// Ready for the next request: a read buffer grown by a large body is let go, so
    /// idle connections keep little memory.
    fn idle(mut self) -> Self {
        if self.read_size > FIRST_READ {
            self.read_size = FIRST_READ;
            self.read = BytesMut::new();
        }
        self
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
    /// has no `Host`. Deferred forwarding headers (`forward`) replace any of the same
    /// names in the map. What [`send`] needs to know of the request is returned.
    pub(crate) fn encode_head(
        &mut self,
        req: &Request<Body>,
        host: &HeaderValue,
        forward: Option<&ForwardHeaders>,
    ) -> Sent {
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
        // What the lines say is noted on the way: one pass over the map.
        let (mut has_host, mut close) = (false, req.version() != Version::HTTP_11);
        for (name, value) in req.headers() {
            if *name == header::TRANSFER_ENCODING
                || (forward.is_some() && is_forwarding_header(name))
            {
                continue;
            } else if *name == header::HOST {
                has_host = true;
            } else if *name == header::CONNECTION && has_token(value.as_bytes(), b"close") {
                close = true;
            }
            header_line(w, name.as_str().as_bytes(), value.as_bytes());
        }
        if let Some(forward) = forward {
            w.extend_from_slice(forward.lines());
        }
        if !has_host {
            header_line(w, b"host", host.as_bytes());
        }
        w.extend_from_slice(b"\r\n");
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
        let spans = &mut self.spans;
        spans.clear();
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
            let span = |part: &[u8]| span(buf, part);
            for line in res.headers.iter() {
                let ([ns, ne], [vs, ve]) = (span(line.name.as_bytes()), span(line.value));
                spans.push([ns, ne, vs, ve]);
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
        for [ns, ne, vs, ve] in &self.spans[..count] {
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

/// Where `part`, a slice httparse returned from `base`, lies in it (an empty one
/// anywhere).
pub(crate) fn span(base: &[u8], part: &[u8]) -> [u32; 2] {
    let start = if part.is_empty() { 0 } else { part.as_ptr() as usize - base.as_ptr() as usize };
    [start as u32, (start + part.len()) as u32]
}

pub(crate) fn header_line(w: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    w.extend_from_slice(name);
    w.extend_from_slice(b": ");
    w.extend_from_slice(value);
    w.extend_from_slice(b"\r\n");
}

/// Whether the comma-separated list `value` holds `token` (ASCII case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Whether the last element of the comma-separated list `value` is `token`.
fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    value.rsplit(|b| *b == b',').next().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The length a `Content-Length` value gives (a comma-separated list of equal
/// numbers counts as one), checked against an earlier value `seen`.
pub(crate) fn content_length(value: &[u8], seen: Option<u64>) -> Result<u64, Error> {
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
            home.recycle(conn.idle());
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::uri::Authority;
    use http_body_util::BodyExt;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    use super::super::pool::{Connectors, Pool, SendError, UpstreamBody};
    use super::super::{Transport, UpstreamConfig};
    use super::*;

    /// What the scripted upstream does with a request.
    enum Reply {
        /// Writes these bytes and keeps the connection.
        Send(Vec<u8>),
        /// Writes these bytes (maybe none) and closes the connection.
        Close(Vec<u8>),
        /// Writes these bytes one at a time, each in its own segment.
        Trickle(Vec<u8>),
    }

    fn send(text: &str) -> Reply {
        Reply::Send(text.as_bytes().to_vec())
    }

    type Heads = Arc<Mutex<Vec<Vec<u8>>>>;

    /// A raw upstream answering each request head with `script(connection, request
    /// on that connection)`; returns its address, the heads it got and how many
    /// connections it accepted.
    async fn upstream<F>(script: F) -> (SocketAddr, Heads, Arc<AtomicUsize>)
    where
        F: Fn(usize, usize) -> Reply + Send + Sync + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Heads::default();
        let accepted = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let (seen, count) = (heads.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, conn, script.clone(), seen.clone()));
            }
        });
        (addr, heads, accepted)
    }

    async fn serve<F>(mut stream: TcpStream, conn: usize, script: Arc<F>, heads: Heads)
    where
        F: Fn(usize, usize) -> Reply,
    {
        let mut buf = Vec::new();
        for n in 0.. {
            let end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let mut chunk = [0u8; 4096];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            };
            heads.lock().unwrap().push(buf.drain(..end).collect());
            match script(conn, n) {
                Reply::Send(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Reply::Close(bytes) => {
                    let _ = stream.write_all(&bytes).await;
                    return;
                }
                Reply::Trickle(bytes) => {
                    stream.set_nodelay(true).unwrap();
                    for b in bytes {
                        if stream.write_all(&[b]).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
                    }
                }
            }
        }
    }

    fn pool(addr: SocketAddr) -> Pool {
        let authority: Authority = addr.to_string().parse().unwrap();
        Pool::new(Connectors::new(&UpstreamConfig::default(), &Transport::Plain), authority)
    }

    /// A request as the gateway sends it: absolute URI, HTTP/1.1, an ended body.
    fn request(method: Method, addr: SocketAddr, path: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .body(crate::body::empty())
            .unwrap()
    }

    async fn get(pool: &Pool, addr: SocketAddr, path: &str) -> Response<UpstreamBody> {
        pool.send(request(Method::GET, addr, path)).await.unwrap_or_else(|e| panic!("{e:?}"))
    }

    async fn text(res: Response<UpstreamBody>) -> String {
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn inline_error(err: SendError) -> String {
        match err {
            SendError::Inline(e) => e.to_string(),
            other => panic!("not an inline error: {other:?}"),
        }
    }

    fn head(heads: &Heads, i: usize) -> String {
        String::from_utf8_lossy(&heads.lock().unwrap()[i]).into_owned()
    }

    #[tokio::test]
    async fn content_length_bodies_and_one_keep_alive_connection() {
        let (addr, heads, accepted) =
            upstream(|_, _| send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello"))
                .await;
        let pool = pool(addr);
        for _ in 0..3 {
            let res = get(&pool, addr, "/a/b?c=1").await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.version(), Version::HTTP_11);
            assert_eq!(res.headers()["x-a"], "1");
            assert!(matches!(res.body(), UpstreamBody::Right(_)));
            assert_eq!(res.body().size_hint().exact(), Some(5));
            assert_eq!(text(res).await, "hello");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one keep-alive connection");
        assert_eq!(pool.idle_http1(), 1);
        assert_eq!(head(&heads, 0), format!("GET /a/b?c=1 HTTP/1.1\r\nhost: {addr}\r\n\r\n"));
    }

    #[tokio::test]
    async fn the_head_carries_the_headers_as_given_and_a_host_only_when_missing() {
        let (addr, heads, _) =
            upstream(|_, _| send("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")).await;
        let pool = pool(addr);
        let mut req = request(Method::GET, addr, "");
        req.headers_mut().append("x-multi", HeaderValue::from_static("one"));
        req.headers_mut().append("x-multi", HeaderValue::from_static("two"));
        req.headers_mut().insert("x-raw", HeaderValue::from_bytes(b"a\xffb").unwrap());
        pool.send(req).await.unwrap();
        let mut req = request(Method::GET, addr, "/p");
        req.headers_mut().insert(header::HOST, HeaderValue::from_static("example.com"));
        pool.send(req).await.unwrap();
        // A bodiless POST gets neither content-length nor transfer-encoding (as hyper).
        let mut req = request(Method::POST, addr, "/post");
        req.headers_mut().insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        pool.send(req).await.unwrap();
        let mut want =
            b"GET / HTTP/1.1\r\nx-multi: one\r\nx-multi: two\r\nx-raw: a\xffb\r\n".to_vec();
        want.extend_from_slice(format!("host: {addr}\r\n\r\n").as_bytes());
        assert_eq!(heads.lock().unwrap()[0], want);
        assert_eq!(head(&heads, 1), "GET /p HTTP/1.1\r\nhost: example.com\r\n\r\n");
        assert_eq!(head(&heads, 2), format!("POST /post HTTP/1.1\r\nhost: {addr}\r\n\r\n"));
    }

    #[tokio::test]
    async fn chunked_bodies_ignore_extensions_and_deliver_trailers() {
        let (addr, _, accepted) = upstream(|_, _| {
            send(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n\
                 5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0;last\r\nx-checksum: 42\r\nx-more: yes\r\n\r\n",
            )
        })
        .await;
        let pool = pool(addr);
        for _ in 0..2 {
            let res = get(&pool, addr, "/").await;
            let collected = res.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert_eq!(trailers["x-checksum"], "42");
            assert_eq!(trailers["x-more"], "yes");
            assert_eq!(collected.to_bytes(), "hello world");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "reused after a chunked body");
    }

    #[tokio::test]
    async fn a_chunked_body_whose_end_is_buffered_ends_with_its_last_data_frame() {
        let (addr, _, _) = upstream(|_, _| {
            send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        })
        .await;
        let pool = pool(addr);
        let mut body = get(&pool, addr, "/").await.into_body();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "abc");
        assert!(body.is_end_stream(), "the terminating chunk was read along");
        assert_eq!(pool.idle_http1(), 1, "the connection is back before the body is polled again");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn close_delimited_bodies_end_with_the_connection_which_is_not_reused() {
        let (addr, _, accepted) = upstream(|_, _| {
            Reply::Close(b"HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nuntil the end".to_vec())
        })
        .await;
        let pool = pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "until the end");
        assert_eq!(pool.idle_http1(), 0);
        assert_eq!(text(get(&pool, addr, "/").await).await, "until the end");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // A transfer coding other than chunked last is read until close too.
        let (addr, _, _) = upstream(|_, _| {
            Reply::Close(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nzipped".to_vec())
        })
        .await;
        let pool = super::tests::pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "zipped");
    }

    #[tokio::test]
    async fn head_204_and_304_have_no_body_whatever_their_content_length() {
        let (addr, _, accepted) = upstream(|_, n| match n {
            0 => send("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"),
            1 => send("HTTP/1.1 204 No Content\r\ncontent-length: 10\r\n\r\n"),
            _ => send("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"),
        })
        .await;
        let pool = pool(addr);
        let res = pool.send(request(Method::HEAD, addr, "/")).await.unwrap();
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "10");
        assert!(res.body().is_end_stream());
        assert_eq!(pool.idle_http1(), 1, "back in the pool at once");
        assert_eq!(text(res).await, "");
        for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
            let res = get(&pool, addr, "/").await;
            assert_eq!(res.status(), status);
            assert!(res.body().is_end_stream());
            assert_eq!(text(res).await, "");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn interim_responses_are_skipped_and_101_is_an_error() {
        let (addr, _, _) = upstream(|_, n| match n {
            0 => send(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
                 HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
            ),
            _ => send("HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n"),
        })
        .await;
        let pool = pool(addr);
        let res = get(&pool, addr, "/").await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert!(!res.headers().contains_key("link"));
        assert_eq!(text(res).await, "ok");
        let err = pool.send(request(Method::GET, addr, "/")).await.unwrap_err();
        assert!(inline_error(err).contains("101 Switching Protocols"));
    }

    #[tokio::test]
    async fn connection_close_on_either_side_is_not_reused() {
        let (addr, _, accepted) = upstream(|_, _| {
            send("HTTP/1.1 200 OK\r\nconnection: keep-alive, close\r\ncontent-length: 1\r\n\r\nx")
        })
        .await;
        let pool = pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "x");
        assert_eq!(pool.idle_http1(), 0);
        assert_eq!(text(get(&pool, addr, "/").await).await, "x");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);

        let (addr, _, accepted) =
            upstream(|_, _| send("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx")).await;
        let pool = super::tests::pool(addr);
        let mut req = request(Method::GET, addr, "/");
        req.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        assert_eq!(text(pool.send(req).await.unwrap()).await, "x");
        assert_eq!(pool.idle_http1(), 0, "the request asked to close");
        // An HTTP/1.0 answer is not reused either.
        let (addr10, _, _) =
            upstream(|_, _| send("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx")).await;
        let pool10 = super::tests::pool(addr10);
        let res = get(&pool10, addr10, "/").await;
        assert_eq!(res.version(), Version::HTTP_10);
        assert_eq!(text(res).await, "x");
        assert_eq!(pool10.idle_http1(), 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// Answers the first request of the first connection, then closes it when the
    /// next request arrives (the race of reusing a connection the endpoint is closing);
    /// answers every request on later connections.
    fn closes_after_one(conn: usize, n: usize) -> Reply {
        match (conn, n) {
            (0, 0) => send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst"),
            (0, _) => Reply::Close(Vec::new()),
            _ => send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh"),
        }
    }

    #[tokio::test]
    async fn an_idempotent_request_on_a_connection_closed_meanwhile_is_sent_again() {
        let (addr, _, accepted) = upstream(closes_after_one).await;
        let pool = pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "first");
        assert_eq!(text(get(&pool, addr, "/").await).await, "fresh");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_post_on_a_connection_closed_meanwhile_fails_without_a_retry() {
        let (addr, _, accepted) = upstream(closes_after_one).await;
        let pool = pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "first");
        let err = pool.send(request(Method::POST, addr, "/")).await.unwrap_err();
        let err = inline_error(err);
        assert!(
            err == "upstream closed the connection before the response head"
                || err.starts_with("reading the response head failed"),
            "{err}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "not sent again");
    }

    #[tokio::test]
    async fn an_idle_connection_the_endpoint_closed_is_left_for_a_new_one() {
        let (addr, _, accepted) = upstream(|_, _| {
            Reply::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec())
        })
        .await;
        let pool = pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "ok");
        // Give the close time to arrive: the check when taking it sees it, even for
        // a method that is never sent twice.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let res = pool.send(request(Method::POST, addr, "/")).await.unwrap();
        assert_eq!(text(res).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn malformed_heads_and_lengths_are_errors_naming_what_is_wrong() {
        let cases: [(&str, &str); 7] = [
            ("garbage\r\n\r\n", "invalid response head: "),
            ("HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "invalid response head: "),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
                "conflicting content-length values",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabcd",
                "conflicting content-length values",
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n", "invalid content-length value"),
            (
                "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                "invalid response head: transfer-encoding in an HTTP/1.0 response",
            ),
            ("", "upstream closed the connection before the response head"),
        ];
        for (reply, want) in cases {
            let (addr, _, _) = upstream(move |_, _| Reply::Close(reply.as_bytes().to_vec())).await;
            let pool = pool(addr);
            let err = pool.send(request(Method::GET, addr, "/")).await.unwrap_err();
            let err = inline_error(err);
            assert!(err.starts_with(want), "{reply:?}: {err}");
        }
        let mut many = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("x-{i}: {i}\r\n"));
        }
        many.push_str("\r\n");
        let (addr, _, _) = upstream(move |_, _| send(&many)).await;
        let err = pool(addr).send(request(Method::GET, addr, "/")).await.unwrap_err();
        assert_eq!(inline_error(err), "response head larger than 100 headers");
    }

    #[tokio::test]
    async fn broken_bodies_fail_and_close_the_connection() {
        let cases: [(&str, &str); 4] = [
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "invalid chunk size line",
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\r\n",
                "invalid chunk size line",
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
                "invalid chunked body",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
                "upstream closed the connection before the response body was complete",
            ),
        ];
        for (reply, want) in cases {
            let (addr, _, _) = upstream(move |_, _| Reply::Close(reply.as_bytes().to_vec())).await;
            let pool = pool(addr);
            let res = get(&pool, addr, "/").await;
            let err = res.into_body().collect().await.unwrap_err();
            assert!(err.to_string().starts_with(want), "{reply:?}: {err}");
            assert_eq!(pool.idle_http1(), 0);
        }
    }

    #[tokio::test]
    async fn transfer_encoding_wins_over_content_length_and_the_connection_is_closed() {
        let (addr, _, _) = upstream(|_, _| {
            send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        })
        .await;
        let pool = pool(addr);
        assert_eq!(text(get(&pool, addr, "/").await).await, "ok");
        assert_eq!(pool.idle_http1(), 0);
    }

    #[tokio::test]
    async fn a_body_dropped_half_read_closes_its_connection() {
        let (addr, _, accepted) = upstream(|conn, _| match conn {
            // Half the body now, the rest never.
            0 => send("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf."),
            _ => send("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        })
        .await;
        let pool = pool(addr);
        let mut body = get(&pool, addr, "/").await.into_body();
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "half.");
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(5));
        drop(body);
        assert_eq!(pool.idle_http1(), 0);
        assert_eq!(text(get(&pool, addr, "/").await).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_large_body_streams_intact_in_several_frames() {
        const LEN: usize = 8 * 1024 * 1024;
        let payload: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let mut reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {LEN}\r\n\r\n").into_bytes();
        reply.extend_from_slice(&payload);
        let (addr, _, accepted) = upstream(move |_, _| Reply::Send(reply.clone())).await;
        let pool = pool(addr);
        for _ in 0..2 {
            let mut body = get(&pool, addr, "/").await.into_body();
            let (mut got, mut frames) = (Vec::with_capacity(LEN), 0);
            while let Some(frame) = body.frame().await {
                got.extend_from_slice(&frame.unwrap().into_data().unwrap());
                frames += 1;
            }
            assert!(got == payload, "the body arrived intact");
            assert!(frames > 1);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn heads_and_bodies_arriving_a_byte_at_a_time_are_reassembled() {
        let (addr, _, accepted) = upstream(|_, n| {
            Reply::Trickle(
                if n % 2 == 0 {
                    "HTTP/1.1 200 Fine Thanks\r\nx-a: 1\r\ncontent-length: 5\r\n\r\nhello"
                } else {
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                     3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-t: done\r\n\r\n"
                }
                .as_bytes()
                .to_vec(),
            )
        })
        .await;
        let pool = pool(addr);
        let res = get(&pool, addr, "/").await;
        // A reason phrase other than the status's usual one is kept, as hyper does.
        let reason = res.extensions().get::<hyper::ext::ReasonPhrase>().expect("reason phrase");
        assert_eq!(reason.as_bytes(), b"Fine Thanks");
        assert_eq!(res.headers()["x-a"], "1");
        assert_eq!(text(res).await, "hello");
        let res = get(&pool, addr, "/").await;
        assert!(res.extensions().get::<hyper::ext::ReasonPhrase>().is_none());
        let collected = res.into_body().collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-t"], "done");
        assert_eq!(collected.to_bytes(), "abc0123456789abcdef");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn requests_with_a_body_or_an_upgrade_go_through_hyper() {
        let (addr, heads, _) =
            upstream(|_, _| send("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")).await;
        let pool = pool(addr);
        let req = Request::post(format!("http://{addr}/")).body(crate::body::full("data")).unwrap();
        let res = pool.send(req).await.unwrap();
        assert!(matches!(res.body(), UpstreamBody::Left(_)));
        assert_eq!(text(res).await, "ok");
        assert!(head(&heads, 0).contains("content-length: 4\r\n"), "{}", head(&heads, 0));
        let mut req = request(Method::GET, addr, "/");
        req.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let res = pool.send(req).await.unwrap();
        assert!(matches!(res.body(), UpstreamBody::Left(_)));
        assert_eq!(text(res).await, "ok");
    }

    #[test]
    fn content_length_values() {
        assert_eq!(content_length(b"42", None).unwrap(), 42);
        assert_eq!(content_length(b"42, 42", None).unwrap(), 42);
        assert_eq!(content_length(b" 7 ", Some(7)).unwrap(), 7);
        assert!(matches!(content_length(b"7", Some(8)), Err(Error::ConflictingLength)));
        assert!(matches!(content_length(b"", None), Err(Error::InvalidLength)));
        assert!(matches!(content_length(b"+1", None), Err(Error::InvalidLength)));
        assert!(matches!(content_length(b"99999999999999999999", None), Err(Error::InvalidLength)));
    }

    #[test]
    fn connection_tokens() {
        assert!(has_token(b"Keep-Alive, CLOSE", b"close"));
        assert!(!has_token(b"closed", b"close"));
        assert!(last_token_is(b"gzip, Chunked ", b"chunked"));
        assert!(!last_token_is(b"chunked, gzip", b"chunked"));
    }
}
