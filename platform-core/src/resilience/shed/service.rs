use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{Decision, Shared, ShedEvent, TARGET};
use super::{Criticality, LoadShedLayer, Signal};
use crate::error::{BoxError, Overloaded};
use crate::resilience::key::KeyExtractor;

/// Sheds a share of requests that grows with process pressure, least critical first.
///
/// The decision needs the request's [`Criticality`], so it is made in `call`:
/// `poll_ready` only forwards to the inner service, and a shed request's future resolves
/// at once to [`Overloaded`] (`"shed: cpu pressure"`, `"shed: memory pressure"` or
/// `"shed: queue pressure"`) without reaching the inner service.
pub struct LoadShed<S, E> {
    inner: S,
    shared: Arc<Shared>,
    extractor: Arc<E>,
    rng: fastrand::Rng,
}

impl<S, E> LoadShed<S, E> {
    pub(super) fn from_parts(inner: S, shared: Arc<Shared>, extractor: Arc<E>) -> Self {
        let rng = fastrand::Rng::with_seed(shared.next_seed());
        Self { inner, shared, extractor, rng }
    }

    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &LoadShedLayer<E>) -> Self {
        Self::from_parts(inner, layer.shared.clone(), layer.extractor.clone())
    }

    crate::resilience::inner_accessors!(S);

    /// Decides for one request; `Some(reason)` when it must be rejected.
    fn shed(&mut self, criticality: Criticality) -> Option<&'static str> {
        let d = self.shared.decide(criticality);
        if d.probability <= 0.0 || (d.probability < 1.0 && self.rng.f64() >= d.probability) {
            return None;
        }
        self.report(criticality, d);
        if d.shadow { None } else { Some(reason(d.signal)) }
    }

    fn report(&self, criticality: Criticality, d: Decision) {
        tracing::debug!(
            target: TARGET,
            criticality = criticality.as_str(),
            signal = d.signal.as_str(),
            level = d.level,
            probability = d.probability,
            shadow = d.shadow,
            "request shed",
        );
        if !self.shared.listeners.is_empty() {
            self.shared.listeners.emit(&ShedEvent::Shed {
                criticality,
                signal: d.signal,
                level: d.level,
                probability: d.probability,
                shadow: d.shadow,
            });
        }
    }
}

fn reason(signal: Signal) -> &'static str {
    match signal {
        Signal::Cpu => "shed: cpu pressure",
        Signal::Memory => "shed: memory pressure",
        Signal::Queue => "shed: queue pressure",
    }
}

/// A clone draws a fresh RNG seed from the shared sequence, so clone-per-request
/// routers do not replay the same random draw for every request.
impl<S: Clone, E> Clone for LoadShed<S, E> {
    fn clone(&self) -> Self {
        Self::from_parts(self.inner.clone(), self.shared.clone(), self.extractor.clone())
    }
}

impl<S: std::fmt::Debug, E> std::fmt::Debug for LoadShed<S, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadShed").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, E, Req> Service<Req> for LoadShed<S, E>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    E: KeyExtractor<Req, Key = Criticality>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let criticality = self.extractor.extract(&req).unwrap_or_default();
        match self.shed(criticality) {
            Some(reason) => ResponseFuture::rejected(Overloaded::new(reason)),
            None => ResponseFuture::called(self.inner.call(req)),
        }
    }
}
