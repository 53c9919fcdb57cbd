//! HTTPS on the listener: a self-signed certificate made in the test, the `[tls]`
//! config section, ALPN, `X-Forwarded-Proto: https`, and clear errors for bad files.

mod common;

use std::sync::Arc;

use common::raw::raw_on;
use common::{echo_upstream, echoed};
use platform_gateway::config::GatewayConfig;
use platform_gateway::{Server, ServerConfig, ServerTls};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, RootCertStore};

fn client(cert_der: rustls::pki_types::CertificateDer<'static>, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn https_from_the_tls_section_of_the_config() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();

    let up = echo_upstream("secure").await;
    let text = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n\n[upstreams.u]\nendpoints = [\"{up}\"]\n\n[[routes]]\nid = \"all\"\nupstream = \"u\"\n",
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let config = GatewayConfig::from_toml(&text, None).unwrap();
    let tls = ServerTls::load(config.tls.as_ref().unwrap()).unwrap();
    let gateway = config.build(&Default::default()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Server::new(gateway, ServerConfig::default()).tls(tls).serve(listener));

    let connector = client(cert.cert.der().clone(), &[b"http/1.1"]);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name.clone(), tcp).await.unwrap();
    let text =
        raw_on(&mut stream, b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(common::raw::raw_body(&text)).unwrap();
    assert_eq!(echoed(&doc, "x-forwarded-proto"), ["https"]);

    // ALPN offers HTTP/2.
    let h2 = client(cert.cert.der().clone(), &[b"h2", b"http/1.1"]);
    let tls = h2.connect(name, TcpStream::connect(addr).await.unwrap()).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    // Plain HTTP on the TLS port gets nowhere.
    let plain = common::raw::raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(!plain.contains("200"), "{plain}");
}

#[test]
fn bad_tls_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = platform_gateway::TlsConfig {
        cert: dir.path().join("nope.pem"),
        key: dir.path().join("key.pem"),
    };
    let err = ServerTls::load(&missing).unwrap_err().to_string();
    assert!(err.contains("nope.pem") && err.contains("tls.cert"), "{err}");

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let err = ServerTls::from_pem(cert.cert.pem().as_bytes(), b"junk").unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    let err = ServerTls::from_pem(
        cert.cert.pem().as_bytes(),
        other.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not usable together"), "{err}");
}
