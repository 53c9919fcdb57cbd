//! `https://` upstreams: TLS to endpoints signed by a CA made in the test, trust from a
//! CA file, SNI and server names, ALPN, mutual TLS, upgrades over TLS, and the errors
//! for untrusted endpoints and bad files.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::pki::{Ca, acceptor, tls_echo_upstream};
use common::raw::{echo_through, open_tunnel};
use common::{get, serve};
use http::StatusCode;
use platform_gateway::config::GatewayConfig;

const ALPN_BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];

/// A gateway routing everything to upstream `secure`, described by `upstream` (the
/// body of its TOML table).
async fn gateway(upstream: &str) -> SocketAddr {
    let text = format!(
        "[upstreams.secure]\n{upstream}\n\n[[routes]]\nid = \"all\"\nupstream = \"secure\"\n"
    );
    let config = GatewayConfig::from_toml(&text, None).unwrap();
    serve(config.build(&Default::default()).await.unwrap()).await
}

fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

#[tokio::test]
async fn a_private_ca_file_is_trusted_and_alpn_picks_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let ca_file = toml_path(&ca.write(dir.path(), "ca.pem"));
    let up = tls_echo_upstream(
        "tls",
        acceptor(&ca.server(&["localhost", "127.0.0.1"]), ALPN_BOTH, None),
    )
    .await;

    // `auto` (the default) offers h2 and http/1.1; this endpoint picks h2. SNI and the
    // name checked are the endpoint's host.
    let gw = gateway(&format!(
        "endpoints = [\"https://localhost:{}\"]\ntls = {{ ca_file = {ca_file} }}",
        up.port()
    ))
    .await;
    let (status, doc) = get(gw, "/hello").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["version"], "HTTP/2.0");
    // An HTTP/2 server sees the absolute form: scheme and authority are the endpoint's.
    assert_eq!(doc["uri"], format!("https://localhost:{}/hello", up.port()));

    // `http1` offers only http/1.1; an IP endpoint is checked against the IP SAN.
    let gw = gateway(&format!(
        "endpoints = [\"https://{up}\"]\nprotocol = \"http1\"\ntls = {{ ca_file = {ca_file} }}"
    ))
    .await;
    let (status, doc) = get(gw, "/again").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["version"], "HTTP/1.1");

    // A `tls` table makes plain `host:port` endpoints TLS too (as registry ones are).
    let gw = gateway(&format!(
        "endpoints = [\"{up}\"]\nprotocol = \"h2\"\ntls = {{ ca_file = {ca_file} }}"
    ))
    .await;
    let (status, doc) = get(gw, "/h2").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["version"], "HTTP/2.0");
}

#[tokio::test]
async fn server_name_sets_sni_and_the_name_checked() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let ca_file = toml_path(&ca.write(dir.path(), "ca.pem"));
    let up =
        tls_echo_upstream("tls", acceptor(&ca.server(&["api.internal"]), ALPN_BOTH, None)).await;

    let gw = gateway(&format!(
        "endpoints = [\"https://{up}\"]\ntls = {{ ca_file = {ca_file}, server_name = \"api.internal\" }}"
    ))
    .await;
    let (status, doc) = get(gw, "/").await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // Without it the certificate is checked against 127.0.0.1, which it does not name.
    let gw =
        gateway(&format!("endpoints = [\"https://{up}\"]\ntls = {{ ca_file = {ca_file} }}")).await;
    let (status, doc) = get(gw, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(doc["error"], "upstream_tls_failed", "{doc}");
    assert!(doc["message"].as_str().unwrap().contains("not valid for name"), "{doc}");
}

#[tokio::test]
async fn an_endpoint_signed_by_another_ca_gets_502_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, other) = (Ca::new("real ca"), Ca::new("other ca"));
    let other_file = toml_path(&other.write(dir.path(), "other.pem"));
    let up = tls_echo_upstream("tls", acceptor(&ca.server(&["localhost"]), ALPN_BOTH, None)).await;

    for tls in [format!("{{ ca_file = {other_file} }}"), "{}".to_owned()] {
        let gw = gateway(&format!(
            "endpoints = [\"https://localhost:{}\"]\ntls = {tls}\neject_outliers = false",
            up.port()
        ))
        .await;
        let (status, doc) = get(gw, "/").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{tls}");
        assert_eq!(doc["error"], "upstream_tls_failed", "{doc}");
        let message = doc["message"].as_str().unwrap();
        assert!(message.contains("UnknownIssuer"), "{message}");
        assert!(message.contains("upstream `secure`"), "{message}");
        assert!(doc["trace_id"].is_string(), "{doc}");
    }
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, clients) = (Ca::new("server ca"), Ca::new("client ca"));
    let ca_file = toml_path(&ca.write(dir.path(), "ca.pem"));
    let (cert, key) = clients.client("gateway").write(dir.path(), "gateway");
    let up =
        tls_echo_upstream("mtls", acceptor(&ca.server(&["localhost"]), ALPN_BOTH, Some(&clients)))
            .await;
    let endpoint = format!("endpoints = [\"https://localhost:{}\"]", up.port());

    let gw = gateway(&format!(
        "{endpoint}\ntls = {{ ca_file = {ca_file}, client_cert = {}, client_key = {} }}",
        toml_path(&cert),
        toml_path(&key)
    ))
    .await;
    let (status, doc) = get(gw, "/").await;
    assert_eq!(status, StatusCode::OK, "{doc}");

    // Without a client certificate the endpoint refuses the handshake: 502. (Under
    // TLS 1.3 the refusal may come after the handshake, as a failed exchange.)
    let gw = gateway(&format!("{endpoint}\ntls = {{ ca_file = {ca_file} }}")).await;
    let (status, doc) = get(gw, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{doc}");
}

#[tokio::test]
async fn upgrades_go_over_http1_when_alpn_could_pick_h2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let ca_file = toml_path(&ca.write(dir.path(), "ca.pem"));
    let up = tls_echo_upstream("tls", acceptor(&ca.server(&["localhost"]), ALPN_BOTH, None)).await;
    let gw = gateway(&format!(
        "endpoints = [\"https://localhost:{}\"]\ntls = {{ ca_file = {ca_file} }}",
        up.port()
    ))
    .await;
    // An ordinary request first, so a pooled h2 connection exists.
    assert_eq!(get(gw, "/").await.1["version"], "HTTP/2.0");
    let (mut stream, head) = open_tunnel(gw).await;
    assert!(head.contains("upgrade: echo"), "{head}");
    echo_through(&mut stream, b"through TLS").await;
}

async fn build_error(upstream: &str) -> String {
    let text = format!("[upstreams.secure]\n{upstream}\n");
    match GatewayConfig::from_toml(&text, None) {
        Err(e) => e.to_string(),
        Ok(config) => config.build(&Default::default()).await.unwrap_err().to_string(),
    }
}

#[tokio::test]
async fn bad_tls_settings_name_the_upstream_field_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let endpoint = "endpoints = [\"https://localhost:1\"]";

    let err =
        build_error(&format!("{endpoint}\ntls = {{ ca_file = {} }}", toml_path(&missing))).await;
    assert!(err.contains("upstream `secure`"), "{err}");
    assert!(err.contains("tls.ca_file") && err.contains("missing-ca.pem"), "{err}");
    assert!(err.contains("cannot read"), "{err}");

    let err = build_error(&format!("{endpoint}\ntls = {{ ca_file = {} }}", toml_path(&junk))).await;
    assert!(err.contains("tls.ca_file") && err.contains("junk.pem"), "{err}");
    assert!(err.contains("no CERTIFICATE"), "{err}");

    let err =
        build_error(&format!("{endpoint}\ntls = {{ client_cert = {} }}", toml_path(&junk))).await;
    assert!(err.contains("tls.client_key"), "{err}");

    let err = build_error(&format!("{endpoint}\ntls = {{ webpki_roots = false }}")).await;
    assert!(err.contains("tls.webpki_roots") && err.contains("ca_file"), "{err}");

    let err = build_error("endpoints = [\"https://localhost:1\", \"http://localhost:2\"]").await;
    assert!(err.contains("mix"), "{err}");

    let err = build_error(&format!("{endpoint}\nprotocol = \"h2c\"")).await;
    assert!(err.contains("use `h2`"), "{err}");
}
