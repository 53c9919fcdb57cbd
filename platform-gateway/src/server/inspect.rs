//! Reads HTTP/1 request framing from the raw bytes, beside hyper.
//!
//! hyper resolves a request carrying both `Content-Length` and `Transfer-Encoding` on
//! its own (chunked wins, the length is dropped, the connection closes afterwards) and
//! hides the conflict from the service. The gateway refuses such requests outright, so
//! this reader follows the byte stream — heads, then bodies by their framing — and
//! records, for each request head in order, whether it carried both. The gateway takes
//! one record per HTTP/1 request it serves.

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the raw head of one request showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HeadFacts {
    /// Both `Content-Length` and `Transfer-Encoding` were present.
    pub(crate) conflicting_framing: bool,
}

/// The records of one connection, in request order.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeadLog {
    queue: Arc<Mutex<VecDeque<HeadFacts>>>,
}

impl HeadLog {
    fn push(&self, facts: HeadFacts) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(facts);
    }

    /// The record of the next request head.
    pub(crate) fn next(&self) -> Option<HeadFacts> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }
}

#[derive(Debug)]
enum State {
    /// Collecting a request head.
    Head,
    /// Skipping this many body bytes.
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize {
        line: Vec<u8>,
    },
    /// Skipping chunk data, then its line end.
    ChunkData(u64),
    ChunkEnd,
    /// Reading trailer lines; `len` is the current line's length so far.
    Trailers {
        len: usize,
    },
    /// Stopped following (upgrade, HTTP/2, or something hyper will refuse anyway).
    Off,
}

/// The framing follower of one connection.
#[derive(Debug)]
pub(crate) struct Inspector {
    state: State,
    head: Vec<u8>,
    max_head: usize,
    max_headers: usize,
    log: HeadLog,
}

impl Inspector {
    pub(crate) fn new(max_head: usize, max_headers: usize, log: HeadLog) -> Self {
        Self { state: State::Head, head: Vec::new(), max_head, max_headers, log }
    }

    /// Follows `data`, the next bytes read from the client.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Off => return,
                State::Head => data = self.feed_head(data),
                State::Length(n) => {
                    let take = usize::try_from(*n).unwrap_or(usize::MAX).min(data.len());
                    *n -= take as u64;
                    data = &data[take..];
                    if *n == 0 {
                        self.state = State::Head;
                    }
                }
                State::ChunkSize { line } => {
                    let Some(pos) = memchr::memchr(b'\n', data) else {
                        line.extend_from_slice(data);
                        if line.len() > 4096 {
                            self.state = State::Off;
                        }
                        return;
                    };
                    line.extend_from_slice(&data[..pos]);
                    data = &data[pos + 1..];
                    self.state = match chunk_size(line) {
                        Some(0) => State::Trailers { len: 0 },
                        Some(n) => State::ChunkData(n),
                        None => State::Off,
                    };
                }
                State::ChunkData(n) => {
                    let take = usize::try_from(*n).unwrap_or(usize::MAX).min(data.len());
                    *n -= take as u64;
                    data = &data[take..];
                    if *n == 0 {
                        self.state = State::ChunkEnd;
                    }
                }
                State::ChunkEnd => match memchr::memchr(b'\n', data) {
                    Some(pos) => {
                        data = &data[pos + 1..];
                        self.state = State::ChunkSize { line: Vec::new() };
                    }
                    None => return,
                },
                State::Trailers { len } => {
                    let b = data[0];
                    data = &data[1..];
                    match b {
                        b'\n' if *len == 0 => self.state = State::Head,
                        b'\n' => *len = 0,
                        b'\r' => {}
                        _ => *len += 1,
                    }
                }
            }
        }
    }

    /// Collects head bytes; returns what follows a complete head.
    fn feed_head<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        if !self.head.is_empty() {
            return self.feed_head_buffered(data);
        }
        // Empty lines before a request line are allowed and ignored.
        let skip = data.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        let data = &data[skip..];
        // The usual case: the whole head arrived in one read, so it is parsed where it
        // lies, without copying it.
        match find_head_end(data, 0) {
            Some(end) => {
                self.state = self.parse_head(&data[..end]);
                &data[end..]
            }
            None => self.feed_head_buffered(data),
        }
    }

    /// Appends to the partial head kept from earlier reads.
    fn feed_head_buffered<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let before = self.head.len();
        self.head.extend_from_slice(data);
        let Some(end) = find_head_end(&self.head, before) else {
            if self.head.len() > self.max_head {
                // hyper answers 431 and closes.
                self.state = State::Off;
            }
            return &[];
        };
        let head = std::mem::take(&mut self.head);
        self.state = self.parse_head(&head[..end]);
        // Keep the allocation for the next partial head.
        self.head = head;
        self.head.clear();
        &data[end - before..]
    }

    /// Records the facts of a complete head and says how its body is framed.
    fn parse_head(&self, head: &[u8]) -> State {
        // The usual head is read by a plain scan; anything unusual in it (folded lines,
        // control bytes, a line without a colon) goes to httparse, which reads it as
        // hyper will.
        if let Some(framing) = scan(head) {
            return self.framing_of(&framing);
        }
        // Room for the usual number of headers on the stack; a head with more is parsed
        // again with room for as many as hyper accepts.
        const FEW: usize = 32;
        let mut few = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; FEW];
        let mut req = httparse::Request::new(&mut []);
        match req.parse_with_uninit_headers(head, &mut few) {
            Err(httparse::Error::TooManyHeaders) if self.max_headers > FEW => {
                let mut many = Vec::with_capacity(self.max_headers);
                many.resize_with(self.max_headers, MaybeUninit::uninit);
                let mut req = httparse::Request::new(&mut []);
                let parsed = req.parse_with_uninit_headers(head, &mut many);
                self.parsed(parsed, &req)
            }
            parsed => self.parsed(parsed, &req),
        }
    }

    fn parsed(&self, parsed: httparse::Result<usize>, req: &httparse::Request<'_, '_>) -> State {
        if !matches!(parsed, Ok(httparse::Status::Complete(_))) {
            // hyper refuses the same head and closes the connection.
            return State::Off;
        }
        let mut framing =
            Framing { method: req.method.unwrap_or_default().as_bytes(), ..Framing::default() };
        for h in req.headers.iter() {
            framing.header(h.name.as_bytes(), h.value);
        }
        self.framing_of(&framing)
    }

    fn framing_of(&self, framing: &Framing<'_>) -> State {
        if framing.method == b"PRI" {
            return State::Off;
        }
        let Framing { te, cl, .. } = *framing;
        let upgrade = framing.upgrade || framing.method == b"CONNECT";
        self.log.push(HeadFacts { conflicting_framing: te.is_some() && cl.is_some() });
        if upgrade {
            return State::Off;
        }
        match (te, cl) {
            (Some(te), _) => {
                let chunked_last = std::str::from_utf8(te)
                    .ok()
                    .and_then(|v| v.rsplit(',').next())
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
                if chunked_last { State::ChunkSize { line: Vec::new() } } else { State::Off }
            }
            (None, Some(cl)) => {
                match std::str::from_utf8(cl).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
                    Some(0) => State::Head,
                    Some(n) => State::Length(n),
                    None => State::Off,
                }
            }
            (None, None) => State::Head,
        }
    }
}

/// What decides how a request's body is framed.
#[derive(Debug, Clone, Copy, Default)]
struct Framing<'a> {
    method: &'a [u8],
    /// The last `Transfer-Encoding` value.
    te: Option<&'a [u8]>,
    /// The last `Content-Length` value.
    cl: Option<&'a [u8]>,
    upgrade: bool,
}

impl<'a> Framing<'a> {
    fn header(&mut self, name: &[u8], value: &'a [u8]) {
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.te = Some(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            self.cl = Some(value);
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.upgrade = true;
        }
    }
}

/// Reads the framing of a plain head (`head` ends with its blank line): a request
/// line with two spaces, then `name: value` lines, names without whitespace, no
/// control bytes but tab. `None` for anything else.
fn scan(head: &[u8]) -> Option<Framing<'_>> {
    let mut lines = head.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next()?;
    let mut parts = request_line.splitn(3, |b| *b == b' ');
    let method = parts.next().filter(|m| !m.is_empty())?;
    parts.next()?;
    parts.next()?;
    let mut framing = Framing { method, ..Framing::default() };
    for line in lines {
        if line.is_empty() {
            return Some(framing);
        }
        if line.iter().any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f) {
            return None;
        }
        let colon = line.iter().position(|b| *b == b':')?;
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|b| matches!(b, b' ' | b'\t')) {
            return None;
        }
        framing.header(name, line[colon + 1..].trim_ascii());
    }
    None
}

/// The end of a head (just past the first `\r\n\r\n` or `\n\n`), if `buf` holds one;
/// only line ends at or after `from` are looked at (earlier bytes were searched before).
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    // memchr's vectorized search: a byte-at-a-time loop cost about five instructions a
    // byte, and heads with cookies or bearer tokens run to hundreds of bytes.
    memchr::memchr_iter(b'\n', buf.get(from..)?)
        .map(|i| from + i)
        .find(|&lf| {
            (lf >= 1 && buf[lf - 1] == b'\n')
                || (lf >= 3 && buf[lf - 1] == b'\r' && buf[lf - 2] == b'\n' && buf[lf - 3] == b'\r')
        })
        .map(|lf| lf + 1)
}

/// The size of a chunk-size line (`1a;ext=x\r`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let hex = text.split(';').next()?.trim();
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// A client connection whose reads pass through an [`Inspector`].
#[derive(Debug)]
pub(crate) struct InspectIo<T> {
    inner: T,
    inspector: Inspector,
}

impl<T> InspectIo<T> {
    pub(crate) fn new(inner: T, inspector: Inspector) -> Self {
        Self { inner, inspector }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for InspectIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            this.inspector.feed(&buf.filled()[before..]);
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for InspectIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(chunks: &[&[u8]]) -> Vec<bool> {
        let log = HeadLog::default();
        let mut i = Inspector::new(64 * 1024, 100, log.clone());
        for c in chunks {
            i.feed(c);
        }
        std::iter::from_fn(|| log.next()).map(|f| f.conflicting_framing).collect()
    }

    #[test]
    fn pipelined_requests_with_bodies_are_followed() {
        let raw: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n\
POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(facts(&[raw]), [false, false, true]);
        // Byte by byte gives the same records.
        let bytes: Vec<&[u8]> = raw.chunks(1).collect();
        assert_eq!(facts(&bytes), [false, false, true]);
    }

    #[test]
    fn body_bytes_that_look_like_heads_are_not_heads() {
        let body = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n";
        let raw = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        assert_eq!(facts(&[raw.as_bytes()]), [false]);
    }

    /// The plain scan and httparse read the same framing from every head the scan
    /// takes; heads it declines go to httparse.
    #[test]
    fn the_scan_agrees_with_httparse() {
        let names = ["Host", "content-length", "Transfer-Encoding", "Upgrade", "X-A", "TE"];
        let values = ["5", " 12 ", "chunked", "gzip, chunked", "websocket", "", "a:b"];
        let methods = ["GET", "POST", "CONNECT", "PRI"];
        let inspector = Inspector::new(64 * 1024, 100, HeadLog::default());
        for _ in 0..5_000 {
            let mut head = format!("{} /p HTTP/1.1\r\n", methods[fastrand::usize(..methods.len())]);
            for _ in 0..fastrand::usize(0..5) {
                let name = names[fastrand::usize(..names.len())];
                let value = values[fastrand::usize(..values.len())];
                head.push_str(&format!("{name}:{value}\r\n"));
            }
            if fastrand::u8(..8) == 0 {
                head.push_str(" folded\r\n");
            }
            head.push_str("\r\n");
            let head = head.as_bytes();
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            let parsed = req.parse(head);
            match scan(head) {
                Some(fast) => {
                    assert!(matches!(parsed, Ok(httparse::Status::Complete(_))), "{head:?}");
                    let mut slow =
                        Framing { method: req.method.unwrap().as_bytes(), ..Framing::default() };
                    for h in req.headers.iter() {
                        slow.header(h.name.as_bytes(), h.value);
                    }
                    assert_eq!(fast.method, slow.method);
                    assert_eq!(fast.upgrade, slow.upgrade);
                    assert_eq!(fast.te.map(<[u8]>::trim_ascii), slow.te.map(<[u8]>::trim_ascii));
                    assert_eq!(fast.cl.map(<[u8]>::trim_ascii), slow.cl.map(<[u8]>::trim_ascii));
                    let (a, b) = (inspector.framing_of(&fast), inspector.framing_of(&slow));
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{head:?}");
                }
                None => assert!(String::from_utf8_lossy(head).contains(" folded"), "{head:?}"),
            }
        }
    }

    #[test]
    fn upgrades_and_http2_stop_following() {
        assert_eq!(facts(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]), Vec::<bool>::new());
        let up: &[u8] = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\
GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(facts(&[up]), [false]);
    }
}
