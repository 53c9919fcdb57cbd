//! The inline HTTP/1.1 server path for plain requests.
//!
//! hyper's server runs every connection through its dispatcher: the head is read into
//! its buffer, parsed (after the [framing inspector](super::inspect) has already read
//! the same bytes), handed to the service, and the response is encoded through its
//! own state machine. For the common request — HTTP/1.1, no body, no upgrade — the
//! server does this itself, in the connection's task: the head is parsed once with
//! `httparse` from the connection's read buffer (header values are slices of it, not
//! copies), the [`Gateway`] is called, and the response head and its first body bytes
//! go out in one write.
//!
//! The first request that is anything else — a body (`Content-Length` above zero or
//! `Transfer-Encoding`), an `Upgrade`, `Expect`, `CONNECT`, HTTP/1.0, HTTP/2's
//! preface, a head `httparse` refuses or one over the limits — hands the connection,
//! with every byte read so far, to hyper for the rest of its life ([`Prefixed`]), so
//! each unusual case keeps hyper's behaviour and the gateway's checks around it.
//!
//! What this path does, as hyper's does: the header-read timeout counts from when the
//! server starts waiting for a head (so it also closes idle keep-alive connections);
//! responses get a `Date`; their framing is their `Content-Length` when they have one,
//! the body's exact size when it is known, chunked otherwise, and no body for `HEAD`,
//! `1xx`, `204` and `304`; `Connection: close` from either side closes the connection
//! after the response; pipelined requests are answered in order; on shutdown the
//! response in progress is finished (with `Connection: close`) and the connection
//! closed. Response trailers are not sent over HTTP/1 (hyper sends them only to
//! clients that ask with `TE: trailers`; plain HTTP/1 clients do not).

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::FutureExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Extensions, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use super::ConnectionInfo;
use super::inspect::find_head_end;
use super::shutdown::ConnectionWatch;
use crate::body::Body;
use crate::error::json_error;
use crate::gateway::Gateway;
use crate::timer::LazySleep;
use crate::upstream::h1::{content_length, has_token, header_line, span};

/// Header lines a head read here may have; a head with more goes to hyper, whose limit
/// (and 431) applies.
const MAX_HEADERS: usize = 100;

/// What a read asks the socket for.
const READ_SIZE: usize = 8 * 1024;

/// Body bytes copied behind the response head into one write; a larger frame is
/// written on its own.
const COALESCE: usize = 16 * 1024;

/// What the inline path needs of the server's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) header_read_timeout: Duration,
    /// The largest head (request line, header lines, line ends) read here; a longer
    /// one goes to hyper, which answers 431.
    pub(crate) max_head: usize,
}

/// How the inline path left a connection.
pub(crate) enum Ended<I> {
    /// Done with: closed by either side, timed out, failed, or drained.
    Closed,
    /// hyper serves the rest, starting with the bytes already read.
    Handoff(Prefixed<I>),
}

/// Serves `io` inline until it closes or a request needs hyper.
pub(crate) async fn serve<I>(
    io: I,
    gateway: &Gateway,
    info: &ConnectionInfo,
    settings: Settings,
    watch: &mut ConnectionWatch,
) -> Ended<I>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn =
        Conn { io, read: BytesMut::new(), write: Vec::new(), lines: Vec::new(), sleep: None };
    let extensions = first_extensions(info);
    loop {
        let parsed = match conn.read_head(settings, watch).await {
            Next::Request(parsed) => parsed,
            Next::Handoff => {
                return Ended::Handoff(Prefixed { prefix: conn.read.freeze(), io: conn.io });
            }
            Next::Closed => return Ended::Closed,
        };
        crate::worker::request_begun();
        let head_request = parsed.method == Method::HEAD;
        let keep_alive = !parsed.close;
        let res = match parsed.into_request(&extensions, &conn.lines) {
            Ok(req) => gateway.serve(req).await.unwrap_or_else(|e: Infallible| match e {}),
            Err(res) => {
                conn.write_response(*res, false, false).await;
                return Ended::Closed;
            }
        };
        let draining = std::future::poll_fn(|cx| Poll::Ready(watch.poll_triggered(cx))).await;
        if !conn.write_response(res, head_request, keep_alive && !draining).await {
            return Ended::Closed;
        }
    }
}

/// What waiting for the next head gave.
enum Next {
    Request(Parsed),
    Handoff,
    Closed,
}

/// One connection's socket and buffers.
struct Conn<I> {
    io: I,
    /// Bytes read and not yet consumed; request heads are split off it.
    read: BytesMut,
    /// The response head (and small bodies) being written.
    write: Vec<u8>,
    /// Where the header lines of the last head lie in it: (name start, name end, value
    /// start, value end). Kept between requests, so parsing does not allocate.
    lines: Vec<[u32; 4]>,
    /// The header-read timeout, re-armed for each head (see [`LazySleep::reset`]).
    sleep: Option<LazySleep>,
}

/// A request head read inline, before it becomes a [`Request`].
struct Parsed {
    /// The whole head; the request's header values are slices of it.
    head: Bytes,
    method: Method,
    target: [u32; 2],
    /// `Connection: close`.
    close: bool,
}

impl<I: AsyncRead + AsyncWrite + Unpin> Conn<I> {
    /// Reads until a complete request head is buffered (and parses it), the client
    /// closes, the timeout passes, the shutdown begins or hyper must take over.
    async fn read_head(&mut self, settings: Settings, watch: &mut ConnectionWatch) -> Next {
        let mut armed = false;
        let mut searched = 0;
        std::future::poll_fn(|cx| {
            loop {
                if watch.poll_triggered(cx) {
                    return Poll::Ready(Next::Closed);
                }
                // Empty lines before a request line are allowed and ignored.
                let blank = self.read.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
                if blank > 0 {
                    self.read.advance(blank);
                    searched = 0;
                }
                if let Some(end) = find_head_end(&self.read, searched) {
                    return Poll::Ready(self.parse(end, settings.max_head));
                }
                if self.read.len() > settings.max_head {
                    return Poll::Ready(Next::Handoff);
                }
                searched = self.read.len();
                match self.poll_fill(cx) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Next::Closed),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Pending => {
                        let timeout = settings.header_read_timeout;
                        let sleep = match &mut self.sleep {
                            Some(sleep) if armed => sleep,
                            Some(sleep) => {
                                sleep.reset(Instant::now(), timeout);
                                sleep
                            }
                            None => self.sleep.insert(LazySleep::after(Instant::now(), timeout)),
                        };
                        armed = true;
                        if Pin::new(sleep).poll(cx).is_ready() {
                            tracing::debug!(target: "platform::gateway", "no complete request head within the header-read timeout; closing");
                            return Poll::Ready(Next::Closed);
                        }
                        return Poll::Pending;
                    }
                }
            }
        })
        .await
    }

    /// Reads what the socket has into the read buffer; `Ok(0)` is the end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < 1024 {
            self.read.reserve(READ_SIZE);
        }
        std::pin::pin!(self.io.read_buf(&mut self.read)).poll(cx)
    }

    /// Parses the head `self.read[..end]`: a request to serve here, or a handoff.
    fn parse(&mut self, end: usize, max_head: usize) -> Next {
        if end > max_head {
            return Next::Handoff;
        }
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let buf: &[u8] = &self.read[..end];
        match req.parse_with_uninit_headers(buf, &mut headers) {
            Ok(httparse::Status::Complete(n)) if n == end => {}
            _ => return Next::Handoff,
        }
        if req.version != Some(1) {
            return Next::Handoff;
        }
        let Some(method) = req.method.and_then(|m| Method::from_bytes(m.as_bytes()).ok()) else {
            return Next::Handoff;
        };
        if method == Method::CONNECT {
            return Next::Handoff;
        }
        let target = span(buf, req.path.unwrap_or_default().as_bytes());
        let lines = &mut self.lines;
        lines.clear();
        let mut close = false;
        let mut length_seen = false;
        for h in req.headers.iter() {
            let name = h.name.as_bytes();
            // Only the names that decide between here and hyper (compared by length
            // first: most names are none of them).
            match name.len() {
                6 if name.eq_ignore_ascii_case(b"expect") => return Next::Handoff,
                7 if name.eq_ignore_ascii_case(b"upgrade") => return Next::Handoff,
                10 if name.eq_ignore_ascii_case(b"connection") => {
                    if has_token(h.value, b"upgrade") {
                        return Next::Handoff;
                    }
                    close |= has_token(h.value, b"close");
                }
                14 if name.eq_ignore_ascii_case(b"content-length") => {
                    if length_seen || h.value.trim_ascii() != b"0" {
                        return Next::Handoff;
                    }
                    length_seen = true;
                }
                17 if name.eq_ignore_ascii_case(b"transfer-encoding") => return Next::Handoff,
                _ => {}
            }
            let [ns, ne] = span(buf, name);
            let [vs, ve] = span(buf, h.value);
            lines.push([ns, ne, vs, ve]);
        }
        let head = self.read.split_to(end).freeze();
        Next::Request(Parsed { head, method, target, close })
    }

    /// Writes `res`; `false` when the connection must close afterwards (or failed).
    async fn write_response(
        &mut self,
        res: Response<Body>,
        head_request: bool,
        keep_alive: bool,
    ) -> bool {
        let (parts, mut body) = res.into_parts();
        let status = parts.status;
        let w = &mut self.write;
        w.clear();
        w.extend_from_slice(b"HTTP/1.1 ");
        w.extend_from_slice(status.as_str().as_bytes());
        w.push(b' ');
        match parts.extensions.get::<hyper::ext::ReasonPhrase>() {
            Some(reason) => w.extend_from_slice(reason.as_bytes()),
            None => w.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes()),
        }
        w.extend_from_slice(b"\r\n");
        let bodiless_status = status.is_informational() || status == StatusCode::NO_CONTENT;
        let no_body = head_request || bodiless_status || status == StatusCode::NOT_MODIFIED;
        let (mut keep_alive, mut has_date, mut length) = (keep_alive, false, None::<u64>);
        let mut said_close = false;
        for (name, value) in &parts.headers {
            if *name == header::TRANSFER_ENCODING {
                // The framing is decided here.
                continue;
            } else if *name == header::CONTENT_LENGTH {
                if bodiless_status || length.is_some() {
                    continue;
                }
                match content_length(value.as_bytes(), None) {
                    Ok(n) => length = Some(n),
                    Err(_) => continue,
                }
            } else if *name == header::CONNECTION {
                if has_token(value.as_bytes(), b"close") {
                    keep_alive = false;
                    said_close = true;
                }
            } else if *name == header::DATE {
                has_date = true;
            }
            header_line(w, name.as_str().as_bytes(), value.as_bytes());
        }
        if !has_date {
            date::write(w);
        }
        if !keep_alive && !said_close {
            w.extend_from_slice(b"connection: close\r\n");
        }
        let mode = if no_body {
            Mode::None
        } else if let Some(n) = length {
            Mode::Length(n)
        } else if body.is_end_stream() {
            w.extend_from_slice(b"content-length: 0\r\n");
            Mode::None
        } else if let Some(n) = body.size_hint().exact() {
            // Rare here (upstream responses carry their own length): formatted plainly.
            let _ = write!(w, "content-length: {n}\r\n");
            Mode::Length(n)
        } else {
            w.extend_from_slice(b"transfer-encoding: chunked\r\n");
            Mode::Chunked
        };
        w.extend_from_slice(b"\r\n");
        match self.write_body(&mut body, mode).await {
            Ok(complete) => complete && keep_alive,
            Err(e) => {
                tracing::debug!(target: "platform::gateway", error = %e, "writing a response failed; closing the connection");
                false
            }
        }
    }

    /// Writes the buffered head and the body in `mode`; `Ok(false)` when the body
    /// failed or did not match its length (the connection must close).
    async fn write_body(&mut self, body: &mut Body, mode: Mode) -> io::Result<bool> {
        let mut left = match mode {
            Mode::None => {
                self.flush_buffer().await?;
                return Ok(true);
            }
            Mode::Length(n) => Some(n),
            Mode::Chunked => None,
        };
        loop {
            // A frame ready now joins the buffered bytes; otherwise they go out first.
            let frame = match body.frame().now_or_never() {
                Some(frame) => frame,
                None => {
                    self.flush_buffer().await?;
                    body.frame().await
                }
            };
            let data = match frame {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(target: "platform::gateway", error = %e, "response body failed; closing the connection");
                    self.flush_buffer().await?;
                    return Ok(false);
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => data,
                    // Trailers, or an empty data frame.
                    _ => continue,
                },
            };
            let data = match &mut left {
                Some(n) => {
                    let len = data.len() as u64;
                    if len > *n {
                        tracing::debug!(target: "platform::gateway", "response body longer than its Content-Length; cut and closing");
                        let fits = data.slice(..*n as usize);
                        self.push(fits).await?;
                        self.flush_buffer().await?;
                        return Ok(false);
                    }
                    *n -= len;
                    data
                }
                None => {
                    let mut size = [0u8; 18];
                    let digits = hex(data.len(), &mut size);
                    self.write.extend_from_slice(digits);
                    self.write.extend_from_slice(b"\r\n");
                    data
                }
            };
            self.push(data).await?;
            if left.is_none() {
                self.write.extend_from_slice(b"\r\n");
            }
        }
        let complete = match left {
            Some(0) => true,
            Some(_) => {
                tracing::debug!(target: "platform::gateway", "response body shorter than its Content-Length; closing");
                false
            }
            None => {
                self.write.extend_from_slice(b"0\r\n\r\n");
                true
            }
        };
        self.flush_buffer().await?;
        Ok(complete)
    }

    /// Adds `data` behind the buffered bytes, or writes both when it is large.
    async fn push(&mut self, data: Bytes) -> io::Result<()> {
        if self.write.len() + data.len() <= COALESCE {
            self.write.extend_from_slice(&data);
            return Ok(());
        }
        self.flush_buffer().await?;
        self.io.write_all(&data).await
    }

    async fn flush_buffer(&mut self) -> io::Result<()> {
        if !self.write.is_empty() {
            self.io.write_all(&self.write).await?;
            self.write.clear();
        }
        self.io.flush().await
    }
}

/// How a response body is framed on the wire.
#[derive(Debug, Clone, Copy)]
enum Mode {
    None,
    Length(u64),
    Chunked,
}

impl Parsed {
    /// The request, or the 400 answer for a head `http` will not take.
    fn into_request(
        self,
        extensions: &Extensions,
        lines: &[[u32; 4]],
    ) -> Result<Request<Empty<Bytes>>, Box<Response<Body>>> {
        let bad = |message: String| {
            tracing::debug!(target: "platform::gateway", %message, "bad request head");
            Box::new(json_error(StatusCode::BAD_REQUEST, "bad_request", message, None, None))
        };
        let [ts, te] = self.target;
        let uri = Uri::from_maybe_shared(self.head.slice(ts as usize..te as usize))
            .map_err(|e| bad(format!("invalid request target: {e}")))?;
        // Room for what the gateway adds to every request: `traceparent`, and `Host` when
        // it is rewritten. The forwarding headers usually go straight into the upstream
        // head instead (`ForwardHeaders`); where they do not, the map grows once. A
        // larger map is a larger allocation and more slots to fill for every request.
        let mut headers = HeaderMap::with_capacity(lines.len() + 2);
        for &[ns, ne, vs, ve] in lines {
            let name = HeaderName::from_bytes(&self.head[ns as usize..ne as usize])
                .map_err(|e| bad(format!("invalid header name: {e}")))?;
            let value = HeaderValue::from_maybe_shared(self.head.slice(vs as usize..ve as usize))
                .map_err(|e| bad(format!("invalid value of header {name}: {e}")))?;
            headers.append(name, value);
        }
        let mut req = Request::new(Empty::new());
        *req.method_mut() = self.method;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = headers;
        *req.extensions_mut() = extensions.clone();
        Ok(req)
    }
}

/// The extensions each request of a connection starts with: its [`ConnectionInfo`], in
/// a map with room for the values the gateway adds to every request (trace context,
/// client address, routing), so the map is not grown and rehashed on the way. A clone
/// of a map keeps its capacity.
fn first_extensions(info: &ConnectionInfo) -> Extensions {
    #[derive(Clone, Copy)]
    struct Room<const N: usize>;
    let mut extensions = Extensions::new();
    extensions.insert(info.clone());
    extensions.insert(Room::<1>);
    extensions.insert(Room::<2>);
    extensions.insert(Room::<3>);
    extensions.insert(Room::<4>);
    extensions.insert(Room::<5>);
    extensions.remove::<Room<1>>();
    extensions.remove::<Room<2>>();
    extensions.remove::<Room<3>>();
    extensions.remove::<Room<4>>();
    extensions.remove::<Room<5>>();
    extensions
}

/// `value`'s hex digits (lower case) in `out`.
fn hex(value: usize, out: &mut [u8; 18]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut i = out.len();
    let mut v = value;
    loop {
        i -= 1;
        out[i] = DIGITS[v & 0xf];
        v >>= 4;
        if v == 0 {
            return &out[i..];
        }
    }
}

/// A connection whose first reads return bytes already read from it.
pub(crate) struct Prefixed<I> {
    prefix: Bytes,
    io: I,
}

impl<I> Prefixed<I> {
    /// `io` with nothing read ahead.
    pub(crate) fn new(io: I) -> Self {
        Self { prefix: Bytes::new(), io }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The `Date` header, formatted once a second per thread.
mod date {
    use std::cell::RefCell;

    use super::SystemTime;

    struct Cached {
        second: u64,
        line: Vec<u8>,
    }

    thread_local! {
        static CACHED: RefCell<Cached> = const { RefCell::new(Cached { second: u64::MAX, line: Vec::new() }) };
    }

    /// Appends `date: <now, RFC 9110 IMF-fixdate>\r\n` to `w`.
    pub(super) fn write(w: &mut Vec<u8>) {
        let now = SystemTime::now();
        let second = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        CACHED.with_borrow_mut(|c| {
            if c.second != second {
                c.second = second;
                c.line.clear();
                c.line.extend_from_slice(b"date: ");
                c.line.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
                c.line.extend_from_slice(b"\r\n");
            }
            w.extend_from_slice(&c.line);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits() {
        let mut out = [0u8; 18];
        assert_eq!(hex(0, &mut out), b"0");
        assert_eq!(hex(10, &mut out), b"a");
        assert_eq!(hex(0x1f2e, &mut out), b"1f2e");
        assert_eq!(hex(usize::MAX, &mut out), b"ffffffffffffffff");
    }

    #[test]
    fn head_end_split_across_reads() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        for cut in 1..head.len() {
            // The search resumes where the previous read ended.
            let first = find_head_end(&head[..cut], 0);
            let end = first.or_else(|| find_head_end(head, cut));
            assert_eq!(end, Some(27), "cut at {cut}");
        }
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nHost: a\n\n", 0), Some(24));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0), None);
        // Long enough for the vectorized search's wide steps, with the blank line
        // anywhere relative to them.
        for pad in [0, 1, 15, 31, 63, 200] {
            let head = format!(
                "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {}\r\nX-Pad: {}\r\n\r\nbody\r\n\r\n",
                "t".repeat(300),
                "p".repeat(pad)
            );
            let want = head.find("\r\n\r\n").map(|i| i + 4);
            for cut in [1, 17, 64, 150, 320, head.len() - 1] {
                let first = find_head_end(&head.as_bytes()[..cut], 0);
                let end = first.or_else(|| find_head_end(head.as_bytes(), cut));
                assert_eq!(end, want, "pad {pad}, cut at {cut}");
            }
        }
    }

    #[test]
    fn content_length_values() {
        assert_eq!(content_length(b" 42 ", None).ok(), Some(42));
        assert_eq!(content_length(b"4 2", None).ok(), None);
        assert_eq!(content_length(b"-1", None).ok(), None);
        assert_eq!(content_length(b"", None).ok(), None);
        assert_eq!(content_length(b"99999999999999999999", None).ok(), None);
    }

    #[tokio::test]
    async fn prefixed_reads_prefix_first() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b" world").await.unwrap();
        drop(a);
        let mut p = Prefixed { prefix: Bytes::from_static(b"hello"), io: b };
        let mut all = String::new();
        p.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }
}
