//! One outcome classifier shared by every layer.
//!
//! Every layer that learns from calls — the circuit breaker's windows, the retry layer and
//! its budget, the adaptive concurrency limiter's latency estimate — asks a [`Classify`]
//! implementation what a finished call was:
//!
//! * [`Outcome::Success`] — the service did its job (for HTTP: any status except 5xx and 429),
//! * [`Outcome::Failure`] — the service failed (5xx, 429, transport errors, timeouts),
//! * [`Outcome::Rejected`] — a layer refused the call locally (see
//!   [`Rejection`]) other than a timeout; it says nothing about the service's health,
//!   so it is never counted in failure rates, latency estimates or retry budgets.
//!
//! Layers measure latency themselves; a call's latency is only used when its outcome is
//! not [`Outcome::Rejected`].
//!
//! ```
//! use platform_core::classify::{Classify, HttpClassifier, Outcome};
//!
//! let classifier = HttpClassifier::default();
//! let res = http::Response::builder().status(503).body(()).unwrap();
//! assert_eq!(classifier.classify_response(&res), Outcome::Failure);
//! let res = http::Response::builder().status(404).body(()).unwrap();
//! assert_eq!(classifier.classify_response(&res), Outcome::Success);
//! ```

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::error::Rejection;

/// What a finished call was, as far as resilience decisions are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The service did its job.
    Success,
    /// The service failed; counts against failure rates and may be retried.
    Failure,
    /// A layer refused the call locally; ignored by failure rates, latency and budgets.
    Rejected,
}

impl Outcome {
    /// `true` for [`Outcome::Success`].
    pub fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }

    /// `true` for [`Outcome::Failure`].
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failure)
    }

    /// `true` for [`Outcome::Rejected`].
    pub fn is_rejected(self) -> bool {
        matches!(self, Self::Rejected)
    }
}

/// Decides the [`Outcome`] of a call that produced `Res` or an error.
///
/// Implement it to teach every layer what failure means for your protocol; the
/// defaults are [`HttpClassifier`] for `http::Response` and [`ResultClassifier`]
/// (any `Ok` succeeds) for everything else. A closure works through [`ClassifyFn`].
pub trait Classify<Res>: Send + Sync + 'static {
    /// The outcome of a call that returned `res`.
    fn classify_response(&self, res: &Res) -> Outcome;

    /// The outcome of a call that failed with `err`.
    ///
    /// The default: timeouts ([`Elapsed`](crate::error::Elapsed)) fail, other local rejections are
    /// [`Outcome::Rejected`], every other error fails.
    fn classify_error(&self, err: &(dyn Error + 'static)) -> Outcome {
        default_error_outcome(err)
    }

    /// Classifies either side of a result.
    fn classify<E>(&self, result: &Result<Res, E>) -> Outcome
    where
        E: AsRef<dyn Error + Send + Sync + 'static>,
        Self: Sized,
    {
        match result {
            Ok(res) => self.classify_response(res),
            Err(e) => self.classify_error(e.as_ref()),
        }
    }
}

/// The default outcome of an error: timeouts fail, other local rejections are
/// [`Outcome::Rejected`], anything else fails.
pub fn default_error_outcome(err: &(dyn Error + 'static)) -> Outcome {
    match Rejection::find(err) {
        Some(Rejection::Elapsed(_)) => Outcome::Failure,
        Some(_) => Outcome::Rejected,
        None => Outcome::Failure,
    }
}

impl<Res, C: Classify<Res> + ?Sized> Classify<Res> for Arc<C> {
    fn classify_response(&self, res: &Res) -> Outcome {
        (**self).classify_response(res)
    }
    fn classify_error(&self, err: &(dyn Error + 'static)) -> Outcome {
        (**self).classify_error(err)
    }
}

/// Classifies HTTP responses: 5xx and 429 fail (configurable), every other status succeeds.
#[derive(Debug, Clone)]
pub struct HttpClassifier {
    fail_on_429: bool,
    fail_on_5xx: bool,
    extra_failures: Vec<http::StatusCode>,
}

impl Default for HttpClassifier {
    fn default() -> Self {
        Self { fail_on_429: true, fail_on_5xx: true, extra_failures: Vec::new() }
    }
}

impl HttpClassifier {
    /// The default HTTP classifier: 5xx and 429 fail.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `429 Too Many Requests` counts as a failure (default `true`).
    pub fn fail_on_429(mut self, yes: bool) -> Self {
        self.fail_on_429 = yes;
        self
    }

    /// Whether 5xx responses count as failures (default `true`).
    pub fn fail_on_5xx(mut self, yes: bool) -> Self {
        self.fail_on_5xx = yes;
        self
    }

    /// Treats `status` as a failure as well (e.g. `408 Request Timeout`).
    pub fn also_fail_on(mut self, status: http::StatusCode) -> Self {
        self.extra_failures.push(status);
        self
    }

    /// The outcome of a bare status code.
    pub fn classify_status(&self, status: http::StatusCode) -> Outcome {
        let failed = (self.fail_on_5xx && status.is_server_error())
            || (self.fail_on_429 && status == http::StatusCode::TOO_MANY_REQUESTS)
            || self.extra_failures.contains(&status);
        if failed { Outcome::Failure } else { Outcome::Success }
    }
}

impl<B> Classify<http::Response<B>> for HttpClassifier {
    fn classify_response(&self, res: &http::Response<B>) -> Outcome {
        self.classify_status(res.status())
    }
}

/// Classifies by `Result` alone: every response succeeds, errors are classified by
/// [`default_error_outcome`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ResultClassifier;

impl<Res> Classify<Res> for ResultClassifier {
    fn classify_response(&self, _res: &Res) -> Outcome {
        Outcome::Success
    }
}

/// A classifier from a closure over the response; errors use [`default_error_outcome`].
///
/// ```
/// use platform_core::classify::{Classify, ClassifyFn, Outcome};
///
/// let c = ClassifyFn::new(|code: &u32| if *code == 0 { Outcome::Success } else { Outcome::Failure });
/// assert_eq!(c.classify_response(&2), Outcome::Failure);
/// ```
#[derive(Clone, Copy)]
pub struct ClassifyFn<F> {
    f: F,
}

impl<F> ClassifyFn<F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> fmt::Debug for ClassifyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassifyFn").finish_non_exhaustive()
    }
}

impl<Res, F> Classify<Res> for ClassifyFn<F>
where
    F: Fn(&Res) -> Outcome + Send + Sync + 'static,
{
    fn classify_response(&self, res: &Res) -> Outcome {
        (self.f)(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{BoxError, CircuitOpen, Elapsed, Overloaded};
    use std::time::Duration;

    fn status(code: u16) -> http::Response<()> {
        http::Response::builder().status(code).body(()).expect("valid")
    }

    #[test]
    fn http_defaults() {
        let c = HttpClassifier::default();
        for (code, expected) in [
            (200, Outcome::Success),
            (301, Outcome::Success),
            (400, Outcome::Success),
            (404, Outcome::Success),
            (429, Outcome::Failure),
            (500, Outcome::Failure),
            (503, Outcome::Failure),
        ] {
            assert_eq!(c.classify_response(&status(code)), expected, "status {code}");
        }
    }

    #[test]
    fn http_options() {
        let c = HttpClassifier::new()
            .fail_on_429(false)
            .also_fail_on(http::StatusCode::REQUEST_TIMEOUT);
        assert_eq!(c.classify_response(&status(429)), Outcome::Success);
        assert_eq!(c.classify_response(&status(408)), Outcome::Failure);
        let c = HttpClassifier::new().fail_on_5xx(false);
        assert_eq!(c.classify_response(&status(502)), Outcome::Success);
    }

    #[test]
    fn errors_timeouts_fail_rejections_do_not() {
        let c = ResultClassifier;
        let r: Result<(), BoxError> = Err(Box::new(Elapsed::new(Duration::from_secs(1))));
        assert_eq!(c.classify(&r), Outcome::Failure);
        let r: Result<(), BoxError> = Err(Box::new(CircuitOpen::new(None)));
        assert_eq!(c.classify(&r), Outcome::Rejected);
        let r: Result<(), BoxError> = Err(Box::new(Overloaded::new("x")));
        assert_eq!(c.classify(&r), Outcome::Rejected);
        let r: Result<(), BoxError> = Err("connection reset".into());
        assert_eq!(c.classify(&r), Outcome::Failure);
        let r: Result<(), BoxError> = Ok(());
        assert_eq!(c.classify(&r), Outcome::Success);
    }

    #[test]
    fn arc_and_closure_classifiers() {
        let c: Arc<dyn Classify<u8>> =
            Arc::new(ClassifyFn::new(
                |v: &u8| if *v > 1 { Outcome::Failure } else { Outcome::Success },
            ));
        assert_eq!(c.classify_response(&2), Outcome::Failure);
        assert_eq!(c.classify_response(&1), Outcome::Success);
    }
}
