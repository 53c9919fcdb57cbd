//! [`HttpLogStore`]: a [`LogStore`] that is a central instance's log router over HTTP.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::ndjson::to_ndjson;
use super::params::encode_component;
use super::query::{LogPage, LogQuery};
use super::record::LogRecord;
use super::ship::OWN_TARGET;
use super::store::{LogStore, LogStoreError, RetentionPolicy, RetentionReport};
use super::wire::LogErrorBody;

/// A base URL [`HttpLogStore::new`] cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log store URL {url:?}: {reason}")]
pub struct HttpLogStoreError {
    /// The URL given.
    pub url: String,
    /// What is wrong.
    pub reason: String,
}

/// Ships batches to, and searches, a central instance serving
/// [`logs_router`](super::logs_router), over plain HTTP/1 with a pooled hyper client (no
/// TLS: terminate it in front of the central instance or use a private network).
///
/// * [`append`](LogStore::append) posts the batch as NDJSON to `/logs/ingest`. A body the
///   server finds too large (`413`) is split in halves and sent again. If the server
///   refuses some lines as invalid (`400` with `bad_lines`; it stored nothing), the other
///   lines are sent again, so they are not lost, and the refused ones are reported in a
///   warning on target `platform::observe::logs`.
/// * [`search`](LogStore::search) calls `/logs/search`.
/// * Retention runs on the central instance: [`enforce_retention`](LogStore::enforce_retention)
///   returns [`LogStoreError::Unsupported`].
///
/// Give it to a [`LogShipper`](super::LogShipper) so a service's logs go to the central
/// instance:
///
/// ```no_run
/// // no_run: needs a central instance listening on logs.internal:9000.
/// use std::sync::Arc;
/// use platform_observe::logs::{HttpLogStore, LogShipConfig, LogShipper};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shipper = LogShipper::new(LogShipConfig::new("billing"))?;
/// // install shipper.layer() in the subscriber, then:
/// shipper.start(Arc::new(HttpLogStore::new("http://logs.internal:9000")?))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpLogStore {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl fmt::Debug for HttpLogStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpLogStore")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpLogStore {
    /// A client of the router mounted at `base_url` (`http://host:port`, optionally with a
    /// path prefix). Requests time out after 10 s (see [`with_timeout`](Self::with_timeout)).
    pub fn new(base_url: &str) -> Result<Self, HttpLogStoreError> {
        let bad =
            |reason: &str| HttpLogStoreError { url: base_url.to_owned(), reason: reason.into() };
        let uri: http::Uri = base_url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(bad("must be an http:// URL with a host (https is not supported)"));
        }
        if uri.query().is_some() {
            return Err(bad("must not have a query"));
        }
        let timeout = Duration::from_secs(10);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client, base: base_url.trim_end_matches('/').to_owned(), timeout })
    }

    /// Bounds each request (connect, send, answer) by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn unavailable(&self, reason: impl fmt::Display) -> LogStoreError {
        LogStoreError::Unavailable { endpoint: self.base.clone(), reason: reason.to_string() }
    }

    /// One exchange: the status and the body.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), LogStoreError> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.base))
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.unavailable(e))?;
        let exchange = async {
            let res = self.client.request(req).await.map_err(|e| self.unavailable(e))?;
            let status = res.status();
            let bytes = res.into_body().collect().await.map_err(|e| self.unavailable(e))?;
            Ok((status, bytes.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| self.unavailable(format!("no answer within {:?}", self.timeout)))?
    }

    fn refused(&self, status: StatusCode, body: &[u8]) -> LogStoreError {
        if status.is_server_error() {
            return self.unavailable(format!("{status}: {}", String::from_utf8_lossy(body)));
        }
        let message = serde_json::from_slice::<LogErrorBody>(body)
            .map_or_else(|_| String::from_utf8_lossy(body).into_owned(), |b| b.body.message);
        LogStoreError::Rejected { endpoint: self.base.clone(), status: status.as_u16(), message }
    }

    /// Posts `batch`; splits it on `413`, resends the valid lines on `400`.
    async fn post(&self, batch: &[LogRecord]) -> Result<(), LogStoreError> {
        let (status, body) = self.call(Method::POST, "/logs/ingest", to_ndjson(batch)).await?;
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE && batch.len() > 1 {
            let (a, b) = batch.split_at(batch.len() / 2);
            Box::pin(self.post(a)).await?;
            return Box::pin(self.post(b)).await;
        }
        if status == StatusCode::BAD_REQUEST
            && let Ok(err) = serde_json::from_slice::<LogErrorBody>(&body)
            && !err.bad_lines.is_empty()
        {
            let bad: Vec<usize> = err.bad_lines.iter().map(|b| b.line).collect();
            let good: Vec<LogRecord> = batch
                .iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(&(i + 1)))
                .map(|(_, r)| r.clone())
                .collect();
            tracing::warn!(
                target: OWN_TARGET,
                refused = batch.len() - good.len(),
                first = %err.body.message,
                "the central log store refused invalid records; sending the others again"
            );
            if good.len() < batch.len() && !good.is_empty() {
                return Box::pin(self.post(&good)).await;
            }
            if good.is_empty() {
                return Ok(());
            }
        }
        Err(self.refused(status, &body))
    }
}

#[async_trait]
impl LogStore for HttpLogStore {
    async fn append(&self, batch: &[LogRecord]) -> Result<(), LogStoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.post(batch).await
    }

    async fn search(&self, query: &LogQuery) -> Result<LogPage, LogStoreError> {
        let mut path = String::from("/logs/search");
        for (i, (k, v)) in query.to_params().iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(k);
            path.push('=');
            encode_component(v, &mut path);
        }
        let (status, body) = self.call(Method::GET, &path, Vec::new()).await?;
        if !status.is_success() {
            return Err(self.refused(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| self.unavailable(format!("unreadable search answer: {e}")))
    }

    async fn enforce_retention(
        &self,
        _policy: &RetentionPolicy,
        _now: SystemTime,
    ) -> Result<RetentionReport, LogStoreError> {
        Err(LogStoreError::Unsupported(format!(
            "retention cannot run through the HTTP log store {}: run a RetentionTask on the \
             central instance",
            self.base
        )))
    }
}
