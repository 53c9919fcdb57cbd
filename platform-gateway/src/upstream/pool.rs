//! The connections of one endpoint: HTTP/1.1 connections kept idle for reuse, and one
//! shared HTTP/2 connection, opened on demand through the upstream's connector.
//!
//! A request takes an idle connection (or opens one), is sent on it, and the connection
//! goes back to the pool as soon as it can carry the next request. A request whose body
//! has already ended and that asks for no upgrade goes over HTTP/1.1 [inline](super::h1),
//! in its own future; any other (a body to stream, an upgrade, HTTP/2) through hyper's
//! connection-level client. The pool's lock is held only to push or pop, never across
//! an await. What hyper-util's pooled client did for the gateway is kept:
//!
//! * keep-alive reuse, newest idle connection first, at most
//!   [`pool_max_idle_per_host`](super::UpstreamConfig::pool_max_idle_per_host) kept;
//!   connections unused for [`pool_idle_timeout`](super::UpstreamConfig::pool_idle_timeout)
//!   are closed (checked when taken, and swept by a task while any are idle);
//! * a request whose reused connection closed before it went out is sent again on
//!   another one (the race between reuse and the endpoint closing an idle connection);
//!   inline, an idempotent request whose reused connection closed before any of the
//!   response arrived is sent again on a new connection;
//! * HTTP/2 (`h2c`, `h2`, or `h2` chosen by ALPN) shares one connection per endpoint;
//!   upgrades always go over HTTP/1.1, on a connection that offered only `http/1.1`;
//! * HTTP/1.1 requests are sent in origin form (authority form for `CONNECT`) with a
//!   `Host` from the endpoint when they have none; HTTP/2 requests in absolute form;
//! * a connection is handed back only once its response body is done (a task waits
//!   for that when the body is still streaming; inline, the body hands it back), and
//!   never after `101`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body::Body as HttpBody;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use platform_core::BoxError;
use tokio::time::Instant;
use tower_service::Service;

use super::connect::{Conn, Connector};
use super::h1::{self, H1Body, H1Conn, Recycle};
use super::{Transport, UpstreamConfig, UpstreamProtocol};
use crate::body::Body;
use crate::proxy::Ingress;
use crate::worker::{self, MAX_WORKERS};

/// How an upstream opens connections to its endpoints (shared by its endpoints).
#[derive(Clone)]
pub(crate) struct Connectors {
    /// Offers the upstream's protocols (ALPN over TLS).
    main: Connector,
    /// Offers only HTTP/1.1, for upgrades when `main` may settle on HTTP/2 (`auto`
    /// over TLS).
    http1: Option<Connector>,
    scheme: Scheme,
    http2_only: bool,
    idle_timeout: Duration,
    max_idle: usize,
}

impl Connectors {
    /// The connectors of an upstream with `config`, reaching endpoints over `transport`.
    pub(crate) fn new(config: &UpstreamConfig, transport: &Transport) -> Self {
        let protocol = config.protocol;
        let http1 = (transport.is_tls() && protocol == UpstreamProtocol::Auto)
            .then(|| connector(config, transport, UpstreamProtocol::Http1.alpn()));
        Self {
            main: connector(config, transport, protocol.alpn()),
            http1,
            scheme: if transport.is_tls() { Scheme::HTTPS } else { Scheme::HTTP },
            http2_only: protocol.http2_only(),
            idle_timeout: config.pool_idle_timeout,
            max_idle: config.pool_max_idle_per_host,
        }
    }
}

fn connector(
    config: &UpstreamConfig,
    transport: &Transport,
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))] alpn: &[&[u8]],
) -> Connector {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(config.connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(true);
    match transport {
        Transport::Plain => Connector::plain(http),
        #[cfg(feature = "tls")]
        Transport::Tls(tls) => Connector::tls(http, tls.connect(alpn, config.connect_timeout)),
    }
}

/// Why a request could not be sent.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Opening the connection failed: TCP, TLS, or their timeout.
    Connect(BoxError),
    /// The HTTP exchange failed (handshake, a reset, a protocol error, the request body).
    Http(hyper::Error),
    /// The inline HTTP/1.1 exchange failed (a reset, a protocol error).
    Inline(h1::Error),
}

/// The body of a response from an endpoint: read by hyper's client (`Left`: a request
/// with a body, an upgrade, HTTP/2), or inline from an HTTP/1.1 connection (`Right`).
pub(crate) type UpstreamBody = http_body_util::Either<Incoming, H1Body>;

/// The connection pool of one endpoint.
///
/// Connections are registered with the I/O driver of the runtime that opened them, so
/// each worker of [`Server::serve_workers`](crate::Server::serve_workers) — a runtime of
/// its own — keeps its own connections: a shard of the pool that only it takes from and
/// gives back to. Tasks on no worker (any runtime of the application's) share `shared`.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    /// The workers' shards by slot, in chunks made when a worker first uses the pool.
    workers: [OnceLock<Chunk>; CHUNKS],
}

/// [`CHUNK`] workers' shards, each made when its worker first uses the pool.
type Chunk = Box<[OnceLock<Arc<Shared>>]>;

/// Worker shards per chunk.
const CHUNK: usize = 64;
const CHUNKS: usize = MAX_WORKERS.div_ceil(CHUNK);

struct Shared {
    connectors: Connectors,
    /// `scheme://host:port/`: what the connector dials, and the absolute form's prefix.
    target: Uri,
    /// The `Host` an HTTP/1.1 request without one gets: the endpoint, its port left out
    /// when it is the scheme's default.
    host: HeaderValue,
    idle: Mutex<Idle>,
    /// One HTTP/2 connection opened at a time (`h2c` / `h2`): requests arriving
    /// meanwhile wait for it and share it.
    h2_connecting: tokio::sync::Mutex<()>,
    /// The epoch of the worker this shard belongs to (0: no worker's). A new worker in
    /// the slot of one that ended drops what that one left: its connections were
    /// driven by a runtime that is gone, and its sweep task went with it.
    epoch: AtomicU64,
}

#[derive(Default)]
struct Idle {
    /// Idle HTTP/1.1 connections driven by hyper and since when, oldest first.
    http1: Vec<(http1::SendRequest<Body>, Instant)>,
    /// Idle HTTP/1.1 connections for inline requests and since when, oldest first.
    inline: Vec<(H1Conn, Instant)>,
    /// The shared HTTP/2 connection and when it was last used.
    http2: Option<(http2::SendRequest<Body>, Instant)>,
    /// A task sweeps expired connections while some are kept.
    sweeping: bool,
}

impl Idle {
    /// How many HTTP/1.1 connections are kept.
    fn http1_count(&self) -> usize {
        self.http1.len() + self.inline.len()
    }
}

enum Taken {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
    Inline(H1Conn),
}

/// Methods a request may be sent again with when its connection failed before
/// anything of the response arrived (RFC 9110 §9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

impl Pool {
    /// The pool of the endpoint at `authority`.
    pub(crate) fn new(connectors: Connectors, authority: Authority) -> Self {
        let default_port = if connectors.scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(p) if p != default_port => authority.as_str(),
            _ => authority.host(),
        };
        let host = HeaderValue::from_str(host)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid.invalid"));
        let target = Uri::builder()
            .scheme(connectors.scheme.clone())
            .authority(authority)
            .path_and_query("/")
            .build()
            .unwrap_or_default();
        Self {
            shared: Arc::new(Shared::new(connectors, target, host)),
            workers: [const { OnceLock::new() }; CHUNKS],
        }
    }

    /// The shard of the current worker, or the shared one on no worker's thread.
    fn shard(&self) -> &Arc<Shared> {
        let Some(worker) = worker::current() else { return &self.shared };
        let chunk = self.workers[worker.slot / CHUNK]
            .get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        let shard = chunk[worker.slot % CHUNK].get_or_init(|| Arc::new(self.shared.empty_like()));
        if shard.epoch.load(Ordering::Relaxed) != worker.epoch {
            // Anything here is a former worker's (normally cleared when it ended).
            *shard.lock() = Idle::default();
            shard.epoch.store(worker.epoch, Ordering::Relaxed);
            // When this worker ends, its connections close with it rather than wait
            // for the next worker in the slot.
            let left = Arc::downgrade(shard);
            worker::at_exit(move || {
                if let Some(shard) = left.upgrade()
                    && shard.epoch.load(Ordering::Relaxed) == worker.epoch
                {
                    // Taken under the lock, closed after it.
                    let idle = std::mem::take(&mut *shard.lock());
                    drop(idle);
                }
            });
        }
        shard
    }

    /// Sends `req` on a pooled or new connection; see the [module docs](self).
    ///
    /// The usual request — inline, with an idle connection at hand — is encoded at once
    /// and its future is just that exchange and the request (kept for the one retry);
    /// anything else (connecting, hyper's client, the retry) runs in a boxed future.
    pub(crate) fn send(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<Response<UpstreamBody>, SendError>> + Send + 'static {
        let shared = self.shard();
        let http2_only = shared.connectors.http2_only;
        let upgrade = !http2_only && req.headers().contains_key(header::UPGRADE);
        let inline = !upgrade
            && !http2_only
            && req.version() == Version::HTTP_11
            && req.method() != Method::CONNECT
            && req.body().is_end_stream();
        let idle = if inline { shared.take_inline_now() } else { None };
        let Some(mut conn) = idle else {
            return Sending {
                exchange: None,
                retry: None,
                slow: Some(Box::pin(send_slow(shared.clone(), req, upgrade, inline, false))),
            };
        };
        let forward = req.extensions().get::<Ingress>().and_then(|i| i.forward.as_deref());
        let sent = conn.encode_head(&req, &shared.host, forward);
        let home: Arc<dyn Recycle> = shared.clone();
        Sending {
            exchange: Some(h1::send(conn, sent, home)),
            retry: Some((req, shared.clone())),
            slow: None,
        }
    }
}

type SlowSend = std::pin::Pin<
    Box<dyn Future<Output = Result<Response<UpstreamBody>, SendError>> + Send + 'static>,
>;

pin_project_lite::pin_project! {
    /// The future of [`Pool::send`]: an inline exchange on a reused connection, then,
    /// if that connection turned out closed before any of the response came and the
    /// request may be sent again, the boxed slow path on a new connection.
    struct Sending<X> {
        #[pin]
        exchange: Option<X>,
        retry: Option<(Request<Body>, Arc<Shared>)>,
        slow: Option<SlowSend>,
    }
}

impl<X> Future for Sending<X>
where
    X: Future<Output = Result<Response<H1Body>, h1::Error>>,
{
    type Output = Result<Response<UpstreamBody>, SendError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut this = self.project();
        if let Some(exchange) = this.exchange.as_mut().as_pin_mut() {
            let result = std::task::ready!(exchange.poll(cx));
            this.exchange.set(None);
            match result {
                Ok(res) => return std::task::Poll::Ready(Ok(res.map(UpstreamBody::Right))),
                Err(e) => match this.retry.take() {
                    Some((req, shared)) if resend_on_new(&e, req.method()) => {
                        *this.slow = Some(Box::pin(send_slow(shared, req, false, true, true)));
                    }
                    _ => return std::task::Poll::Ready(Err(SendError::Inline(e))),
                },
            }
        }
        match this.slow {
            Some(slow) => slow.as_mut().poll(cx),
            None => panic!("Pool::send polled after completion"),
        }
    }
}

/// Whether an inline request whose reused connection failed with `e` goes once more on a
/// new connection: nothing of the response arrived (the endpoint most likely closed the
/// idle connection) and the method may be sent again. Logs the decision to resend.
fn resend_on_new(e: &h1::Error, method: &Method) -> bool {
    let resend = e.nothing_received() && idempotent(method);
    if resend {
        tracing::debug!(target: "platform::gateway", error = %e, "reused upstream connection failed; sending again on a new one");
    }
    resend
}

/// [`Pool::send`] when the request is not inline or no idle connection is at hand, and
/// its retry: takes or opens a connection (a new one when `fresh`) and sends.
async fn send_slow(
    shared: Arc<Shared>,
    mut req: Request<Body>,
    upgrade: bool,
    inline: bool,
    fresh: bool,
) -> Result<Response<UpstreamBody>, SendError> {
    let shared = &shared;
    // Every client below reads the request's headers: deferred forwarding headers go in.
    if let Some(forward) = req.extensions_mut().get_mut::<Ingress>().and_then(|i| i.forward.take())
    {
        forward.write(req.headers_mut());
    }
    // Set when a reused connection failed an inline request before anything of the
    // response arrived: the one retry goes on a new connection.
    let mut fresh = fresh;
    loop {
        let (taken, reused) = if fresh {
            Box::pin(shared.open(upgrade, inline)).await?
        } else {
            shared.take(upgrade, inline).await?
        };
        let mut failed: TrySendError<Request<Body>> = match taken {
            Taken::Inline(mut conn) => {
                let sent = conn.encode_head(&req, &shared.host, None);
                let home: Arc<dyn Recycle> = shared.clone();
                match h1::send(conn, sent, home).await {
                    Ok(res) => return Ok(res.map(UpstreamBody::Right)),
                    Err(e) if reused && resend_on_new(&e, req.method()) => {
                        fresh = true;
                        continue;
                    }
                    Err(e) => return Err(SendError::Inline(e)),
                }
            }
            Taken::Http1(mut tx) => {
                shared.http1_form(&mut req);
                // hyper's exchanges boxed, as connecting is: the inline one is the
                // usual request, and the future all of them share is as large as
                // the largest.
                match Box::pin(tx.try_send_request(req)).await {
                    Ok(res) => {
                        shared.release(tx);
                        return Ok(res.map(UpstreamBody::Left));
                    }
                    Err(e) => e,
                }
            }
            Taken::Http2(mut tx) => {
                shared.http2_form(&mut req);
                match Box::pin(tx.try_send_request(req)).await {
                    Ok(res) => return Ok(res.map(UpstreamBody::Left)),
                    Err(e) => e,
                }
            }
        };
        match failed.take_message() {
            // The reused connection closed before the request went out: another one.
            Some(unsent) if reused => req = unsent,
            _ => return Err(SendError::Http(failed.into_error())),
        }
    }
}

impl Pool {
    /// How many HTTP/1.1 connections are idle (inline and hyper-driven).
    #[cfg(test)]
    pub(crate) fn idle_http1(&self) -> usize {
        self.shared.lock().http1_count()
    }
}

impl Shared {
    /// An empty shard (no worker's yet) of the endpoint `target`.
    fn new(connectors: Connectors, target: Uri, host: HeaderValue) -> Self {
        Self {
            connectors,
            target,
            host,
            idle: Mutex::new(Idle::default()),
            h2_connecting: tokio::sync::Mutex::new(()),
            epoch: AtomicU64::new(0),
        }
    }

    /// A shard for the same endpoint, with nothing in it.
    fn empty_like(&self) -> Self {
        Self::new(self.connectors.clone(), self.target.clone(), self.host.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// For an inline request, the idle inline connection [`take`](Self::take) would
    /// give it, if there is one and no HTTP/2 connection is shared; never waits.
    fn take_inline_now(&self) -> Option<H1Conn> {
        let candidate = {
            let mut idle = self.lock();
            if idle.http2.is_some() {
                return None;
            }
            idle.inline.pop()
        };
        self.live_inline(candidate, Instant::now())
    }

    /// The first of `candidate` and the idle inline connections after it that is
    /// neither expired nor closed; the others are dropped. Checked outside the lock:
    /// the check reads the socket.
    fn live_inline(
        &self,
        mut candidate: Option<(H1Conn, Instant)>,
        now: Instant,
    ) -> Option<H1Conn> {
        let expiry = self.connectors.idle_timeout;
        while let Some((mut conn, since)) = candidate.take() {
            if now.saturating_duration_since(since) < expiry && conn.is_open() {
                return Some(conn);
            }
            drop(conn);
            candidate = self.lock().inline.pop();
        }
        None
    }

    /// A connection for the next request, and whether it was used before: the shared
    /// HTTP/2 one (no upgrade), or an idle HTTP/1.1 one, newest first — for `inline`
    /// requests an inline one first, otherwise one hyper drives first (an idle inline
    /// one is handed to hyper else) — or a new one.
    async fn take(
        self: &Arc<Self>,
        upgrade: bool,
        inline: bool,
    ) -> Result<(Taken, bool), SendError> {
        let now = Instant::now();
        let expiry = self.connectors.idle_timeout;
        let candidate = {
            let mut idle = self.lock();
            if !upgrade {
                match &mut idle.http2 {
                    Some((tx, used)) if !tx.is_closed() => {
                        *used = now;
                        return Ok((Taken::Http2(tx.clone()), true));
                    }
                    Some(_) => idle.http2 = None,
                    None => {}
                }
            }
            if !inline && let Some(tx) = pop_http1(&mut idle, now, expiry) {
                return Ok((Taken::Http1(tx), true));
            }
            idle.inline.pop()
        };
        if let Some(conn) = self.live_inline(candidate, now) {
            if inline {
                return Ok((Taken::Inline(conn), true));
            }
            let handshake = Box::pin(http1_handshake(conn.into_io()));
            return Ok((Taken::Http1(handshake.await?), true));
        }
        if inline && let Some(tx) = pop_http1(&mut self.lock(), now, expiry) {
            return Ok((Taken::Http1(tx), true));
        }
        // Boxed: connecting (TCP, TLS, handshakes) is a large state machine that would
        // otherwise be part of every request's future, moved with it, however rarely
        // it runs.
        Box::pin(self.open(upgrade, inline)).await
    }

    /// A new connection for the next request (or the shared HTTP/2 one).
    async fn open(
        self: &Arc<Self>,
        upgrade: bool,
        inline: bool,
    ) -> Result<(Taken, bool), SendError> {
        if self.connectors.http2_only {
            return self.open_shared_http2().await;
        }
        let connector = match (&self.connectors.http1, upgrade) {
            (Some(http1), true) => http1,
            _ => &self.connectors.main,
        };
        let io = self.dial(connector).await?;
        if io.is_h2() {
            let tx = http2_handshake(io).await?;
            self.keep_http2(&tx);
            return Ok((Taken::Http2(tx), false));
        }
        if inline {
            return Ok((Taken::Inline(H1Conn::new(io)), false));
        }
        Ok((Taken::Http1(http1_handshake(io).await?), false))
    }

    /// Opens the HTTP/2 connection of an `h2c` / `h2` endpoint, or waits for the one
    /// being opened.
    async fn open_shared_http2(self: &Arc<Self>) -> Result<(Taken, bool), SendError> {
        let _one_at_a_time = self.h2_connecting.lock().await;
        if let Some((tx, used)) = &mut self.lock().http2
            && !tx.is_closed()
        {
            *used = Instant::now();
            return Ok((Taken::Http2(tx.clone()), true));
        }
        let io = self.dial(&self.connectors.main).await?;
        let tx = http2_handshake(io).await?;
        self.keep_http2(&tx);
        Ok((Taken::Http2(tx), false))
    }

    async fn dial(&self, connector: &Connector) -> Result<Conn, SendError> {
        let mut connector = connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx)).await.map_err(SendError::Connect)?;
        connector.call(self.target.clone()).await.map_err(SendError::Connect)
    }

    fn keep_http2(self: &Arc<Self>, tx: &http2::SendRequest<Body>) {
        if self.connectors.max_idle == 0 {
            return;
        }
        let mut idle = self.lock();
        idle.http2 = Some((tx.clone(), Instant::now()));
        self.sweep_later(&mut idle);
    }

    /// Puts an HTTP/1.1 connection back once it can take the next request.
    fn release(self: &Arc<Self>, tx: http1::SendRequest<Body>) {
        if self.connectors.max_idle == 0 {
            return;
        }
        if tx.is_ready() {
            self.put(tx);
            return;
        }
        // Still busy (a response body streaming, or the connection upgraded after a
        // `101`): hand it back when it is done, or drop it when it closes.
        let pool = Arc::downgrade(self);
        let mut tx = tx;
        tokio::spawn(async move {
            if tx.ready().await.is_ok()
                && let Some(pool) = pool.upgrade()
            {
                pool.put(tx);
            }
        });
    }

    fn put(self: &Arc<Self>, tx: http1::SendRequest<Body>) {
        let mut idle = self.lock();
        if idle.http1_count() >= self.connectors.max_idle {
            return;
        }
        idle.http1.push((tx, Instant::now()));
        self.sweep_later(&mut idle);
    }

    /// Starts the task that closes expired idle connections, unless it runs already.
    fn sweep_later(self: &Arc<Self>, idle: &mut Idle) {
        if !idle.sweeping {
            idle.sweeping = true;
            tokio::spawn(sweep(Arc::downgrade(self), self.connectors.idle_timeout));
        }
    }

    /// Origin form (authority form for `CONNECT`) and a `Host`, as HTTP/1.1 sends them.
    fn http1_form(&self, req: &mut Request<Body>) {
        let uri = if req.method() == Method::CONNECT {
            let authority = req.uri().authority().cloned();
            authority.map(|a| Uri::from_parts(parts_with(None, Some(a))))
        } else if req.uri().scheme().is_some() {
            let pq = req
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            Some(Uri::from_parts(parts_with(Some(pq), None)))
        } else {
            None
        };
        if let Some(Ok(uri)) = uri {
            *req.uri_mut() = uri;
        }
        req.headers_mut().entry(header::HOST).or_insert_with(|| self.host.clone());
    }

    /// Absolute form, as HTTP/2 needs (`:scheme`, `:authority`).
    fn http2_form(&self, req: &mut Request<Body>) {
        if req.uri().authority().is_some() {
            return;
        }
        let pq =
            req.uri().path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut parts = parts_with(Some(pq), self.target.authority().cloned());
        parts.scheme = self.target.scheme().cloned();
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

fn parts_with(pq: Option<PathAndQuery>, authority: Option<Authority>) -> http::uri::Parts {
    let mut parts = http::uri::Parts::default();
    parts.path_and_query = pq;
    parts.authority = authority;
    parts
}

impl Recycle for Shared {
    /// Keeps an inline connection whose response is done, within the idle limit.
    fn recycle(self: Arc<Self>, conn: H1Conn) {
        if self.connectors.max_idle == 0 {
            return;
        }
        let mut idle = self.lock();
        if idle.http1_count() >= self.connectors.max_idle {
            drop(idle);
            return;
        }
        idle.inline.push((conn, Instant::now()));
        self.sweep_later(&mut idle);
    }
}

/// The newest idle hyper-driven HTTP/1.1 connection that is ready and not expired
/// (older ones may still be expired then: the sweep gets them).
fn pop_http1(idle: &mut Idle, now: Instant, expiry: Duration) -> Option<http1::SendRequest<Body>> {
    while let Some((tx, since)) = idle.http1.pop() {
        if tx.is_ready() && now.saturating_duration_since(since) < expiry {
            return Some(tx);
        }
    }
    None
}

/// Closes the idle connections of `pool` that have not been used for `expiry`, every
/// `expiry`, until none are left or the pool is gone.
async fn sweep(pool: Weak<Shared>, expiry: Duration) {
    loop {
        tokio::time::sleep(expiry).await;
        let Some(pool) = pool.upgrade() else { return };
        let now = Instant::now();
        let mut idle = pool.lock();
        idle.http1.retain(|(tx, since)| {
            !tx.is_closed() && now.saturating_duration_since(*since) < expiry
        });
        idle.inline.retain_mut(|(conn, since)| {
            now.saturating_duration_since(*since) < expiry && conn.is_open()
        });
        if idle.http2.as_ref().is_some_and(|(tx, used)| {
            tx.is_closed() || now.saturating_duration_since(*used) >= expiry
        }) {
            idle.http2 = None;
        }
        if idle.http1_count() == 0 && idle.http2.is_none() {
            idle.sweeping = false;
            return;
        }
    }
}

async fn http1_handshake(io: Conn) -> Result<http1::SendRequest<Body>, SendError> {
    let (mut tx, conn) = http1::Builder::new().handshake(io).await.map_err(SendError::Http)?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(target: "platform::gateway", error = %e, "upstream connection ended with an error");
        }
    });
    tx.ready().await.map_err(SendError::Http)?;
    Ok(tx)
}

async fn http2_handshake(io: Conn) -> Result<http2::SendRequest<Body>, SendError> {
    let (mut tx, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(io)
        .await
        .map_err(SendError::Http)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(target: "platform::gateway", error = %e, "upstream HTTP/2 connection ended with an error");
        }
    });
    tx.ready().await.map_err(SendError::Http)?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    use hyper_util::server::conn::auto;

    use super::*;
    use crate::upstream::UpstreamProtocol;

    /// An upstream answering with the request line and `Host` it got; counts the
    /// connections it accepted.
    async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let host = req.headers().get(header::HOST).cloned();
                    let host = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("-");
                    let line =
                        format!("{} {} {:?} host={host}", req.method(), req.uri(), req.version());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(line))))
                });
                tokio::spawn(
                    auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned(),
                );
            }
        });
        (addr, accepted)
    }

    fn pool(addr: SocketAddr, config: &UpstreamConfig) -> Pool {
        let authority: Authority = addr.to_string().parse().unwrap();
        Pool::new(Connectors::new(config, &Transport::Plain), authority)
    }

    /// Sends `GET path` the way the gateway does (absolute URI, no `Host`).
    async fn get(pool: &Pool, addr: SocketAddr, path: &str, version: http::Version) -> String {
        let req = Request::get(format!("http://{addr}{path}"))
            .version(version)
            .body(crate::body::empty())
            .unwrap();
        let res = pool.send(req).await.unwrap_or_else(|e| panic!("{e:?}"));
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn http1_connections_are_reused_and_requests_take_origin_form() {
        let (addr, accepted) = upstream().await;
        let pool = pool(addr, &UpstreamConfig::default());
        for _ in 0..3 {
            let line = get(&pool, addr, "/a/b?c=1", http::Version::HTTP_11).await;
            assert_eq!(line, format!("GET /a/b?c=1 HTTP/1.1 host={addr}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one keep-alive connection");
    }

    #[tokio::test]
    async fn concurrent_requests_open_connections_and_the_pool_keeps_at_most_the_limit() {
        let (addr, accepted) = upstream().await;
        let config = UpstreamConfig { pool_max_idle_per_host: 1, ..UpstreamConfig::default() };
        let pool = pool(addr, &config);
        let (a, b) = tokio::join!(
            get(&pool, addr, "/1", http::Version::HTTP_11),
            get(&pool, addr, "/2", http::Version::HTTP_11)
        );
        assert!(a.starts_with("GET /1 ") && b.starts_with("GET /2 "), "{a} / {b}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(pool.shared.lock().http1_count(), 1, "one kept, the other closed");
        get(&pool, addr, "/3", http::Version::HTTP_11).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the kept one is reused");
    }

    #[tokio::test]
    async fn no_idle_connections_are_kept_when_the_limit_is_zero() {
        let (addr, accepted) = upstream().await;
        let config = UpstreamConfig { pool_max_idle_per_host: 0, ..UpstreamConfig::default() };
        let pool = pool(addr, &config);
        get(&pool, addr, "/", http::Version::HTTP_11).await;
        get(&pool, addr, "/", http::Version::HTTP_11).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_expire() {
        let (addr, accepted) = upstream().await;
        let config = UpstreamConfig {
            pool_idle_timeout: Duration::from_secs(5),
            ..UpstreamConfig::default()
        };
        let pool = pool(addr, &config);
        get(&pool, addr, "/", http::Version::HTTP_11).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        get(&pool, addr, "/", http::Version::HTTP_11).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "reused within the idle timeout");
        tokio::time::advance(Duration::from_secs(6)).await;
        // The sweep ran: nothing idle is left, and its task ended.
        tokio::task::yield_now().await;
        {
            let idle = pool.shared.lock();
            assert!(idle.http1_count() == 0 && !idle.sweeping);
        }
        get(&pool, addr, "/", http::Version::HTTP_11).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "a new connection after expiry");
    }

    #[tokio::test]
    async fn a_connection_the_endpoint_closed_is_not_reused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Answers one request per connection, keep-alive as far as the client can
        // tell, then closes it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
            }
        });
        let pool = pool(addr, &UpstreamConfig::default());
        assert_eq!(get(&pool, addr, "/", http::Version::HTTP_11).await, "ok");
        // Wait until the client side has seen the close.
        while !pool.shared.lock().http1.iter().all(|(tx, _)| tx.is_closed()) {
            tokio::task::yield_now().await;
        }
        assert_eq!(get(&pool, addr, "/", http::Version::HTTP_11).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn h2c_shares_one_connection_and_keeps_the_absolute_form() {
        let (addr, accepted) = upstream().await;
        let config =
            UpstreamConfig { protocol: UpstreamProtocol::H2c, ..UpstreamConfig::default() };
        let pool = pool(addr, &config);
        let lines = futures_util::future::join_all((0..4).map(|i| {
            get(&pool, addr, if i % 2 == 0 { "/even" } else { "/odd" }, http::Version::HTTP_2)
        }))
        .await;
        for line in &lines {
            assert!(line.starts_with(&format!("GET http://{addr}/")), "{line}");
            assert!(line.contains("HTTP/2.0"), "{line}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one multiplexed connection");
    }
}
