//! The demo upstream of the canary walkthrough (`docs/canary.md`): one version of a
//! small service that says which version answered, with failures and latency you
//! inject, so a rollout through the `platform` gateway has something to judge. Run two
//! of them, `v1` and `v2`, on two ports (the `demo-upstream` binary).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};

/// The `demo-upstream` usage text.
pub const USAGE: &str = "\
usage: demo-upstream --version NAME [--listen ADDR] [--error-rate FRACTION] [--latency DURATION]

One version of the canary walkthrough's demo service (docs/canary.md): every request
is answered {\"version\": NAME, \"path\": …}.

  --version NAME         the version it says it is, e.g. v1 or v2 (required)
  --listen ADDR          where it listens (default 127.0.0.1:9101)
  --error-rate FRACTION  share of requests answered 500, from 0 to 1 (default 0)
  --latency DURATION     time taken before answering, e.g. 50ms (default 0s)
  -h, --help             this text
";

/// One version of the demo service and the faults it injects.
///
/// ```
/// use platform_examples::demo_upstream::{Answer, DemoUpstream};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let v2 = DemoUpstream::new("v2");
/// let req = http::Request::get("/demo/hello").body(axum::body::Body::empty()).unwrap();
/// let res = v2.router().oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 200);
/// let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
/// let answer: Answer = serde_json::from_slice(&bytes).unwrap();
/// assert_eq!((answer.version.as_str(), answer.path.as_str()), ("v2", "/demo/hello"));
///
/// let broken = DemoUpstream::new("v2").error_rate(1.0);
/// let req = http::Request::get("/demo/hello").body(axum::body::Body::empty()).unwrap();
/// assert_eq!(broken.router().oneshot(req).await.unwrap().status(), 500);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DemoUpstream {
    /// The version it answers as.
    pub version: String,
    /// Where the binary listens (default `127.0.0.1:9101`).
    pub listen: SocketAddr,
    /// Share of requests answered `500` (0 to 1).
    pub error_rate: f64,
    /// Time taken before each answer.
    pub latency: Duration,
}

/// What the demo service answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Answer {
    /// The version that answered.
    pub version: String,
    /// The path it received.
    pub path: String,
    /// `Some("injected failure")` on an injected 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DemoUpstream {
    /// Version `version`, healthy and fast, on `127.0.0.1:9101`.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 9101)),
            error_rate: 0.0,
            latency: Duration::ZERO,
        }
    }

    /// Answers this share of requests with `500` (clamped to 0..=1).
    pub fn error_rate(mut self, fraction: f64) -> Self {
        self.error_rate = fraction.clamp(0.0, 1.0);
        self
    }

    /// Waits this long before answering.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Parses the arguments after the program name; `Ok(None)` for `--help`.
    ///
    /// ```
    /// use platform_examples::demo_upstream::DemoUpstream;
    ///
    /// let args = ["--version", "v2", "--listen", "127.0.0.1:9102", "--error-rate", "0.3", "--latency", "40ms"];
    /// let v2 = DemoUpstream::parse_args(args.map(String::from)).unwrap().unwrap();
    /// assert_eq!((v2.version.as_str(), v2.listen.port(), v2.error_rate), ("v2", 9102, 0.3));
    /// assert_eq!(v2.latency, std::time::Duration::from_millis(40));
    /// let err = DemoUpstream::parse_args(["--error-rate", "2"].map(String::from)).unwrap_err();
    /// assert!(err.starts_with("--error-rate 2: give a fraction from 0 to 1"), "{err}");
    /// ```
    ///
    /// # Errors
    /// What was wrong with which argument, followed by the usage text.
    pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Self>, String> {
        let mut version = None;
        let mut demo = Self::new("");
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if matches!(flag.as_str(), "-h" | "--help") {
                return Ok(None);
            }
            let value = match flag.as_str() {
                "--version" | "--listen" | "--error-rate" | "--latency" => {
                    args.next().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?
                }
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            };
            let bad = |problem: &str| format!("{flag} {value}: {problem}\n\n{USAGE}");
            match flag.as_str() {
                "--version" => version = Some(value),
                "--listen" => demo.listen = value.parse().map_err(|_| bad("not host:port"))?,
                "--error-rate" => {
                    demo.error_rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| bad("give a fraction from 0 to 1"))?;
                }
                _ => {
                    demo.latency = humantime::parse_duration(&value)
                        .map_err(|_| bad("give a duration such as 50ms"))?;
                }
            }
        }
        demo.version = version.ok_or_else(|| format!("--version is required\n\n{USAGE}"))?;
        Ok(Some(demo))
    }

    /// The service: every method on every path.
    pub fn router(&self) -> Router {
        let demo = self.clone();
        Router::new().fallback(move |req: Request| {
            let demo = demo.clone();
            async move { demo.answer(req.uri().path()).await }
        })
    }

    async fn answer(&self, path: &str) -> Response {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let failed = self.error_rate > 0.0 && fastrand::f64() < self.error_rate;
        let answer = Answer {
            version: self.version.clone(),
            path: path.to_owned(),
            error: failed.then(|| "injected failure".to_owned()),
        };
        let status = if failed { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
        (status, Json(answer)).into_response()
    }
}
