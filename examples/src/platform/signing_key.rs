//! The token signing key: an Ed25519 key generated at the first start and kept in a
//! PKCS#8 PEM file (mode 0600), so tokens stay valid across restarts.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use platform_auth::jwt::Key;
use sha2::Digest as _;

use super::error::PlatformError;

/// The DER of a PKCS#8 v1 Ed25519 private key before its 32-byte seed (RFC 8410 §7):
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }`.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The key in `path`, creating the file with a fresh key when it does not exist; `true`
/// when it was created now.
pub(crate) fn load_or_create(path: &Path) -> Result<(Key, bool), PlatformError> {
    let fail = |problem: String| PlatformError::SigningKey { path: path.to_owned(), problem };
    let created = match create(path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(fail(format!("cannot create it: {e}"))),
    };
    let pem = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    warn_if_readable_by_others(path);
    let key = from_pem(&pem).map_err(|e| {
        fail(format!("{e}; it must hold an Ed25519 private key in PKCS#8 PEM (delete it to generate a new one, which invalidates every token issued so far)"))
    })?;
    Ok((key, created))
}

/// The signing key in `pem`, its `kid` derived from the public key so it is the same
/// at every start.
fn from_pem(pem: &[u8]) -> Result<Key, String> {
    let probe = Key::ed25519_private_pem("probe", pem).map_err(|e| e.to_string())?;
    let jwk = serde_json::to_value(probe.public_jwk()).map_err(|e| e.to_string())?;
    let x = jwk["x"].as_str().ok_or("the key has no public part")?;
    let digest = sha2::Sha256::digest(x.as_bytes());
    let kid: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Key::ed25519_private_pem(format!("ed25519-{kid}"), pem).map_err(|e| e.to_string())
}

fn pem_of_seed(seed: &[u8; 32]) -> String {
    let mut der = Vec::with_capacity(48);
    der.extend_from_slice(&PKCS8_ED25519_PREFIX);
    der.extend_from_slice(seed);
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(der))
}

/// Writes a new key; `AlreadyExists` when the file is there (another start won the race,
/// or it is simply not the first start).
fn create(path: &Path) -> std::io::Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
    let pem = pem_of_seed(&seed);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    tracing::info!(target: "platform", path = %path.display(), "generated the token signing key");
    Ok(())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(target: "platform", path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "the signing key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_with_owner_only_permissions_and_the_same_kid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        let (first, created) = load_or_create(&path).expect("created");
        assert!(created);
        assert!(first.can_sign());
        assert!(first.kid().starts_with("ed25519-"), "{}", first.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = load_or_create(&path).expect("loaded");
        assert!(!created);
        assert_eq!(again.kid(), first.kid());
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_with_advice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "not a key").expect("write");
        let err = load_or_create(&path).expect_err("refused").to_string();
        assert!(err.contains("key.pem") && err.contains("PKCS#8"), "{err}");
    }
}
