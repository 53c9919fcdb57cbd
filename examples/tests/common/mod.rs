//! Helpers of the `platform` tests: a platform on loopback ports from a clean temporary
//! data directory, and a small HTTP client.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use platform_auth::identity::PasswordConfig;
use platform_examples::platform::{Bootstrap, Platform, PlatformConfig, Secret, open_store};
use platform_observe::metrics::MetricsRegistry;
use serde_json::Value;

/// The administrator's password the tests configure.
pub const ADMIN_PASSWORD: &str = "a long test passphrase";

/// A configuration for tests: loopback ports the system picks, state under `dir`, a
/// fixed issuer (so tokens survive restarts on new ports), cheap password hashing.
pub fn config(dir: &Path) -> PlatformConfig {
    let mut c = PlatformConfig::default();
    c.data_dir = dir.join("data");
    c.gateway.listen = "127.0.0.1:0".parse().unwrap();
    c.admin.listen = "127.0.0.1:0".parse().unwrap();
    c.auth.issuer = Some("http://platform.test".to_owned());
    c.auth.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    c.auth.passwords = PasswordConfig::default().costs(64, 1, 1);
    c.drain_timeout = Duration::from_secs(5);
    c
}

/// Starts the platform with `config`.
pub async fn start(config: &PlatformConfig) -> Platform {
    let store = open_store(config).await.expect("database");
    Platform::start(config, store, MetricsRegistry::new()).await.expect("platform starts")
}

/// An HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An answer: status, headers, and the body as JSON (a JSON string when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
}

/// Sends `req`.
pub async fn send(req: Request<Full<Bytes>>) -> Answer {
    let res = client().request(req).await.expect("request sent");
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer { status: parts.status, headers: parts.headers, body }
}

/// `GET url`, with a bearer token when given.
pub async fn get(url: &str, token: Option<&str>) -> Answer {
    let mut req = Request::get(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    send(req.body(Full::default()).unwrap()).await
}

/// `method url` with a JSON body and a bearer token when given.
pub async fn json(method: Method, url: &str, body: &Value, token: Option<&str>) -> Answer {
    let mut req =
        Request::builder().method(method).uri(url).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    send(req.body(Full::new(Bytes::from(body.to_string()))).unwrap()).await
}

/// A password grant at the gateway's `/oauth/token`, the client authenticated with
/// HTTP Basic.
pub async fn password_grant(
    gateway: &str,
    client_id: &str,
    client_secret: &str,
    username: &str,
    password: &str,
) -> Answer {
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"));
    let form: String =
        form_pairs(&[("grant_type", "password"), ("username", username), ("password", password)]);
    let req = Request::post(format!("{gateway}/oauth/token"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    send(req).await
}

fn form_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A password grant through `first`'s CLI client.
pub async fn login(gateway: &str, first: &Bootstrap, username: &str, password: &str) -> Answer {
    password_grant(gateway, &first.client_id, first.client_secret.expose(), username, password)
        .await
}

/// The bootstrap administrator's access token from a fresh platform.
pub async fn admin_token(platform: &Platform) -> String {
    let first = platform.bootstrap().expect("a first start");
    let answer = login(&platform.gateway_url(), first, &first.admin_username, ADMIN_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body["access_token"].as_str().expect("access_token").to_owned()
}

/// `http://<admin address>`.
pub fn admin_url(platform: &Platform) -> String {
    format!("http://{}", platform.addresses().admin)
}

/// Polls `check` every 50 ms until it holds; fails after 20 s (file events, registry
/// watches and rollout evaluations run in real time).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 20 s");
}
