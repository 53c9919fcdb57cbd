//! Running one probe.

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{ProbeCheck, ProbeFailure, StatusRange};
use crate::registry::ServiceInstance;

/// A [`ProbeCheck`] ready to run (the HTTP client is built once per prober).
pub(crate) enum Checker {
    Tcp,
    // Boxed: with hyper's `http2` feature on (the gateway enables it) the client is
    // several hundred bytes, and the enum would be that large for `Tcp` too.
    Http { client: Box<Client<HttpConnector, Empty<Bytes>>>, path: String, expected: StatusRange },
}

impl Checker {
    pub(crate) fn new(check: &ProbeCheck) -> Self {
        match check {
            ProbeCheck::Tcp => Self::Tcp,
            ProbeCheck::Http { path, expected_status } => {
                // No idle connections: every probe opens a fresh one, so a probe also
                // proves the instance still accepts connections.
                let client = Box::new(
                    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http(),
                );
                Self::Http { client, path: path.clone(), expected: *expected_status }
            }
        }
    }

    /// Probes `instance` once, giving up after `timeout`.
    pub(crate) async fn probe(
        &self,
        instance: &ServiceInstance,
        timeout: Duration,
    ) -> Result<(), ProbeFailure> {
        match tokio::time::timeout(timeout, self.run(instance)).await {
            Ok(result) => result,
            Err(_) => Err(ProbeFailure::Timeout),
        }
    }

    async fn run(&self, instance: &ServiceInstance) -> Result<(), ProbeFailure> {
        match self {
            Self::Tcp => tokio::net::TcpStream::connect((instance.host.as_str(), instance.port))
                .await
                .map(drop)
                .map_err(|e| ProbeFailure::Connect(e.to_string())),
            Self::Http { client, path, expected } => {
                if instance.scheme != "http" {
                    return Err(ProbeFailure::Unsupported(format!(
                        "scheme {:?} (HTTP probes speak plain http; use a TCP probe)",
                        instance.scheme
                    )));
                }
                let uri = format!("http://{}{path}", instance.authority());
                let uri: http::Uri =
                    uri.parse().map_err(|e| ProbeFailure::Unsupported(format!("{uri}: {e}")))?;
                match client.get(uri).await {
                    Ok(res) if expected.contains(res.status().as_u16()) => Ok(()),
                    Ok(res) => Err(ProbeFailure::Status(res.status().as_u16())),
                    Err(e) if e.is_connect() => Err(ProbeFailure::Connect(chain(&e))),
                    Err(e) => Err(ProbeFailure::Http(chain(&e))),
                }
            }
        }
    }
}

/// An error with its sources, `outer: inner: innermost`.
fn chain(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
