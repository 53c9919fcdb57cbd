//! The HTTP plumbing shared by the control plane's clients: a pooled hyper client bound
//! to the service's base URL, JSON calls with the service's error bodies, and a reader
//! of server-sent events.

mod sse;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use sse::EventReader;

use super::wire::ApiErrorBody;
use crate::BoxError;

/// Why a call to the service failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The service answered with an error status (and, normally, a JSON error body).
    Api { status: StatusCode, body: ApiErrorBody },
    /// The service could not be reached, timed out or answered with something unreadable.
    Transport(BoxError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api { status, body } => {
                write!(f, "{status}: {} ({})", body.body.message, body.body.error)
            }
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => Some(&**e),
            Self::Api { .. } => None,
        }
    }
}

impl CallError {
    /// The service's error code (`lease_not_found`), for API errors.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Self::Api { body, .. } => Some(&body.body.error),
            Self::Transport(_) => None,
        }
    }
}

/// A client of one control-plane service.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpClient {
    /// A client of the service at `base_url` (`http://host:port`, optionally with a path
    /// prefix where the router is mounted). Every unary call is bounded by `timeout`.
    pub(crate) fn new(base_url: &str, timeout: Duration) -> Result<Self, InvalidClientSetting> {
        let bad = |reason: String| InvalidClientSetting { field: "url", reason };
        let uri: http::Uri =
            base_url.parse().map_err(|e| bad(format!("{base_url:?} is not a URL: {e}")))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(bad(format!(
                "{base_url:?} must be an http:// URL with a host (https is not supported; \
                 terminate TLS in front of the service or reach it over a private network)"
            )));
        }
        if uri.query().is_some() {
            return Err(bad(format!("{base_url:?} must not have a query")));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client, base: base_url.trim_end_matches('/').to_owned(), timeout })
    }

    /// The base URL, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, CallError> {
        let mut builder = Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(body.map(Bytes::from).unwrap_or_default()))
            .map_err(|e| CallError::Transport(e.into()))
    }

    /// One call: sends `body` as JSON and returns the answer's bytes for a 2xx status.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Option<&(dyn erased::Json + Sync)>,
    ) -> Result<Bytes, CallError> {
        let body =
            body.map(|b| b.to_json()).transpose().map_err(|e| CallError::Transport(e.into()))?;
        let req = self.request(method, path, headers, body)?;
        let exchange = async {
            let res = self.client.request(req).await.map_err(|e| CallError::Transport(e.into()))?;
            let status = res.status();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Transport(e.into()))?
                .to_bytes();
            Ok::<_, CallError>((status, bytes))
        };
        let (status, bytes) =
            tokio::time::timeout(self.timeout, exchange).await.map_err(|_| {
                CallError::Transport(format!("no answer within {:?}", self.timeout).into())
            })??;
        if status.is_success() { Ok(bytes) } else { Err(api_error(status, &bytes)) }
    }

    /// A call whose 2xx answer is JSON.
    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, String)],
        body: Option<&(dyn erased::Json + Sync)>,
    ) -> Result<T, CallError> {
        let bytes = self.call(method, path, headers, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CallError::Transport(format!("unreadable answer from {}{path}: {e}", self.base).into())
        })
    }

    /// Opens a server-sent-event stream; waiting for its headers is bounded by the
    /// timeout, then each read by `idle`.
    pub(crate) async fn events(
        &self,
        path: &str,
        idle: Duration,
    ) -> Result<EventReader, CallError> {
        let req = self.request(
            Method::GET,
            path,
            &[(header::ACCEPT, "text/event-stream".to_owned())],
            None,
        )?;
        let res = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| {
                CallError::Transport(format!("no answer within {:?}", self.timeout).into())
            })?
            .map_err(|e| CallError::Transport(e.into()))?;
        let status = res.status();
        if !status.is_success() {
            let body = tokio::time::timeout(self.timeout, res.into_body().collect()).await;
            let bytes = match body {
                Ok(Ok(collected)) => collected.to_bytes(),
                _ => Bytes::new(),
            };
            return Err(api_error(status, &bytes));
        }
        Ok(EventReader::new(res.into_body(), idle))
    }
}

fn api_error(status: StatusCode, bytes: &[u8]) -> CallError {
    let body = serde_json::from_slice(bytes).unwrap_or_else(|_| {
        ApiErrorBody::new("http_error", String::from_utf8_lossy(bytes).into_owned())
    });
    CallError::Api { status, body }
}

/// Object-safe JSON serialisation, so call bodies need no generic parameter.
pub(crate) mod erased {
    /// A value that can be written as JSON.
    pub(crate) trait Json {
        fn to_json(&self) -> serde_json::Result<Vec<u8>>;
    }

    impl<T: super::Serialize> Json for T {
        fn to_json(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}

/// A client setting that cannot work: a base URL that is not `http://host[:port][/prefix]`,
/// or an invalid namespace or environment name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}` for the control-plane client: {reason}")]
pub struct InvalidClientSetting {
    /// `url`, `namespace` or `environment`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}
