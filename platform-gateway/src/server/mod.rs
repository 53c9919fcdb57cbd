//! Serving a [`Gateway`] on a TCP listener: HTTP/1.1 and h2c on one port.

mod h1;
mod inspect;
mod shutdown;
mod spread;
#[cfg(feature = "tls")]
mod tls;
mod workers;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::OptionFuture;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub(crate) use inspect::HeadLog;
use inspect::{InspectIo, Inspector};
pub use shutdown::{Drained, Shutdown, os_signal};
pub use spread::AcceptSpread;
use spread::Slot;
#[cfg(feature = "tls")]
pub use tls::{ServerTls, TlsConfig, TlsError};
pub use workers::{WorkerListeners, available_cores};

use crate::gateway::Gateway;
use crate::proxy::ForwardedCache;
use crate::timer::LazyTimer;

/// How many headers hyper's HTTP/1 parser takes when not told otherwise.
const HYPER_MAX_HEADERS: usize = 100;

/// Connection-level settings of the [`Server`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Longest time a client may take to send a complete HTTP/1 request head (default
    /// 10 s); a slower connection is closed, so slowloris clients cannot hold it.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Accept HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 (default `true`).
    pub http2: bool,
    /// Most concurrent HTTP/2 streams per connection (default 256).
    pub max_concurrent_streams: u32,
    /// Ping idle HTTP/2 connections this often and close them when a ping goes unanswered
    /// (default 20 s).
    #[serde(with = "humantime_serde")]
    pub http2_keep_alive_interval: Duration,
    /// On shutdown, how long requests in flight may take to finish before their
    /// connections are closed anyway (default 30 s).
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Serve plain HTTP/1.1 requests (no body, no upgrade) on the gateway's own inline
    /// path instead of hyper's server (default `true`). The first request on a
    /// connection that is anything else hands the connection to hyper for good; `false`
    /// sends every connection to hyper. See `docs/gateway.md`, "Performance notes".
    pub inline_http1: bool,
    /// How many workers [`Server::serve_workers`] runs — threads, each with a
    /// single-threaded runtime — when the application asks for this number
    /// ([`worker_count`](Self::worker_count)); the `gateway` binary does. Left out
    /// (`None`, the default): one per CPU core. [`Server::serve`] itself runs on the
    /// runtime it is called from and does not read this.
    pub workers: Option<NonZeroUsize>,
    /// Have each worker of [`Server::serve_workers`] give its CPU away (`sched_yield`)
    /// once it has run this long without sleeping, then count afresh (default 1 ms;
    /// zero: never). A worker that always has work ready otherwise keeps its CPU until
    /// the kernel's next scheduler tick, and other threads waiting for that CPU — an
    /// upstream on the same host, a sidecar, the load balancer's health checks — wait
    /// that long. Checked as each request begins and before the worker polls for I/O;
    /// an idle worker sleeps as before. See `docs/gateway.md`, "Performance notes".
    #[serde(with = "humantime_serde")]
    pub yield_after: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            http2: true,
            max_concurrent_streams: 256,
            http2_keep_alive_interval: Duration::from_secs(20),
            drain_timeout: Duration::from_secs(30),
            inline_http1: true,
            workers: None,
            yield_after: Duration::from_millis(1),
        }
    }
}

impl ServerConfig {
    /// [`workers`](Self::workers), or the number of CPU cores when it is left out.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use platform_gateway::ServerConfig;
    ///
    /// let config = ServerConfig { workers: NonZeroUsize::new(3), ..ServerConfig::default() };
    /// assert_eq!(config.worker_count(), 3);
    /// assert_eq!(ServerConfig::default().worker_count(), platform_gateway::available_cores());
    /// ```
    pub fn worker_count(&self) -> usize {
        self.workers.map_or_else(available_cores, NonZeroUsize::get)
    }
}

/// Who is on the other end of a connection (a request extension the [`Server`] sets;
/// set it yourself when serving the [`Gateway`] from your own server).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) scheme: &'static str,
    pub(crate) head_log: HeadLog,
    pub(crate) forwarded: ForwardedCache,
}

impl ConnectionInfo {
    /// A plain-HTTP connection from `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            scheme: "http",
            head_log: HeadLog::default(),
            forwarded: ForwardedCache::default(),
        }
    }

    /// The TCP peer.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// Serves a [`Gateway`]: one task per connection, HTTP/1.1 (with upgrades) and h2c
/// detected per connection — plain HTTP/1.1 requests (no body, no upgrade) on an
/// inline path of its own, everything else through hyper (see
/// [`ServerConfig::inline_http1`]) — hyper's timer installed so the header-read timeout runs,
/// the head limits of [`ProxyConfig`](crate::proxy::ProxyConfig) enforced while
/// reading (431), and each request's raw framing checked (see
/// [the proxy module](crate::proxy)).
#[derive(Debug, Clone)]
pub struct Server {
    gateway: Gateway,
    builder: Arc<auto::Builder<TokioExecutor>>,
    max_head: usize,
    max_headers: usize,
    drain_timeout: Duration,
    header_read_timeout: Duration,
    inline_http1: bool,
    yield_after: Duration,
    spread: Option<Slot>,
    #[cfg(feature = "tls")]
    tls: Option<ServerTls>,
}

impl Server {
    /// A server for `gateway` with `config`.
    pub fn new(gateway: Gateway, config: ServerConfig) -> Self {
        let proxy = gateway.proxy_config();
        // hyper bounds the head with a bare 431: its buffer holds the whole head (request
        // line, separators, line ends) and its header array a fixed count. The gateway's
        // own checks, answered with JSON, are the limits that apply, so hyper's leave
        // room around them and only stop what is far over. hyper's own count limit
        // (100) parses on the stack, while any configured one costs an allocation and a
        // fill per request, so it is raised only for a gateway limit above it.
        let raise_max_headers = proxy.max_headers > HYPER_MAX_HEADERS;
        let max_headers =
            if raise_max_headers { proxy.max_headers + 32 } else { HYPER_MAX_HEADERS };
        let max_head = proxy.max_header_bytes + 4 * max_headers + 8192;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        let mut http1 = builder.http1();
        http1
            // Armed for every request head, nearly never firing: the lazy timer keeps
            // that off tokio's timer wheel (see `crate::timer`).
            .timer(LazyTimer)
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(max_head)
            .keep_alive(true);
        if raise_max_headers {
            http1.max_headers(max_headers);
        }
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(max_head).unwrap_or(u32::MAX))
            .max_concurrent_streams(config.max_concurrent_streams)
            .keep_alive_interval(config.http2_keep_alive_interval)
            // RFC 8441: WebSockets over HTTP/2 arrive as extended CONNECT requests.
            .enable_connect_protocol();
        let builder = if config.http2 { builder } else { builder.http1_only() };
        Self {
            gateway,
            builder: Arc::new(builder),
            max_head,
            max_headers,
            drain_timeout: config.drain_timeout,
            header_read_timeout: config.header_read_timeout,
            inline_http1: config.inline_http1,
            yield_after: config.yield_after,
            spread: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves HTTPS: every connection does a TLS handshake first (within the
    /// header-read timeout), HTTP/2 is chosen by ALPN, and upstreams see
    /// `X-Forwarded-Proto: https`.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Makes this server worker `worker` of `spread`: it accepts only while no other
    /// worker of `spread` has fewer connections open, so connections on a listening
    /// socket several workers share are spread evenly (see [`AcceptSpread`]).
    ///
    /// # Panics
    ///
    /// If `worker` is not below `spread`'s number of workers.
    #[must_use]
    pub fn spread(mut self, spread: &AcceptSpread, worker: usize) -> Self {
        self.spread = Some(spread.slot(worker));
        self
    }

    /// Accepts connections from `listener` and serves them until the future is dropped.
    ///
    /// Accept errors (such as running out of file descriptors) are logged and retried
    /// after a short pause.
    pub async fn serve(self, listener: TcpListener) {
        self.serve_with_shutdown(listener, Shutdown::new()).await;
    }

    /// Like [`serve`](Self::serve), until `shutdown` is triggered; then it stops
    /// accepting (the listener is closed), asks every connection to finish gracefully —
    /// HTTP/1 connections close after the response in progress, HTTP/2 ones send
    /// `GOAWAY` and finish their open streams — and waits for them up to the
    /// [`drain_timeout`](ServerConfig::drain_timeout). Connections still open then are
    /// closed. Connections already upgraded (WebSockets) are tunnels of their own and
    /// are not waited for.
    ///
    /// To stop on SIGTERM or Ctrl-C: `shutdown.trigger_on(os_signal())`.
    pub async fn serve_with_shutdown(
        mut self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> Drained {
        let mut connections = JoinSet::new();
        // The accept loop's alone: the server each connection gets a copy of needs none.
        let spread = self.spread.take();
        // However this ends (shutdown, or the future dropped), the worker stops counting
        // as the least loaded, so the others never wait on it.
        let stopping = spread.as_ref().map(Slot::stopping);
        loop {
            // With an accept spread, accept only while no other worker has fewer
            // connections; otherwise wait until one accepts (the notification is enabled
            // before the counts are read, so no accept in between goes unheard).
            let changed = spread.as_ref().map(Slot::changed);
            tokio::pin!(changed);
            if let Some(changed) = changed.as_mut().as_pin_mut() {
                changed.enable();
            }
            let may_accept = spread.as_ref().is_none_or(Slot::may_accept);
            tokio::select! {
                biased;
                () = shutdown.wait() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {
                    if let Some(slot) = &spread {
                        slot.closed();
                    }
                }
                accepted = listener.accept(), if may_accept => match accepted {
                    Ok((stream, peer)) => {
                        if let Some(slot) = &spread {
                            slot.opened();
                        }
                        let _ = stream.set_nodelay(true);
                        connections.spawn(self.clone().connection(stream, peer, shutdown.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(target: "platform::gateway", error = %e, "accept failed; retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(()) = OptionFuture::from(changed.as_mut().as_pin_mut()), if !may_accept => {}
            }
        }
        drop(stopping);
        drop(listener);
        let started = Instant::now();
        let open_at_shutdown = connections.len();
        tracing::info!(target: "platform::gateway", connections = open_at_shutdown, timeout = ?self.drain_timeout, "shutting down: no longer accepting; draining connections");
        let deadline = tokio::time::sleep(self.drain_timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                next = connections.join_next() => if next.is_none() { break },
            }
        }
        let cut = connections.len();
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        let took = started.elapsed();
        if cut > 0 {
            tracing::warn!(target: "platform::gateway", cut, ?took, "drain deadline passed; closed the connections still open");
        } else {
            tracing::info!(target: "platform::gateway", ?took, "every connection drained");
        }
        Drained { open_at_shutdown, cut, took }
    }

    /// Serves one connection to its end (after the TLS handshake, when configured).
    async fn connection(self, stream: tokio::net::TcpStream, peer: SocketAddr, shutdown: Shutdown) {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.clone() {
            let handshake = tls.acceptor.accept(stream);
            match tokio::time::timeout(self.header_read_timeout, handshake).await {
                Ok(Ok(stream)) => self.serve_io(stream, peer, "https", shutdown).await,
                Ok(Err(e)) => {
                    tracing::debug!(target: "platform::gateway", %peer, error = %e, "TLS handshake failed");
                }
                Err(_) => {
                    tracing::debug!(target: "platform::gateway", %peer, "TLS handshake timed out");
                }
            }
            return;
        }
        self.serve_io(stream, peer, "http", shutdown).await;
    }

    async fn serve_io<I>(
        self,
        stream: I,
        peer: SocketAddr,
        scheme: &'static str,
        shutdown: Shutdown,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let log = HeadLog::default();
        let info = ConnectionInfo {
            peer,
            scheme,
            head_log: log.clone(),
            forwarded: ForwardedCache::default(),
        };
        let mut watch = shutdown.connection();
        let stream = if self.inline_http1 {
            let settings = h1::Settings {
                header_read_timeout: self.header_read_timeout,
                max_head: self.max_head,
            };
            match h1::serve(stream, &self.gateway, &info, settings, &mut watch).await {
                h1::Ended::Closed => return,
                h1::Ended::Handoff(stream) => stream,
            }
        } else {
            h1::Prefixed::new(stream)
        };
        let io = TokioIo::new(InspectIo::new(
            stream,
            Inspector::new(self.max_head, self.max_headers, log),
        ));
        let gateway = self.gateway.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            crate::worker::request_begun();
            req.extensions_mut().insert(info.clone());
            gateway.serve(req)
        });
        let conn = self.builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(conn);
        let mut draining = false;
        let result = std::future::poll_fn(|cx| {
            if !draining && watch.poll_triggered(cx) {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            conn.as_mut().poll(cx)
        })
        .await;
        if let Err(e) = result {
            tracing::debug!(target: "platform::gateway", %peer, error = %e, "connection ended with an error");
        }
    }
}
