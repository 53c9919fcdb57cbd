//! Upgraded connections: the tunnel between client and upstream, and WebSockets over
//! HTTP/2 (RFC 8441 extended CONNECT) turned into HTTP/1.1 `Upgrade: websocket`
//! requests (RFC 6455) towards the upstream.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper_util::rt::TokioIo;

use crate::body::{self, Body};
use crate::error::ProxyError;
use crate::proxy::strip_hop_by_hop;

/// RFC 6455 §1.3: appended to the key before hashing it into the accept value.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` an upstream must answer a `Sec-WebSocket-Key` with.
pub(crate) fn websocket_accept(key: &[u8]) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key);
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.digest().bytes())
}

/// Prepares the HTTP/1.1 side of a WebSocket that arrived as an extended CONNECT:
/// an RFC 8441 client sends no `Sec-WebSocket-Key`, an HTTP/1.1 server needs one.
/// Returns the key sent, to check the upstream's answer against.
pub(crate) fn websocket_key(headers: &mut HeaderMap) -> HeaderValue {
    let nonce: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    // Base64 is always a valid header value.
    let key = HeaderValue::from_str(&BASE64.encode(nonce))
        .unwrap_or(HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
    headers.insert(header::SEC_WEBSOCKET_KEY, key.clone());
    key
}

/// Turns the upstream's `101 Switching Protocols` into the `200` that accepts an
/// extended CONNECT; the WebSocket's `Sec-WebSocket-Accept` is checked against `key`
/// and not passed on (RFC 8441 has none). Subprotocol and extensions headers stay.
pub(crate) fn accept_extended_connect(
    mut res: Response<Body>,
    key: Option<&HeaderValue>,
    upstream: &Arc<str>,
    endpoint: &Arc<str>,
) -> Result<Response<Body>, ProxyError> {
    if let Some(key) = key {
        let accept = res.headers_mut().remove(header::SEC_WEBSOCKET_ACCEPT);
        if accept.as_ref().map(HeaderValue::as_bytes)
            != Some(websocket_accept(key.as_bytes()).as_bytes())
        {
            return Err(ProxyError::Upstream {
                upstream: upstream.clone(),
                endpoint: endpoint.clone(),
                source: "the endpoint switched to WebSocket with a wrong or missing Sec-WebSocket-Accept".into(),
            });
        }
    }
    strip_hop_by_hop(res.headers_mut());
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

/// The answer when an extended CONNECT got anything but `101` with a success status:
/// a `2xx` would tell the client its tunnel is open when it is not.
pub(crate) fn not_switched(
    upstream: &Arc<str>,
    endpoint: &Arc<str>,
    status: StatusCode,
) -> ProxyError {
    ProxyError::Upstream {
        upstream: upstream.clone(),
        endpoint: endpoint.clone(),
        source: format!(
            "the endpoint answered the upgrade with {status}, not 101 Switching Protocols"
        )
        .into(),
    }
}

/// An empty-bodied response for the client side of a tunnel.
pub(crate) fn emptied<B>(res: Response<B>) -> Response<Body> {
    res.map(|_| body::empty())
}

/// Copies bytes both ways between the upgraded client and upstream connections.
pub(crate) async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    name: Arc<str>,
) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(target: "platform::gateway", upstream = %name, error = %e, "upgraded connection ended with an error");
            }
        }
        Err(e) => {
            tracing::debug!(target: "platform::gateway", upstream = %name, error = %e, "upgrade did not complete");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matches_rfc_6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(websocket_accept(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn keys_are_16_random_bytes_in_base64() {
        let (mut a, mut b) = (HeaderMap::new(), HeaderMap::new());
        let (ka, kb) = (websocket_key(&mut a), websocket_key(&mut b));
        assert_eq!(ka.len(), 24);
        assert_ne!(ka, kb);
        assert_eq!(a[header::SEC_WEBSOCKET_KEY], ka);
    }
}
