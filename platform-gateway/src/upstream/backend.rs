//! What a route sends to: one upstream, or a weighted choice between several.

use std::fmt;
use std::sync::Arc;

use http::Request;

use super::Upstream;
use crate::body::Body;

/// Chooses the upstream that serves a request; the route's target.
///
/// [`Upstream`] is a backend of one. [`WeightedBackend`] splits traffic by weight. This
/// is the extension point for traffic splitting: a canary rollout implements
/// `Backend` to choose between versions (each an [`Upstream`] with its own balancer)
/// with sticky cohorts and overrides, and is handed to
/// [`RouteBuilder::backend`](crate::route::RouteBuilder::backend).
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The upstream for `req` (its extensions hold
    /// [`ClientInfo`](crate::proxy::ClientInfo) and the matched route).
    fn select(&self, req: &Request<Body>) -> Upstream;

    /// Every upstream this backend may choose (for operations views).
    fn upstreams(&self) -> Vec<Upstream>;
}

impl Backend for Upstream {
    fn select(&self, _req: &Request<Body>) -> Upstream {
        self.clone()
    }

    fn upstreams(&self) -> Vec<Upstream> {
        vec![self.clone()]
    }
}

/// Splits requests between upstreams at random, in proportion to their weights.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use platform_gateway::upstream::{Upstream, WeightedBackend};
///
/// let stable = Upstream::builder("users-v1").endpoint("127.0.0.1:9001").build().await?;
/// let next = Upstream::builder("users-v2").endpoint("127.0.0.1:9002").build().await?;
/// let split = WeightedBackend::new(vec![(stable, 95), (next, 5)])?;
/// assert_eq!(split.total_weight(), 100);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WeightedBackend {
    choices: Arc<[(Upstream, u32)]>,
    total: u32,
}

impl WeightedBackend {
    /// A split over `choices` (upstream, weight).
    ///
    /// # Errors
    /// A message when there is no choice or the weights add up to zero.
    pub fn new(choices: Vec<(Upstream, u32)>) -> Result<Self, String> {
        let total = choices.iter().try_fold(0u32, |t, (_, w)| t.checked_add(*w));
        match total {
            Some(t) if t > 0 => Ok(Self { choices: choices.into(), total: t }),
            Some(_) => Err("a weighted split needs at least one weight above zero".into()),
            None => Err("the weights of a split add up to more than 2^32".into()),
        }
    }

    /// The sum of the weights.
    pub fn total_weight(&self) -> u32 {
        self.total
    }
}

impl Backend for WeightedBackend {
    fn select(&self, _req: &Request<Body>) -> Upstream {
        let mut n = fastrand::u32(..self.total);
        for (upstream, w) in self.choices.iter() {
            if n < *w {
                return upstream.clone();
            }
            n -= w;
        }
        // Unreachable: n < total = sum of weights.
        self.choices[0].0.clone()
    }

    fn upstreams(&self) -> Vec<Upstream> {
        self.choices.iter().map(|(u, _)| u.clone()).collect()
    }
}
