//! [`Key`]: one key bound to exactly one algorithm.

use std::fmt;

use hmac::{Hmac, KeyInit};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::Sha256;

/// The shortest HMAC secret accepted: 256 bits, the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Why a key could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The HMAC secret is shorter than [`MIN_HMAC_SECRET_LEN`].
    #[error(
        "key `{kid}`: HMAC secret has {len} bytes; at least {MIN_HMAC_SECRET_LEN} are required"
    )]
    WeakSecret {
        /// The key id.
        kid: String,
        /// The secret's length.
        len: usize,
    },
    /// The PEM or JWK could not be parsed for the requested algorithm.
    #[error("key `{kid}`: cannot read a {alg:?} key: {source}")]
    Parse {
        /// The key id.
        kid: String,
        /// The algorithm the key was meant for.
        alg: Algorithm,
        /// The parser's error.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// The JWK is not usable for signatures with a supported algorithm.
    #[error("JWK `{kid}`: {problem}")]
    UnsupportedJwk {
        /// The key id (empty when the JWK has none).
        kid: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// A signing or verification key bound to one algorithm and one key id.
///
/// The binding is the first defence against algorithm confusion: a token verifies with a
/// key only when its header's `alg` is exactly the key's algorithm. An RSA public key can
/// never be used as an HMAC secret, and `none` never matches any key.
#[derive(Clone)]
pub struct Key {
    kid: String,
    alg: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// An HS256 secret, keyed once: each verification clones the keyed state instead
    /// of hashing the secret again.
    hmac: Option<Hmac<Sha256>>,
    public_jwk: Option<Jwk>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HS256 key from a shared secret of at least [`MIN_HMAC_SECRET_LEN`] bytes.
    /// Never published in a JWKS.
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<Self, KeyError> {
        let kid = kid.into();
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(KeyError::WeakSecret { kid, len: secret.len() });
        }
        Ok(Self {
            kid,
            alg: Algorithm::HS256,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            // Any key length is valid for HMAC.
            hmac: Hmac::new_from_slice(secret).ok(),
            public_jwk: None,
        })
    }

    /// An HS256 key with a fresh 256-bit secret from the operating system's CSPRNG.
    pub fn generate_hs256(kid: impl Into<String>) -> Self {
        let secret = crate::random::bytes::<32>();
        // 32 bytes always meet the minimum.
        Self::hs256(kid, &secret).unwrap_or_else(|_| unreachable!("32-byte secret"))
    }

    /// An RS256 signing key from a PKCS#1 or PKCS#8 PEM private key.
    pub fn rs256_private_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::private(kid.into(), Algorithm::RS256, EncodingKey::from_rsa_pem(pem))
    }

    /// An RS256 verification key from a PEM public key.
    pub fn rs256_public_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::public(kid.into(), Algorithm::RS256, DecodingKey::from_rsa_pem(pem))
    }

    /// An ES256 (P-256) signing key from a PKCS#8 PEM private key.
    pub fn es256_private_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::private(kid.into(), Algorithm::ES256, EncodingKey::from_ec_pem(pem))
    }

    /// An ES256 verification key from a PEM public key.
    pub fn es256_public_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::public(kid.into(), Algorithm::ES256, DecodingKey::from_ec_pem(pem))
    }

    /// An EdDSA (Ed25519) signing key from a PKCS#8 PEM private key.
    pub fn ed25519_private_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::private(kid.into(), Algorithm::EdDSA, EncodingKey::from_ed_pem(pem))
    }

    /// An EdDSA (Ed25519) verification key from a PEM public key.
    pub fn ed25519_public_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::public(kid.into(), Algorithm::EdDSA, DecodingKey::from_ed_pem(pem))
    }

    /// A verification key from a public JWK (as fetched from a JWKS endpoint).
    ///
    /// The algorithm is the JWK's `alg` when present; otherwise it follows from the key
    /// type when that is unambiguous (OKP Ed25519 → EdDSA, EC P-256 → ES256) and is
    /// `rsa_default` for RSA keys. Symmetric (`oct`) keys, keys marked for encryption and
    /// algorithms other than RS256, ES256 and EdDSA are refused.
    pub fn from_public_jwk(jwk: &Jwk, rsa_default: Algorithm) -> Result<Self, KeyError> {
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        let bad = |problem| KeyError::UnsupportedJwk { kid: kid.clone(), problem };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return Err(bad("marked for encryption (`use: enc`)"));
        }
        let inferred = match &jwk.algorithm {
            AlgorithmParameters::OctetKey(_) => {
                return Err(bad("symmetric keys are never fetched"));
            }
            AlgorithmParameters::RSA(_) => rsa_default,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                Algorithm::EdDSA
            }
            _ => return Err(bad("unsupported key type or curve")),
        };
        let alg = match jwk.common.key_algorithm {
            None => inferred,
            Some(KeyAlgorithm::RS256) => Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => Algorithm::ES256,
            Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
            Some(_) => return Err(bad("unsupported `alg`")),
        };
        if alg.family() != inferred.family() {
            return Err(bad("`alg` does not match the key type"));
        }
        let mut key = Self::public(kid, alg, DecodingKey::from_jwk(jwk))?;
        key.public_jwk = Some(jwk.clone());
        Ok(key)
    }

    fn private(
        kid: String,
        alg: Algorithm,
        enc: jsonwebtoken::errors::Result<EncodingKey>,
    ) -> Result<Self, KeyError> {
        let parse = |source| KeyError::Parse { kid: kid.clone(), alg, source };
        let encoding = enc.map_err(parse)?;
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).map_err(parse)?;
        decorate(&mut jwk, &kid);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(parse)?;
        Ok(Self { kid, alg, encoding: Some(encoding), decoding, hmac: None, public_jwk: Some(jwk) })
    }

    fn public(
        kid: String,
        alg: Algorithm,
        dec: jsonwebtoken::errors::Result<DecodingKey>,
    ) -> Result<Self, KeyError> {
        let parse = |source| KeyError::Parse { kid: kid.clone(), alg, source };
        let decoding = dec.map_err(parse)?;
        let mut jwk = Jwk::from_decoding_key(&decoding, Some(alg)).map_err(parse)?;
        decorate(&mut jwk, &kid);
        Ok(Self { kid, alg, encoding: None, decoding, hmac: None, public_jwk: Some(jwk) })
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether the key can sign (holds private or secret material).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The public JWK (`None` for HMAC keys, which are never published).
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.public_jwk.as_ref()
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The keyed HMAC state of an HS256 key.
    pub(crate) fn hmac(&self) -> Option<&Hmac<Sha256>> {
        self.hmac.as_ref()
    }
}

fn decorate(jwk: &mut Jwk, kid: &str) {
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
}
