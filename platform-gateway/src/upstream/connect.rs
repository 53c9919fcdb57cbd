//! How the upstream client opens connections: TCP, then TLS for `https` upstreams.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use platform_core::BoxError;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::BoxFuture;

/// The TLS handshake with an endpoint failed: an untrusted or mismatched certificate,
/// no common protocol version, a refused client certificate.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TlsHandshakeError(#[source] pub(crate) std::io::Error);

/// Opens connections to endpoints: plain TCP, or TCP and a TLS handshake (within the
/// connect timeout) when the upstream is `https`.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    #[cfg(feature = "tls")]
    tls: Option<super::tls::TlsConnect>,
}

impl Connector {
    /// Plain TCP.
    pub(crate) fn plain(http: HttpConnector) -> Self {
        Self {
            http,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// TCP, then TLS.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(mut http: HttpConnector, tls: super::tls::TlsConnect) -> Self {
        http.enforce_http(false);
        Self { http, tls: Some(tls) }
    }
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = BoxFuture<Result<Conn, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.clone() {
            let tcp = self.http.call(uri.clone());
            return Box::pin(tls.handshake(tcp, uri));
        }
        let tcp = self.http.call(uri);
        Box::pin(async move { Ok(Conn::Plain(tcp.await?)) })
    }
}

/// A connection to an endpoint.
pub(crate) enum Conn {
    /// Plain TCP.
    Plain(TokioIo<TcpStream>),
    /// TLS over TCP (boxed: the TLS state is a kilobyte, plain connections stay small).
    #[cfg(feature = "tls")]
    Tls(Box<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl Conn {
    /// Whether TLS settled on HTTP/2 (ALPN `h2`).
    pub(crate) fn is_h2(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            #[cfg(feature = "tls")]
            Self::Tls(io) => io.inner().get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }
}

/// Runs `$body` with `$io` bound to the pinned inner stream, whichever it is.
macro_rules! each {
    ($conn:expr, $io:ident => $body:expr) => {
        match $conn.get_mut() {
            Conn::Plain(io) => {
                let $io = Pin::new(io);
                $body
            }
            #[cfg(feature = "tls")]
            Conn::Tls(io) => {
                let $io = Pin::new(&mut **io);
                $body
            }
        }
    };
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        each!(self, io => io.poll_read(cx, buf))
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        each!(self, io => io.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each!(self, io => io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each!(self, io => io.poll_shutdown(cx))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(io) => io.is_write_vectored(),
            #[cfg(feature = "tls")]
            Self::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        each!(self, io => io.poll_write_vectored(cx, bufs))
    }
}
