//! Saga definitions: [`Saga`], [`SagaBuilder`], [`Step`], [`RetryPolicy`], [`StepContext`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::SagaId;
use crate::BoxError;
use crate::resilience::retry::BackoffConfig;
use crate::tx::TxError;

/// What a step's action or compensation receives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepContext {
    /// The saga instance.
    pub saga_id: SagaId,
    /// The step's name.
    pub step: String,
    /// The saga's input, as given to [`Coordinator::start`](super::Coordinator::start).
    pub input: Value,
    /// Outputs of the steps completed before this one, by step name.
    pub outputs: BTreeMap<String, Value>,
    /// In a compensation: this step's own output. `None` in an action.
    pub output: Option<Value>,
    /// The step's idempotency key, fixed when the step first started and the same for
    /// every retry and every coordinator that resumes it. Pass it to the service the
    /// step calls so a repeated call has no second effect. A compensation gets the
    /// same key with `:compensate` appended.
    pub idempotency_key: String,
    /// Which attempt this is in the current coordinator's run (1-based).
    pub attempt: u32,
}

/// An error that must not be retried: the step fails (and the saga compensates) at once.
#[derive(Debug)]
pub struct Abort(pub String);

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step aborted: {}", self.0)
    }
}

impl std::error::Error for Abort {}

impl Abort {
    /// `true` when `err` or one of its sources is an [`Abort`].
    pub fn is_in(err: &(dyn std::error::Error + 'static)) -> bool {
        let mut cur = Some(err);
        while let Some(e) = cur {
            if e.is::<Abort>() {
                return true;
            }
            cur = e.source();
        }
        false
    }
}

/// How often a step's action (or compensation) is tried, and how long to wait between
/// tries: the jittered exponential backoff of the retry layer (`backon`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most attempts of the action, counted across coordinators and crashes (a crash
    /// during an attempt uses it up). Default 3; 1 disables retries. Compensations get
    /// this many attempts per coordinator run and are retried later, never given up.
    pub max_attempts: u32,
    /// Delays between attempts (default: 25ms doubling to 1s, jittered).
    pub backoff: BackoffConfig,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, backoff: BackoffConfig::default() }
    }
}

impl RetryPolicy {
    /// `max_attempts` with the default backoff.
    pub fn attempts(max_attempts: u32) -> Self {
        Self { max_attempts, ..Self::default() }
    }

    /// Sets the backoff.
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    pub(super) fn delays(&self) -> ExponentialBackoff {
        let b = &self.backoff;
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(b.min_delay)
            .with_max_delay(b.max_delay)
            .with_factor(b.factor)
            .without_max_times();
        if b.jitter {
            builder = builder.with_jitter();
        }
        builder.build()
    }
}

pub(super) type StepFn =
    Arc<dyn Fn(StepContext) -> BoxFuture<'static, Result<Value, BoxError>> + Send + Sync>;
type KeyFn = Arc<dyn Fn(&SagaId, &Value) -> String + Send + Sync>;

/// One step of a [`Saga`]: an action, an optional compensation that undoes it, a retry
/// policy, a timeout per attempt and an idempotency key.
#[derive(Clone)]
pub struct Step {
    pub(super) name: String,
    pub(super) action: StepFn,
    pub(super) compensation: Option<StepFn>,
    pub(super) retry: RetryPolicy,
    pub(super) timeout: Duration,
    key: Option<KeyFn>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("compensated", &self.compensation.is_some())
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn boxed<F, Fut>(f: F) -> StepFn
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, BoxError>> + Send + 'static,
{
    Arc::new(move |ctx| Box::pin(f(ctx)))
}

impl Step {
    /// A step named `name` (unique within its saga) running `action`; its JSON output
    /// is stored and handed to later steps. Defaults: no compensation,
    /// [`RetryPolicy::default`], a 30s timeout per attempt, idempotency key
    /// `<saga id>:<step name>`.
    pub fn new<F, Fut>(name: impl Into<String>, action: F) -> Self
    where
        F: Fn(StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, BoxError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            action: boxed(action),
            compensation: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            key: None,
        }
    }

    /// Undoes the action once it completed, when a later step fails. Its output is
    /// ignored.
    pub fn compensate<F, Fut>(mut self, compensation: F) -> Self
    where
        F: Fn(StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, BoxError>> + Send + 'static,
    {
        self.compensation = Some(boxed(compensation));
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the timeout of one attempt (of the action or the compensation).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Computes the idempotency key from the saga id and input instead of the default
    /// `<saga id>:<step name>`. It is computed once, when the step first starts, and
    /// stored.
    pub fn idempotency_key<F>(mut self, key: F) -> Self
    where
        F: Fn(&SagaId, &Value) -> String + Send + Sync + 'static,
    {
        self.key = Some(Arc::new(key));
        self
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn key_for(&self, saga: &SagaId, input: &Value) -> String {
        match &self.key {
            Some(f) => f(saga, input),
            None => format!("{saga}:{}", self.name),
        }
    }
}

/// A saga definition: a name and ordered steps. Build it with [`Saga::builder`] and
/// register it with a [`Coordinator`](super::Coordinator). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Saga {
    pub(super) name: Arc<str>,
    pub(super) steps: Arc<[Step]>,
}

/// Builds a [`Saga`].
#[derive(Debug)]
pub struct SagaBuilder {
    name: String,
    steps: Vec<Step>,
}

impl Saga {
    /// Starts a definition named `name` (stored with every instance; a coordinator only
    /// runs instances of the names registered with it).
    pub fn builder(name: impl Into<String>) -> SagaBuilder {
        SagaBuilder { name: name.into(), steps: Vec::new() }
    }

    /// The saga's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

impl SagaBuilder {
    /// Appends a step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Checks the definition: a name, at least one step, unique step names, attempts of
    /// at least 1, non-zero timeouts and a valid backoff.
    pub fn build(self) -> Result<Saga, TxError> {
        let bad = |what: String| Err(TxError::Invalid(format!("saga `{}`: {what}", self.name)));
        if self.name.is_empty() || self.name.len() > 200 {
            return bad("the name must be 1 to 200 characters".into());
        }
        if self.steps.is_empty() {
            return bad("has no steps; add one with `.step(..)`".into());
        }
        let mut names = HashSet::new();
        for s in &self.steps {
            if !names.insert(s.name.as_str()) {
                return bad(format!("step name `{}` is used twice", s.name));
            }
            if s.retry.max_attempts == 0 {
                return bad(format!("step `{}`: retry.max_attempts must be at least 1", s.name));
            }
            if s.timeout.is_zero() {
                return bad(format!("step `{}`: the timeout must be greater than zero", s.name));
            }
            let b = &s.retry.backoff;
            if b.max_delay < b.min_delay || !(b.factor.is_finite() && b.factor >= 1.0) {
                return bad(format!(
                    "step `{}`: retry.backoff needs max_delay >= min_delay and factor >= 1.0",
                    s.name
                ));
            }
        }
        Ok(Saga { name: self.name.into(), steps: self.steps.into() })
    }
}
