//! Declarative configuration of the verifier and the remote JWKS cache.

use std::time::Duration;

use platform_auth::jwt::{RemoteJwksConfig, VerifierConfig};

#[test]
fn verifier_config_defaults_are_strict_and_validated() {
    let cfg: VerifierConfig =
        serde_json::from_str(r#"{"issuers": ["https://a"], "audience": "orders"}"#).expect("parse");
    assert_eq!(cfg, VerifierConfig::new("https://a", "orders"));
    assert_eq!(cfg.leeway, Duration::from_secs(30));
    assert!(cfg.validate().is_ok());

    let relaxed: VerifierConfig =
        serde_json::from_str(r#"{"issuers": ["https://a"], "audience": "o", "typ": null}"#)
            .expect("parse");
    assert_eq!(relaxed.typ, None, "an explicit null disables the typ check");

    let err = VerifierConfig::new("https://a", "o")
        .leeway(Duration::from_secs(3600))
        .validate()
        .expect_err("leeway");
    assert_eq!(err.field, "leeway");
    assert_eq!(VerifierConfig::new("", "o").validate().expect_err("issuer").field, "issuers");
    assert_eq!(VerifierConfig::new("https://a", "").validate().expect_err("aud").field, "audience");
    assert!(
        serde_json::from_str::<VerifierConfig>(
            r#"{"issuers": [], "audience": "o", "leway": "1s"}"#
        )
        .is_err()
    );
    assert!(
        serde_json::from_str::<VerifierConfig>(r#"{"audience": "o"}"#).is_err(),
        "issuers are required"
    );
}

#[test]
fn remote_jwks_config_parses_human_durations() {
    let cfg: RemoteJwksConfig =
        serde_json::from_str(r#"{"max_age": "10m", "min_refetch_interval": "1m"}"#).expect("parse");
    assert_eq!(cfg.max_age, Duration::from_secs(600));
    assert_eq!(cfg.max_stale, RemoteJwksConfig::default().max_stale);
    assert!(cfg.validate().is_ok());
    let bad = RemoteJwksConfig::default()
        .max_age(Duration::from_secs(100))
        .max_stale(Duration::from_secs(10));
    assert_eq!(bad.validate().expect_err("stale").field, "max_stale");
    let rs384: RemoteJwksConfig =
        serde_json::from_str(r#"{"rsa_default_alg": "RS384"}"#).expect("parse");
    assert_eq!(rs384.validate().expect_err("alg").field, "rsa_default_alg");
}
