//! Restarting on the same data directory: the administrator, the clients and the
//! signing key are kept, no new credentials are made, and tokens issued before the
//! restart still verify.

mod common;

use http::StatusCode;
use platform_examples::platform::PlatformConfig;

/// The configuration as the binary reads it: from `PLATFORM__…` variables and
/// `PLATFORM_ADMIN_PASSWORD`.
fn from_env(dir: &std::path::Path) -> PlatformConfig {
    let data = dir.join("data").display().to_string();
    PlatformConfig::load(
        None,
        [
            ("PLATFORM__DATA_DIR", data.as_str()),
            ("PLATFORM__GATEWAY__LISTEN", "127.0.0.1:0"),
            ("PLATFORM__ADMIN__LISTEN", "127.0.0.1:0"),
            ("PLATFORM__AUTH__ISSUER", "http://platform.test"),
            ("PLATFORM__AUTH__PASSWORDS__MEMORY_KIB", "64"),
            ("PLATFORM__AUTH__PASSWORDS__ITERATIONS", "1"),
            ("PLATFORM__DRAIN_TIMEOUT", "5s"),
            ("PLATFORM_ADMIN_PASSWORD", common::ADMIN_PASSWORD),
        ],
    )
    .expect("configuration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_admin_and_the_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let config = from_env(dir.path());
    assert_eq!(
        config.auth.admin_password.as_ref().map(|p| p.expose()),
        Some(common::ADMIN_PASSWORD)
    );

    let first = common::start(&config).await;
    let bootstrap = first.bootstrap().expect("first start").clone();
    let token = common::admin_token(&first).await;
    let jwks_before =
        common::get(&format!("{}/.well-known/jwks.json", first.gateway_url()), None).await.body;
    first.shutdown().await;

    let key_file = dir.path().join("data/jwt-signing-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).expect("the key file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the signing key");
    }

    let second = common::start(&config).await;
    assert!(second.bootstrap().is_none(), "no new administrator, no new password");
    let admin = common::admin_url(&second);
    let users = common::get(&format!("{admin}/admin/users"), Some(&token)).await;
    assert_eq!(users.status, StatusCode::OK, "a token from before the restart: {:?}", users.body);
    assert_eq!(users.body.as_array().map(Vec::len), Some(1), "still one user: {:?}", users.body);

    let jwks_after =
        common::get(&format!("{}/.well-known/jwks.json", second.gateway_url()), None).await.body;
    assert_eq!(jwks_before, jwks_after, "the same signing key");
    let login =
        common::login(&second.gateway_url(), &bootstrap, "admin", common::ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "the client and the admin are kept: {:?}", login.body);
    second.shutdown().await;
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_key() {
    let err = PlatformConfig::load(None, [("PLATFORM__GATEWAY__LISTEN", "not an address")])
        .expect_err("refused")
        .to_string();
    assert!(err.contains("PLATFORM__GATEWAY__LISTEN"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("platform.toml");
    std::fs::write(&file, "[gateway]\nlisten = \"127.0.0.1:8080\"\nroutes = []\n").unwrap();
    let err = PlatformConfig::load(Some(&file), std::iter::empty::<(String, String)>())
        .expect_err("refused")
        .to_string();
    assert!(err.contains("platform.toml") && err.contains("routes"), "{err}");

    let err = PlatformConfig::load(None, [("PLATFORM__DATABASE__URL", "mysql://db/x")])
        .expect_err("refused")
        .to_string();
    assert!(err.contains("database") && err.contains("postgres://"), "{err}");
}

#[test]
fn the_shipped_configuration_and_routes_file_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = PlatformConfig::load(
        Some(&dir.join("config/platform.toml")),
        std::iter::empty::<(String, String)>(),
    )
    .expect("the shipped example configuration is valid");
    assert_eq!(config.gateway.listen.port(), 8080);
    // Its routes file is relative to the repository root, where the README runs it.
    let routes = config.gateway.routes_file.take().expect("a routes file");
    config.gateway.routes_file = Some(dir.parent().unwrap().join(routes));
    let any = "127.0.0.1:1".parse().unwrap();
    let services = platform_examples::platform::ServiceAddrs::new(any, any, any);
    let gateway =
        platform_examples::platform::gateway_config(&config.gateway, services).expect("routes");
    assert!(gateway.routes.iter().any(|r| r.id == "orders"));
}
