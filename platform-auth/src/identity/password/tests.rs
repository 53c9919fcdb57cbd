use argon2::{Algorithm, Argon2, Version};

use super::*;

/// Cheap costs so the tests run fast in debug builds.
pub(crate) fn cheap() -> PasswordHasher {
    let cfg = PasswordConfig { memory_kib: 64, iterations: 1, ..PasswordConfig::default() };
    PasswordHasher::new(cfg).expect("valid")
}

#[test]
fn argon2id_matches_the_rfc9106_test_vector() {
    // RFC 9106 §5.3: Argon2id, version 0x13, m=32 KiB, t=3, p=4, secret 8×0x03,
    // associated data 12×0x04, tag length 32.
    let params = argon2::ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .output_len(32)
        .data(argon2::AssociatedData::new(&[4; 12]).expect("ad"))
        .build()
        .expect("params");
    let ctx =
        Argon2::new_with_secret(&[3; 8], Algorithm::Argon2id, Version::V0x13, params).expect("ctx");
    let mut tag = [0u8; 32];
    ctx.hash_password_into(&[1; 32], &[2; 16], &mut tag).expect("hash");
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

#[test]
fn defaults_are_the_owasp_parameters() {
    let cfg = PasswordConfig::default();
    assert_eq!((cfg.memory_kib, cfg.iterations, cfg.parallelism), (19_456, 2, 1));
    let hasher = PasswordHasher::default();
    let salt = "c29tZXNhbHRzb21lc2FsdA";
    let out = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI";
    assert!(!hasher.needs_rehash(&format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${out}")));
    for weaker in [
        format!("$argon2id$v=19$m=4096,t=3,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19456,t=1,p=1${salt}${out}"),
        format!("$argon2i$v=19$m=19456,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=16$m=19456,t=2,p=1${salt}${out}"),
        "not a hash".to_owned(),
    ] {
        assert!(hasher.needs_rehash(&weaker), "{weaker}");
    }
}

#[tokio::test]
async fn hashes_verify_and_record_their_parameters() {
    let hasher = cheap();
    let hash = hasher.hash("correct horse").await.expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
    assert_ne!(hash, hasher.hash("correct horse").await.expect("hash"), "salted");
    let ok = hasher.verify("correct horse", Some(&hash)).await.expect("verify");
    assert_eq!(ok, Verified { matches: true, needs_rehash: false });
    let bad = hasher.verify("wrong horse", Some(&hash)).await.expect("verify");
    assert!(!bad.matches);
    let garbage = hasher.verify("correct horse", Some("$argon2id$garbage")).await.expect("verify");
    assert!(!garbage.matches && garbage.needs_rehash);
    // No stored hash: a dummy verification that never matches.
    assert!(!hasher.verify("anything", None).await.expect("verify").matches);
    assert_eq!(hasher.available_permits(), hasher.config().max_concurrent);
}

#[tokio::test]
async fn hashes_of_old_parameters_still_verify_and_ask_for_a_rehash() {
    let old = cheap();
    let hash = old.hash("correct horse").await.expect("hash");
    let cfg = PasswordConfig { memory_kib: 128, iterations: 1, ..PasswordConfig::default() };
    let new = PasswordHasher::new(cfg).expect("valid");
    let v = new.verify("correct horse", Some(&hash)).await.expect("verify");
    assert_eq!(v, Verified { matches: true, needs_rehash: true });
}

#[tokio::test]
async fn the_length_policy_is_enforced() {
    let hasher = cheap();
    assert!(matches!(hasher.check_policy("short"), Err(IdentityError::WeakPassword(_))));
    assert!(hasher.check_policy("long enough").is_ok());
    let huge = "x".repeat(1025);
    assert!(matches!(hasher.check_policy(&huge), Err(IdentityError::WeakPassword(_))));
    assert!(matches!(hasher.hash(&huge).await, Err(IdentityError::WeakPassword(_))));
    let hash = hasher.hash("long enough").await.expect("hash");
    assert!(!hasher.verify(&huge, Some(&hash)).await.expect("verify").matches);
}

#[tokio::test]
async fn hashing_is_limited_to_max_concurrent() {
    let cfg =
        PasswordConfig { memory_kib: 64, iterations: 1, max_concurrent: 2, ..Default::default() };
    let hasher = PasswordHasher::new(cfg).expect("valid");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let h = hasher.clone();
            tokio::spawn(async move { h.hash(&format!("password-{i}")).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("hash");
    }
    assert_eq!(hasher.available_permits(), 2, "every permit is returned");
}

#[test]
fn invalid_settings_name_their_field() {
    let bad = |f: fn(&mut PasswordConfig)| {
        let mut c = PasswordConfig::default();
        f(&mut c);
        PasswordHasher::new(c).expect_err("invalid").field
    };
    assert_eq!(bad(|c| c.iterations = 0), "iterations");
    assert_eq!(bad(|c| c.parallelism = 0), "parallelism");
    assert_eq!(bad(|c| c.memory_kib = 4), "memory_kib");
    assert_eq!(bad(|c| c.max_concurrent = 0), "max_concurrent");
    assert_eq!(bad(|c| c.min_length = 0), "min_length");
}
