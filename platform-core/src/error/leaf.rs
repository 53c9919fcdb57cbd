use std::fmt;
use std::time::Duration;

/// A circuit breaker refused the call: it is open, or half-open with every probe permit taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitOpen {
    retry_after: Option<Duration>,
    name: Option<&'static str>,
}

impl CircuitOpen {
    /// A rejection that suggests retrying after `retry_after` (the rest of the open period).
    pub fn new(retry_after: Option<Duration>) -> Self {
        Self { retry_after, name: None }
    }

    /// Names the breaker that rejected the call (shown in the message).
    pub fn with_name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// The rest of the open period, when the breaker knows it.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The breaker's name, when it has one.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(n) => write!(f, "circuit breaker `{n}` is open")?,
            None => f.write_str("circuit breaker is open")?,
        }
        if let Some(d) = self.retry_after {
            write!(f, "; retry after {}ms", d.as_millis())?;
        }
        Ok(())
    }
}

impl std::error::Error for CircuitOpen {}

/// A rate limit refused the call; retry after [`RateLimited::retry_after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    retry_after: Duration,
}

impl RateLimited {
    /// A rejection that can succeed once `retry_after` has passed.
    pub fn new(retry_after: Duration) -> Self {
        Self { retry_after }
    }

    /// The earliest time from now at which the same call could be admitted.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limit exceeded; retry after {}ms", self.retry_after.as_millis())
    }
}

impl std::error::Error for RateLimited {}

/// A concurrency limit, bulkhead or load shedder refused the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overloaded {
    reason: &'static str,
}

impl Overloaded {
    /// A rejection with a short static reason (e.g. `"bulkhead full"`, `"shed: cpu pressure"`).
    pub fn new(reason: &'static str) -> Self {
        Self { reason }
    }

    /// Why the call was refused.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for Overloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service overloaded: {}", self.reason)
    }
}

impl std::error::Error for Overloaded {}

/// A timeout or deadline expired before the inner service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed {
    after: Duration,
}

impl Elapsed {
    /// The call was abandoned after `after`.
    pub fn new(after: Duration) -> Self {
        Self { after }
    }

    /// How long the call ran before it was abandoned.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request timed out after {}ms", self.after.as_millis())
    }
}

impl std::error::Error for Elapsed {}

/// A retry budget refused another attempt; the last attempt's error is the `source()`.
#[derive(Debug)]
pub struct BudgetExhausted {
    last: Option<super::BoxError>,
}

impl BudgetExhausted {
    /// A budget rejection carrying the error of the last attempt, if there was one.
    pub fn new(last: Option<super::BoxError>) -> Self {
        Self { last }
    }

    /// The error of the last attempt before the budget refused a retry.
    pub fn last_error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.last.as_deref()
    }
}

impl fmt::Display for BudgetExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("retry budget exhausted")?;
        if let Some(e) = &self.last {
            write!(f, "; last attempt failed: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BudgetExhausted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}
