//! TLS to `https` upstreams: rustls with the ring provider, trust roots, client
//! certificates and ALPN, from an [`UpstreamTlsConfig`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use platform_core::BoxError;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::UpstreamTlsConfig;
use super::connect::{Conn, TlsHandshakeError};
use crate::error::GatewayError;

/// The TLS settings of one upstream, loaded once: trust roots, client certificate and
/// the server name; [`connect`](Self::connect) adds the ALPN protocols.
#[derive(Clone)]
pub(crate) struct UpstreamTls {
    config: ClientConfig,
    server_name: Option<ServerName<'static>>,
}

impl UpstreamTls {
    /// Reads the files `config` names and builds the rustls configuration.
    ///
    /// # Errors
    /// [`GatewayError::Upstream`] naming the upstream, the field and the file.
    pub(crate) fn load(upstream: &str, config: &UpstreamTlsConfig) -> Result<Self, GatewayError> {
        let fail = |field, reason: String| GatewayError::upstream(upstream, field, reason);
        let mut roots = RootCertStore::empty();
        if config.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(path) = &config.ca_file {
            let certs = read_certs(path).map_err(|r| fail("tls.ca_file", r))?;
            for (i, cert) in certs.into_iter().enumerate() {
                roots.add(cert).map_err(|e| {
                    let n = i + 1;
                    fail(
                        "tls.ca_file",
                        format!("{}: certificate {n} is not a usable CA: {e}", path.display()),
                    )
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("tls", e.to_string()))?
            .with_root_certificates(roots);
        let config_out = match (&config.client_cert, &config.client_key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert).map_err(|r| fail("tls.client_cert", r))?;
                let key = read_key(key).map_err(|r| fail("tls.client_key", r))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    fail(
                        "tls.client_cert",
                        format!("and `tls.client_key` are not usable together: {e}"),
                    )
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        let server_name = match &config.server_name {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|e| {
                fail("tls.server_name", format!("{name:?} is not a DNS name or IP address: {e}"))
            })?),
            None => None,
        };
        Ok(Self { config: config_out, server_name })
    }

    /// A connector offering `alpn`, bounding TCP connect and handshake by `timeout`.
    pub(crate) fn connect(&self, alpn: &[&[u8]], timeout: Duration) -> TlsConnect {
        let mut config = self.config.clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnect {
            connector: TlsConnector::from(Arc::new(config)),
            server_name: self.server_name.clone(),
            timeout,
        }
    }
}

/// Does the TLS handshake on new connections.
#[derive(Clone)]
pub(crate) struct TlsConnect {
    connector: TlsConnector,
    server_name: Option<ServerName<'static>>,
    timeout: Duration,
}

impl TlsConnect {
    /// Waits for the TCP connection, then does the handshake with the endpoint of `uri`
    /// (SNI: the configured server name, else the endpoint's host).
    pub(crate) async fn handshake(
        self,
        tcp: <HttpConnector as tower_service::Service<Uri>>::Future,
        uri: Uri,
    ) -> Result<Conn, BoxError> {
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => {
                let host = uri.host().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                ServerName::try_from(host.to_owned())?
            }
        };
        let connect = async {
            let tcp = tcp.await?.into_inner();
            let stream = self.connector.connect(name, tcp).await.map_err(TlsHandshakeError)?;
            Ok::<_, BoxError>(Conn::Tls(Box::new(TokioIo::new(stream))))
        };
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(conn) => conn,
            Err(_) => Err(Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "TCP connect and TLS handshake took longer than the connect timeout",
            ))),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The certificates of a PEM file; an error when it holds none.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: invalid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no CERTIFICATE block found", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!("{}: no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}", path.display())
    })
}
