//! TLS for the [`Server`](super::Server)'s listener, with rustls (ring provider).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `[tls]`: the listener's certificate chain and private key, as PEM files.
///
/// ```toml
/// [tls]
/// cert = "/etc/gateway/tls/fullchain.pem"
/// key = "/etc/gateway/tls/key.pem"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {}: {source}; check `tls.cert` / `tls.key`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("{}: {what}", path.display())]
    Pem {
        /// The file (empty when the PEM was given in memory).
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// rustls refused the certificate and key (a key that does not match, say).
    #[error("the certificate and key are not usable together: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The TLS side of a [`Server`](super::Server): certificate, key and protocol settings
/// (TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`). Cheap to clone.
///
/// ```
/// use platform_gateway::ServerTls;
///
/// let err = ServerTls::from_pem(b"not a certificate", b"").unwrap_err();
/// assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
/// ```
#[derive(Clone)]
pub struct ServerTls {
    pub(crate) acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads the PEM files of `config`.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file and what is wrong with it.
    pub fn load(config: &TlsConfig) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read { path: path.into(), source })
        };
        Self::build(&read(&config.cert)?, &config.cert, &read(&config.key)?, &config.key)
    }

    /// From PEM text in memory.
    ///
    /// # Errors
    /// A [`TlsError`] saying what is wrong.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::build(cert_pem, Path::new(""), key_pem, Path::new(""))
    }

    /// From a rustls configuration you built (client certificates, other protocols).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        Self { acceptor: TlsAcceptor::from(config) }
    }

    fn build(
        cert_pem: &[u8],
        cert_path: &Path,
        key_pem: &[u8],
        key_path: &Path,
    ) -> Result<Self, TlsError> {
        let pem = |path: &Path, what: String| TlsError::Pem { path: path.into(), what };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem(cert_path, format!("invalid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(pem(cert_path, "no CERTIFICATE block found".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            pem(key_path, format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self::from_rustls(Arc::new(config)))
    }
}
