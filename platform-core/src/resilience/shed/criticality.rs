//! Request [`Criticality`] and the extractors that read it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::resilience::key::KeyExtractor;

/// How much it matters that a request is served. Under pressure, [`Sheddable`] traffic
/// is shed first and [`Critical`] traffic last.
///
/// [`Sheddable`]: Criticality::Sheddable
/// [`Critical`]: Criticality::Critical
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// Can be dropped first: prefetches, batch jobs, retries of best-effort work.
    Sheddable,
    /// Ordinary traffic (requests that say nothing).
    #[default]
    Default,
    /// Must be served as long as anything is: health-critical, user-blocking paths.
    Critical,
}

impl Criticality {
    /// Every criticality, least critical first.
    pub const ALL: [Criticality; 3] = [Self::Sheddable, Self::Default, Self::Critical];

    /// The lowercase name: `sheddable`, `default`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sheddable => "sheddable",
            Self::Default => "default",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `critical`, `default`, `sheddable` (any ASCII case).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown criticality; expected `critical`, `default` or `sheddable`")]
pub struct UnknownCriticality;

impl FromStr for Criticality {
    type Err = UnknownCriticality;

    fn from_str(s: &str) -> Result<Self, UnknownCriticality> {
        Self::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s)).ok_or(UnknownCriticality)
    }
}

/// The default extractor for HTTP requests: a [`Criticality`] request extension (set by
/// an earlier layer, e.g. from the caller's identity) wins; otherwise the
/// `x-criticality` header (`critical`, `default`, `sheddable`); otherwise none, which
/// the shedder treats as [`Criticality::Default`].
///
/// A header can be set by any client: trust it only from internal callers, or strip it
/// at the edge.
///
/// ```
/// use platform_core::resilience::key::KeyExtractor;
/// use platform_core::resilience::shed::{Criticality, HttpCriticality};
///
/// let req = http::Request::builder().header("x-criticality", "sheddable").body(()).unwrap();
/// assert_eq!(HttpCriticality::default().extract(&req), Some(Criticality::Sheddable));
/// ```
#[derive(Debug, Clone)]
pub struct HttpCriticality {
    header: http::HeaderName,
}

impl HttpCriticality {
    /// Reads the extension, then the header `header`.
    pub fn with_header(header: http::HeaderName) -> Self {
        Self { header }
    }
}

impl Default for HttpCriticality {
    fn default() -> Self {
        Self::with_header(http::HeaderName::from_static("x-criticality"))
    }
}

impl<B> KeyExtractor<http::Request<B>> for HttpCriticality {
    type Key = Criticality;

    fn extract(&self, req: &http::Request<B>) -> Option<Criticality> {
        if let Some(c) = req.extensions().get::<Criticality>() {
            return Some(*c);
        }
        req.headers().get(&self.header)?.to_str().ok()?.trim().parse().ok()
    }
}

/// An extractor for any request type that gives every request the same criticality.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedCriticality(pub Criticality);

impl<Req> KeyExtractor<Req> for FixedCriticality {
    type Key = Criticality;

    fn extract(&self, _req: &Req) -> Option<Criticality> {
        Some(self.0)
    }
}
