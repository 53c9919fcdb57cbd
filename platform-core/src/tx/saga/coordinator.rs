//! [`Coordinator`]: starts saga instances, drives them from the step log, answers queries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::definition::{Abort, Step, StepFn};
use super::log::{Claimed, SagaLog, Write};
use super::{Saga, SagaId, SagaState, SagaStatus, SagaSummary, StepContext, StepState, StepStatus};
use crate::store::Store;
use crate::tx::clock::ms_of;
use crate::tx::outbox::relay::error_chain;
use crate::tx::{Clock, TxError};

/// Settings of a [`Coordinator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoordinatorConfig {
    /// How long a claimed saga belongs to this coordinator without a log write (default
    /// 60s). Every log write renews it. A step's timeout must be at most 80% of it.
    pub lease: Duration,
    /// How often an idle [`run_until`](Coordinator::run_until) looks for due sagas
    /// (default 1s).
    pub poll_interval: Duration,
    /// When a compensation used up its attempts, how long until the saga is tried again
    /// (default 30s). Compensations are never given up.
    pub compensation_retry_delay: Duration,
    /// How many sagas [`run_until`](Coordinator::run_until) drives at once (default 8).
    pub concurrency: usize,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            compensation_retry_delay: Duration::from_secs(30),
            concurrency: 8,
        }
    }
}

impl CoordinatorConfig {
    /// Sets the lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
    /// Sets the compensation retry delay.
    pub fn compensation_retry_delay(mut self, delay: Duration) -> Self {
        self.compensation_retry_delay = delay;
        self
    }
    /// Sets the concurrency (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// Runs sagas from the persisted step log. Clones share definitions and settings.
///
/// Any number of coordinators (in one process or many) may share a store: each saga is
/// claimed with a lease, every log write is fenced by it, and a step attempt is cut off
/// by its timeout before the lease can expire, so no step runs twice at the same time.
/// A coordinator that crashes leaves its sagas to whoever claims them after the lease.
#[derive(Debug, Clone)]
pub struct Coordinator {
    log: SagaLog,
    config: CoordinatorConfig,
    sagas: Arc<HashMap<String, Saga>>,
    started: Arc<Notify>,
}

impl Coordinator {
    /// A coordinator on `store` with default settings; applies the saga log's
    /// migrations (module `tx.saga`).
    pub async fn new(store: Store) -> Result<Self, TxError> {
        Self::with_config(store, CoordinatorConfig::default()).await
    }

    /// A coordinator on `store` with `config`; applies the migrations.
    pub async fn with_config(store: Store, config: CoordinatorConfig) -> Result<Self, TxError> {
        if config.lease < Duration::from_millis(100) {
            return Err(TxError::Invalid("coordinator lease must be at least 100ms".into()));
        }
        store.migrate(&super::schema::MIGRATIONS).await?;
        Ok(Self {
            log: SagaLog { store, clock: Clock::system(), lease: config.lease },
            config,
            sagas: Arc::new(HashMap::new()),
            started: Arc::new(Notify::new()),
        })
    }

    /// Replaces the clock leases are measured with (tests: [`Clock::manual`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.log.clock = clock;
        self
    }

    /// Registers a definition; this coordinator runs only instances of registered names.
    /// Fails when a step's timeout exceeds 80% of the lease (the attempt could outlive
    /// the lease and run beside another coordinator's).
    pub fn register(mut self, saga: Saga) -> Result<Self, TxError> {
        let max = self.config.lease.mul_f64(0.8);
        if let Some(s) = saga.steps.iter().find(|s| s.timeout > max) {
            return Err(TxError::Invalid(format!(
                "saga `{}` step `{}`: timeout {:?} exceeds 80% of the coordinator lease ({max:?}); \
                 raise `CoordinatorConfig::lease` or lower the step timeout",
                saga.name, s.name, s.timeout
            )));
        }
        Arc::make_mut(&mut self.sagas).insert(saga.name.to_string(), saga);
        Ok(self)
    }

    /// Starts an instance of the registered saga `name` with `input`; it runs on the
    /// next [`drive_ready`](Self::drive_ready) / [`run_until`](Self::run_until) of any
    /// coordinator that knows `name`.
    pub async fn start(&self, name: &str, input: Value) -> Result<SagaId, TxError> {
        let id = SagaId::generate();
        self.start_with_id(id.clone(), name, input).await?;
        Ok(id)
    }

    /// Starts an instance with a chosen id; returns `false` (and changes nothing) when
    /// an instance with that id exists, so a retried request starts one saga.
    pub async fn start_with_id(
        &self,
        id: SagaId,
        name: &str,
        input: Value,
    ) -> Result<bool, TxError> {
        if !self.sagas.contains_key(name) {
            return Err(TxError::UnknownSaga(name.to_owned()));
        }
        let created = self.log.insert(&id, name, &input).await?;
        self.started.notify_waiters();
        Ok(created)
    }

    /// The instance `id` with its step log, or `None`.
    pub async fn saga(&self, id: &SagaId) -> Result<Option<SagaState>, TxError> {
        self.log.saga(id).await
    }

    /// Up to `limit` instances in `status`, oldest first.
    pub async fn list(&self, status: SagaStatus, limit: u32) -> Result<Vec<SagaSummary>, TxError> {
        self.log.list(status, limit).await
    }

    /// Claims and drives due sagas one after another until none is due; returns how many
    /// it drove. A saga another coordinator took over is skipped.
    pub async fn drive_ready(&self) -> Result<usize, TxError> {
        let mut driven = 0;
        while let Some((saga, claim)) = self.claim().await? {
            match self.drive(&saga, claim).await {
                Ok(_) => {}
                Err(TxError::LeaseLost { saga }) => {
                    tracing::warn!(target: "platform::tx::saga", %saga, "lease lost; another coordinator resumes it");
                }
                Err(e) => return Err(e),
            }
            driven += 1;
        }
        Ok(driven)
    }

    /// Drives due sagas, up to `concurrency` at once, until `shutdown` completes. Errors
    /// are logged (target `platform::tx::saga`) and retried. On shutdown the sagas in
    /// progress are dropped mid-step, as in a crash: any coordinator resumes them once
    /// their lease expires.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let mut running = JoinSet::new();
        loop {
            let started = self.started.clone();
            let woken = started.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            while running.len() < self.config.concurrency {
                match self.claim().await {
                    Ok(Some((saga, claim))) => {
                        let me = self.clone();
                        running.spawn(async move {
                            if let Err(e) = me.drive(&saga, claim).await {
                                tracing::warn!(target: "platform::tx::saga", error = %error_chain(&e), "saga run stopped");
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(target: "platform::tx::saga", error = %error_chain(&e), "claiming sagas failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = woken => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        running.abort_all();
    }

    async fn claim(&self) -> Result<Option<(Saga, Claimed)>, TxError> {
        for (name, saga) in self.sagas.iter() {
            if let Some(c) = self.log.claim(name).await? {
                return Ok(Some((saga.clone(), c)));
            }
        }
        Ok(None)
    }

    /// Runs a claimed saga forward, or backward once a step failed, until it is
    /// terminal or a compensation needs a later retry.
    async fn drive(&self, saga: &Saga, c: Claimed) -> Result<SagaStatus, TxError> {
        let log = self.log.steps(&c.id).await?;
        if c.status == SagaStatus::Running {
            let mut outputs = BTreeMap::new();
            let mut failed = None;
            for (idx, step) in saga.steps.iter().enumerate() {
                let idx = u32::try_from(idx).unwrap_or(u32::MAX);
                let row = log.iter().find(|r| r.index == idx);
                if let Some(StepState { status: StepStatus::Completed, output, .. }) = row {
                    outputs.insert(step.name.clone(), output.clone().unwrap_or(Value::Null));
                    continue;
                }
                match self.run_action(&c, step, idx, row, &outputs).await? {
                    Ok(out) => {
                        outputs.insert(step.name.clone(), out);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let Some(error) = failed else {
                self.log.fenced(&c, Write::Finish { status: SagaStatus::Completed }).await?;
                tracing::debug!(target: "platform::tx::saga", saga = %c.id, "completed");
                return Ok(SagaStatus::Completed);
            };
            let status = SagaStatus::Compensating;
            self.log.fenced(&c, Write::Status { status, error: Some(&error) }).await?;
            tracing::info!(target: "platform::tx::saga", saga = %c.id, %error, "step failed; compensating");
        }
        self.compensate(saga, &c).await
    }

    /// Attempts the action until it succeeds (`Ok(Ok(output))`) or fails for good
    /// (`Ok(Err(reason))`, already recorded as `failed`).
    async fn run_action(
        &self,
        c: &Claimed,
        step: &Step,
        idx: u32,
        row: Option<&StepState>,
        outputs: &BTreeMap<String, Value>,
    ) -> Result<Result<Value, String>, TxError> {
        let key = row.map_or_else(|| step.key_for(&c.id, &c.input), |r| r.idempotency_key.clone());
        let mut used = row.map_or(0, |r| r.attempts);
        let mut last = row.and_then(|r| r.error.clone());
        let mut delays = step.retry.delays();
        let mut attempt = 0;
        let reason = loop {
            if used >= step.retry.max_attempts {
                break format!(
                    "{} attempts used up; last error: {}",
                    step.retry.max_attempts,
                    last.as_deref()
                        .unwrap_or("none recorded (the coordinator stopped mid-attempt)")
                );
            }
            self.log.fenced(c, Write::StepStart { idx, name: &step.name, key: &key }).await?;
            used += 1;
            attempt += 1;
            let ctx = self.context(c, step, &key, outputs, None, attempt);
            match self.attempt(&step.action, step, ctx).await {
                Ok(output) => {
                    let stored = serde_json::to_string(&output)?;
                    let status = StepStatus::Completed;
                    let w = Write::StepSet { idx, status, output: Some(stored), error: None };
                    self.log.fenced(c, w).await?;
                    return Ok(Ok(output));
                }
                Err((e, abort)) => {
                    self.log.fenced(c, Write::StepError { idx, error: &e }).await?;
                    if abort {
                        break e;
                    }
                    last = Some(e);
                }
            }
            if used < step.retry.max_attempts {
                tokio::time::sleep(delays.next().unwrap_or_default()).await;
            }
        };
        let w =
            Write::StepSet { idx, status: StepStatus::Failed, output: None, error: Some(&reason) };
        self.log.fenced(c, w).await?;
        Ok(Err(format!("step `{}` failed: {reason}", step.name)))
    }

    /// Compensates completed steps in reverse order.
    async fn compensate(&self, saga: &Saga, c: &Claimed) -> Result<SagaStatus, TxError> {
        let log = self.log.steps(&c.id).await?;
        let outputs: BTreeMap<String, Value> = log
            .iter()
            .filter(|r| matches!(r.status, StepStatus::Completed | StepStatus::Compensating))
            .map(|r| (r.name.clone(), r.output.clone().unwrap_or(Value::Null)))
            .collect();
        for row in log.iter().rev() {
            if !matches!(row.status, StepStatus::Completed | StepStatus::Compensating) {
                continue;
            }
            let idx = row.index;
            let Some(step) = usize::try_from(idx).ok().and_then(|i| saga.steps.get(i)) else {
                return Err(TxError::Invalid(format!(
                    "saga {} has step {idx} in its log but definition `{}` has {} steps",
                    c.id,
                    saga.name,
                    saga.steps.len()
                )));
            };
            if let Some(comp) = &step.compensation {
                let key = format!("{}:compensate", row.idempotency_key);
                let mut delays = step.retry.delays();
                let mut attempt = 0;
                let done = loop {
                    self.log.fenced(c, Write::CompStart { idx }).await?;
                    attempt += 1;
                    let ctx = self.context(c, step, &key, &outputs, row.output.clone(), attempt);
                    match self.attempt(comp, step, ctx).await {
                        Ok(_) => break true,
                        Err((e, _)) => {
                            self.log.fenced(c, Write::StepError { idx, error: &e }).await?;
                            if attempt >= step.retry.max_attempts {
                                break false;
                            }
                        }
                    }
                    tokio::time::sleep(delays.next().unwrap_or_default()).await;
                };
                if !done {
                    let due = self
                        .log
                        .clock
                        .now_ms()
                        .saturating_add(ms_of(self.config.compensation_retry_delay));
                    tracing::warn!(target: "platform::tx::saga", saga = %c.id, step = %step.name, "compensation keeps failing; retrying later");
                    self.log.release(c, due).await?;
                    return Ok(SagaStatus::Compensating);
                }
            }
            let status = StepStatus::Compensated;
            let w = Write::StepSet {
                idx,
                status,
                output: row.output.as_ref().map(Value::to_string),
                error: None,
            };
            self.log.fenced(c, w).await?;
        }
        self.log.fenced(c, Write::Finish { status: SagaStatus::Compensated }).await?;
        tracing::info!(target: "platform::tx::saga", saga = %c.id, "compensated");
        Ok(SagaStatus::Compensated)
    }

    fn context(
        &self,
        c: &Claimed,
        step: &Step,
        key: &str,
        outputs: &BTreeMap<String, Value>,
        output: Option<Value>,
        attempt: u32,
    ) -> StepContext {
        StepContext {
            saga_id: c.id.clone(),
            step: step.name.clone(),
            input: c.input.clone(),
            outputs: outputs.clone(),
            output,
            idempotency_key: key.to_owned(),
            attempt,
        }
    }

    /// One attempt with the step's timeout: the output, or the error and whether it
    /// was an [`Abort`].
    async fn attempt(
        &self,
        f: &StepFn,
        step: &Step,
        ctx: StepContext,
    ) -> Result<Value, (String, bool)> {
        match tokio::time::timeout(step.timeout, f(ctx)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err((error_chain(&*e), Abort::is_in(&*e))),
            Err(_) => Err((format!("timed out after {:?}", step.timeout), false)),
        }
    }
}
