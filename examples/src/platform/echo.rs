//! The demo upstream: answers every request with what it received, as JSON, so users
//! see exactly what the gateway forwards (forwarding headers set, hop-by-hop headers
//! gone, the path as normalized).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

/// What the echo service answers.
///
/// ```
/// use platform_examples::platform::echo::{Echoed, router};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let req = http::Request::post("/echo/hi?x=1").header("x-demo", "yes").body(axum::body::Body::from("abc")).unwrap();
/// let res = router().oneshot(req).await.unwrap();
/// let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
/// let echoed: Echoed = serde_json::from_slice(&bytes).unwrap();
/// assert_eq!((echoed.method.as_str(), echoed.path.as_str()), ("POST", "/echo/hi"));
/// assert_eq!(echoed.query.as_deref(), Some("x=1"));
/// assert_eq!(echoed.headers["x-demo"], "yes");
/// assert_eq!(echoed.body_bytes, 3);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Echoed {
    /// The method.
    pub method: String,
    /// The path, as the service received it.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    /// Every header by name; repeated ones joined with `, ` in the order received.
    pub headers: BTreeMap<String, String>,
    /// The body's length, counted as it streamed in (never buffered).
    pub body_bytes: u64,
}

/// The echo service: every method on every path.
pub fn router() -> Router {
    Router::new().fallback(echo)
}

async fn echo(req: Request<Body>) -> Json<Echoed> {
    let (parts, body) = req.into_parts();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let mut body = body;
    let mut body_bytes = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    Json(Echoed {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        version: format!("{:?}", parts.version),
        headers,
        body_bytes,
    })
}
