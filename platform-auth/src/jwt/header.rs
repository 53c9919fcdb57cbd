//! Strict parsing of the JOSE header before any key is chosen.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::AuthError;

/// Largest token accepted, in bytes (guards the decoder against huge inputs).
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The header fields verification looks at. Everything else — including `jku`, `x5u`,
/// `jwk` and `x5c` — is ignored: keys never come from the token.
#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    #[serde(default)]
    pub(crate) crit: Option<serde_json::Value>,
}

/// Splits and checks the token's shape and parses its header.
///
/// Refuses: anything but three non-empty base64url segments (so an empty signature
/// never reaches a verifier), `alg: none` in any casing, and any `crit` header (no
/// critical extension is understood, RFC 7515 §4.1.11).
pub(crate) fn parse(token: &str) -> Result<RawHeader, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("a JWS has three segments"));
    };
    if h.is_empty() || p.is_empty() {
        return Err(AuthError::Malformed("empty segment"));
    }
    if s.is_empty() {
        return Err(AuthError::InvalidSignature);
    }
    let bytes =
        URL_SAFE_NO_PAD.decode(h).map_err(|_| AuthError::Malformed("header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("header is not a JOSE object"))?;
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(AuthError::alg_mismatch(&header.alg));
    }
    if header.crit.is_some() {
        return Err(AuthError::Malformed("unsupported critical header"));
    }
    Ok(header)
}

/// `typ` comparison per RFC 7515 §4.1.9: case-insensitive, `application/` optional.
pub(crate) fn typ_matches(found: &str, expected: &str) -> bool {
    // Compared in place: this runs for every token checked.
    fn strip(t: &str) -> &str {
        let t = t.trim();
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    strip(found).eq_ignore_ascii_case(strip(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn shape_is_checked_before_anything_else() {
        let h = seg(r#"{"alg":"HS256"}"#);
        assert!(matches!(parse("a.b"), Err(AuthError::Malformed(_))));
        assert!(matches!(parse("a.b.c.d"), Err(AuthError::Malformed(_))));
        assert!(matches!(parse(&format!("{h}..sig")), Err(AuthError::Malformed(_))));
        assert!(matches!(parse(&format!("{h}.p.")), Err(AuthError::InvalidSignature)));
        assert!(matches!(parse("!!.p.s"), Err(AuthError::Malformed(_))));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(parse(&long), Err(AuthError::Malformed(_))));
        assert_eq!(parse(&format!("{h}.p.s")).expect("ok").alg, "HS256");
    }

    #[test]
    fn crit_and_none_are_refused() {
        let crit = seg(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#);
        assert!(parse(&format!("{crit}.p.s")).is_err());
        let none = seg(r#"{"alg":"nOnE"}"#);
        assert!(matches!(parse(&format!("{none}.p.s")), Err(AuthError::AlgorithmMismatch { .. })));
    }

    #[test]
    fn typ_compares_as_a_media_type() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        assert!(!typ_matches("at+jwt+x", "at+jwt"));
    }
}
