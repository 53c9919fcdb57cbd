use std::time::Duration;

/// Why a failed attempt is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// The attempt returned an error classified as a failure.
    Error,
    /// The attempt returned a response classified as a failure (e.g. a 503).
    FailedResponse,
}

/// Something the retry layers report to their listeners (and as `tracing` events, target
/// `platform::resilience::retry`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryEvent {
    /// A failed attempt will be retried after `delay`.
    Retrying {
        /// The attempt that failed (1 = the first call).
        attempt: u32,
        /// How long the layer waits before the next attempt.
        delay: Duration,
        /// What failed.
        reason: RetryReason,
    },
    /// Every allowed attempt failed; the last failure is returned.
    AttemptsExhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// The retry budget refused another attempt. An error is returned wrapped in
    /// [`BudgetExhausted`](crate::error::BudgetExhausted); a failed response as it is.
    BudgetExhausted {
        /// The attempt that failed.
        attempt: u32,
    },
    /// The next attempt could not start before the caller's deadline; the last failure
    /// is returned.
    GaveUpAtDeadline {
        /// The attempt that failed.
        attempt: u32,
        /// The backoff that would have been slept.
        delay: Duration,
        /// Time left until the deadline.
        remaining: Duration,
    },
    /// The response asked to wait longer (`Retry-After`) than `max_retry_after`.
    RetryAfterTooLong {
        /// What the response asked for.
        retry_after: Duration,
        /// The configured cap.
        max: Duration,
    },
    /// The request body was larger than the replay buffer, so it could not be sent again;
    /// the original failure is returned.
    BodyTooLarge {
        /// Bytes of body seen so far (at least this many).
        body_bytes: u64,
        /// The configured `max_replay_bytes`.
        max_replay_bytes: usize,
    },
    /// The request body could not be replayed: a previous attempt still holds its unread
    /// rest (the inner service kept it after answering), or reading it failed.
    BodyUnavailable,
    /// The HTTP method is not retried (not idempotent and not allowed by the predicate).
    MethodNotRetried {
        /// The request's method.
        method: http::Method,
    },
    /// The configuration was changed at runtime; the budget's counts were kept.
    Reconfigured {
        /// The new maximum number of attempts.
        max_attempts: u32,
    },
}

impl RetryEvent {
    /// Writes the event as a `tracing` event.
    pub(super) fn trace(&self) {
        const T: &str = "platform::resilience::retry";
        match self {
            Self::Retrying { attempt, delay, reason } => {
                tracing::debug!(target: T, attempt, delay_ms = delay.as_millis() as u64, ?reason, "retrying failed attempt");
            }
            Self::AttemptsExhausted { attempts } => {
                tracing::debug!(target: T, attempts, "not retried: every attempt failed");
            }
            Self::BudgetExhausted { attempt } => {
                tracing::info!(target: T, attempt, "not retried: retry budget exhausted");
            }
            Self::GaveUpAtDeadline { attempt, delay, remaining } => {
                tracing::debug!(target: T, attempt, delay_ms = delay.as_millis() as u64, remaining_ms = remaining.as_millis() as u64, "not retried: the next attempt would start after the deadline");
            }
            Self::RetryAfterTooLong { retry_after, max } => {
                tracing::debug!(target: T, retry_after_ms = retry_after.as_millis() as u64, max_ms = max.as_millis() as u64, "not retried: Retry-After longer than max_retry_after");
            }
            Self::BodyTooLarge { body_bytes, max_replay_bytes } => {
                tracing::info!(target: T, body_bytes, max_replay_bytes, "not retried: body of {body_bytes} bytes exceeded replay buffer of {max_replay_bytes} bytes");
            }
            Self::BodyUnavailable => {
                tracing::info!(target: T, "not retried: the rest of the request body is held by the previous attempt or failed");
            }
            Self::MethodNotRetried { method } => {
                tracing::debug!(target: T, %method, "not retried: method is not idempotent");
            }
            Self::Reconfigured { max_attempts } => {
                tracing::info!(target: T, max_attempts, "retry reconfigured");
            }
        }
    }
}
