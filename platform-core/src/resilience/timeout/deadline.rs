use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static CURRENT: Instant;
}

/// The instant by which the current call must finish, set by [`Timeout`](super::Timeout).
///
/// It is visible inside the inner service's `call` and while its response future is
/// polled. Nested timeouts keep the earliest deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline at `at`.
    pub fn at(at: Instant) -> Self {
        Self { at }
    }

    /// The deadline of the call being served, if a timeout layer set one.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|at| Self { at: *at }).ok()
    }

    /// The instant of the deadline.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// Time left until the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// `true` once the deadline has passed.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The earlier of `self` and the current deadline, if any.
    pub(crate) fn tightened(self) -> Self {
        match Self::current() {
            Some(outer) if outer.at < self.at => outer,
            _ => self,
        }
    }

    pub(crate) fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self.at, f)
    }

    pub(crate) fn scope<F: std::future::Future>(
        self,
        fut: F,
    ) -> tokio::task::futures::TaskLocalFuture<Instant, F> {
        CURRENT.scope(self.at, fut)
    }
}
