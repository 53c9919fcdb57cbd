//! Form bodies and client authentication (RFC 6749 §2.3.1, §3.2).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::request::Parts;
use http::{Request, header};

use super::TokenServer;
use super::client::OAuthClient;
use super::error::OAuthError;

/// Largest form body read.
const MAX_BODY: usize = 64 * 1024;

/// The parameters of an `application/x-www-form-urlencoded` body. Parameters without a
/// value count as absent (RFC 6749 §3.1); repeated ones are refused.
#[derive(Debug)]
pub(crate) struct Form {
    params: HashMap<String, String>,
}

impl Form {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub(crate) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is required")))
    }

    pub(crate) fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if v.is_empty() {
                continue;
            }
            if params.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{}` is repeated",
                    k.chars().take(32).collect::<String>()
                )));
            }
        }
        Ok(Self { params })
    }
}

/// Reads a form request: the head, the parsed body, and the peer address (from axum's
/// `ConnectInfo`, when the server was started with it).
pub(crate) async fn read(req: Request<Body>) -> Result<(Parts, Form, Option<IpAddr>), OAuthError> {
    let (parts, body) = req.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        OAuthError::invalid_request(format!(
            "the body is unreadable or larger than {MAX_BODY} bytes"
        ))
    })?;
    let source = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    Ok((parts, Form::parse(&bytes)?, source))
}

/// Authenticates the client with HTTP Basic (`client_secret_basic`) or with
/// `client_id`/`client_secret` in the body (`client_secret_post`) — exactly one of them.
pub(crate) async fn client(
    server: &TokenServer,
    parts: &Parts,
    form: &Form,
) -> Result<OAuthClient, OAuthError> {
    let basic = basic_credentials(parts)?;
    let (id, secret) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: HTTP Basic or the form body, not both",
            ));
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "`client_id` differs from the HTTP Basic user",
                ));
            }
            (id, secret)
        }
        (None, Some(secret)) => match form.get("client_id") {
            Some(id) => (id.to_owned(), secret.to_owned()),
            None => return Err(OAuthError::invalid_request("`client_id` is required")),
        },
        (None, None) => {
            return Err(OAuthError::invalid_client("client authentication is required"));
        }
    };
    let found = server.inner.clients.authenticate(&id, &secret).await;
    match found.map_err(|e| OAuthError::unavailable(e.to_string()))? {
        Some(c) => Ok(c),
        None => {
            let shown: String = id.chars().take(64).collect();
            tracing::warn!(target: "audit", event = "client_authentication_failed", client_id = %shown, "OAuth client authentication failed");
            Err(OAuthError::invalid_client("client authentication failed"))
        }
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`; `None` without
/// a Basic header.
fn basic_credentials(parts: &Parts) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || OAuthError::invalid_client("malformed HTTP Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((percent_decode(id).ok_or_else(bad)?, percent_decode(secret).ok_or_else(bad)?)))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space); `None` when not
/// UTF-8 or a `%` escape is broken.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                u8::try_from(hi * 16 + lo).ok()?
            }
            b => b,
        });
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_refuse_repeats_and_drop_empty_values() {
        let f = Form::parse(b"grant_type=password&scope=&username=a%20b").expect("valid");
        assert_eq!((f.get("username"), f.get("scope")), (Some("a b"), None));
        let e = Form::parse(b"a=1&a=2").expect_err("repeated");
        assert_eq!((e.code, e.description()), ("invalid_request", "parameter `a` is repeated"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(percent_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret"));
        let (parts, ()) =
            Request::get("/").header("authorization", header).body(()).expect("req").into_parts();
        let got = basic_credentials(&parts).expect("valid");
        assert_eq!(got, Some(("my app".to_owned(), "s:cret".to_owned())));
        let (parts, ()) = Request::get("/")
            .header("authorization", "Basic !!")
            .body(())
            .expect("req")
            .into_parts();
        assert_eq!(basic_credentials(&parts).expect_err("bad").code, "invalid_client");
        let (parts, ()) = Request::get("/")
            .header("authorization", "Bearer x")
            .body(())
            .expect("req")
            .into_parts();
        assert_eq!(basic_credentials(&parts).expect("ignored"), None);
    }
}
