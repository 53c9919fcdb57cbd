//! [`HttpJwksFetcher`]: fetches a JWKS over HTTP with hyper.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use platform_core::error::BoxError;

use super::remote::{FetchFuture, JwksFetcher};

/// Largest JWKS document accepted.
const MAX_BODY: usize = 256 * 1024;

/// Why an [`HttpJwksFetcher`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetcherError {
    /// The URL does not parse.
    #[error("invalid JWKS URL: {0}")]
    InvalidUrl(#[from] http::uri::InvalidUri),
    /// The URL is not `http://`, or it is `http://` to a non-loopback host without
    /// [`HttpJwksFetcher::allow_insecure_http`].
    #[error(
        "JWKS URL `{0}`: only http:// to a loopback host is fetched by default (keys fetched \
         over plain HTTP across a network can be replaced by anyone on the path); use a \
         TLS-capable `JwksFetcher` for https, or `allow_insecure_http` on a trusted network"
    )]
    Insecure(String),
}

/// Fetches a JWKS document from one fixed `http://` URL (no TLS; for `https` implement
/// [`JwksFetcher`] with a TLS-capable client). Requests time out after 5 seconds.
#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    uri: Uri,
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl HttpJwksFetcher {
    /// A fetcher of `url`, which must be `http://` to a loopback host (`127.0.0.1`,
    /// `[::1]`, `localhost`).
    pub fn new(url: &str) -> Result<Self, FetcherError> {
        let uri: Uri = url.parse()?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
        if uri.scheme_str() != Some("http") || !loopback {
            return Err(FetcherError::Insecure(url.to_owned()));
        }
        Ok(Self::build(uri))
    }

    /// A fetcher of any `http://` URL. Only on a network where nobody can tamper with
    /// traffic (a service mesh with mTLS, a private link).
    pub fn allow_insecure_http(url: &str) -> Result<Self, FetcherError> {
        let uri: Uri = url.parse()?;
        if uri.scheme_str() != Some("http") {
            return Err(FetcherError::Insecure(url.to_owned()));
        }
        Ok(Self::build(uri))
    }

    fn build(uri: Uri) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { uri, client, timeout: Duration::from_secs(5) }
    }

    /// Sets the request timeout (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn get(&self) -> Result<JwkSet, BoxError> {
        let req = Request::get(self.uri.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())?;
        let res = tokio::time::timeout(self.timeout, self.client.request(req)).await??;
        if res.status() != StatusCode::OK {
            return Err(format!("JWKS endpoint answered {}", res.status()).into());
        }
        let body = Limited::new(res.into_body(), MAX_BODY).collect().await?.to_bytes();
        Ok(serde_json::from_slice(&body)?)
    }
}

impl JwksFetcher for HttpJwksFetcher {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.get())
    }
}
