//! The 401 and 403 responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use platform_core::error::ErrorBody;

use crate::error::{AuthError, ChallengeCode};

/// `401` with an RFC 6750 `WWW-Authenticate: Bearer` challenge and a JSON [`ErrorBody`].
/// The description is the error's message, which never contains the credential.
pub(crate) fn unauthorized<B: From<Bytes>>(realm: &str, err: &AuthError) -> Response<B> {
    let mut challenge = format!("Bearer realm=\"{realm}\"");
    let code = err.challenge_code();
    if let Some(code) = code {
        // Printable ASCII only, no quotes: the message may echo a (truncated) header value.
        let desc: String = err
            .to_string()
            .chars()
            .map(
                |c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '?' },
            )
            .collect();
        challenge.push_str(&format!(", error=\"{code}\", error_description=\"{desc}\""));
    }
    let body = ErrorBody::new(code.map_or("unauthorized", ChallengeCode::as_str), err.to_string());
    let mut res = json(StatusCode::UNAUTHORIZED, &body);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// `403` with a JSON [`ErrorBody`] (`insufficient_scope`) and the matching challenge.
pub(crate) fn forbidden<B: From<Bytes>>(realm: &str, required: &str) -> Response<B> {
    let body = ErrorBody::new("insufficient_scope", format!("requires `{required}`"));
    let mut res = json(StatusCode::FORBIDDEN, &body);
    let challenge =
        format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{required}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// `403` with a JSON [`ErrorBody`] (`code`, `message`) and no challenge: a policy, not a
/// token scope, refused.
pub(crate) fn denied<B: From<Bytes>>(code: &str, message: &str) -> Response<B> {
    json(StatusCode::FORBIDDEN, &ErrorBody::new(code, message))
}

/// `503` when the authentication backend is unavailable (not the caller's fault).
pub(crate) fn unavailable<B: From<Bytes>>(err: &AuthError) -> Response<B> {
    json(StatusCode::SERVICE_UNAVAILABLE, &ErrorBody::new("auth_unavailable", err.to_string()))
}

fn json<B: From<Bytes>>(status: StatusCode, body: &ErrorBody) -> Response<B> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = Response::new(B::from(Bytes::from(bytes)));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_survive_hostile_messages() {
        let err = AuthError::alg_mismatch("x\"\n\u{7f}é");
        let res: Response<http_body_util::Full<Bytes>> = unauthorized("api", &err);
        let h = res.headers()[header::WWW_AUTHENTICATE].to_str().expect("ascii");
        assert!(h.starts_with("Bearer realm=\"api\", error=\"invalid_token\""), "{h}");
        assert_eq!(h.matches('"').count(), 6, "{h}");
    }

    #[test]
    fn a_missing_credential_gets_a_bare_challenge() {
        let res: Response<http_body_util::Full<Bytes>> = unauthorized("api", &AuthError::Missing);
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"api\"");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}
