//! Brute-force protection: [`LockoutPolicy`] and [`Backoff`].
//!
//! Failed logins are counted per username (whether or not the user exists, so a lockout
//! says nothing about existence) and per source address. Once a counter passes its free
//! attempts, every further failure locks that key for an exponentially growing time
//! (`base × 2^(failures − free_attempts)`, capped at `max_delay`); attempts during a lock
//! are refused without checking the password and are not counted. A successful login
//! clears the username's counter (not the address's: a valid account of the attacker's
//! must not reset their budget). Counters are forgotten `reset_after` after the last
//! failure. Counters live in the [`IdentityStore`](super::IdentityStore), so every
//! instance on one database shares them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Exponential backoff after repeated failures of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Backoff {
    /// Failures allowed before the first lock.
    pub free_attempts: u32,
    /// The first lock's length.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The longest lock.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Failures are forgotten this long after the last one.
    #[serde(with = "humantime_serde")]
    pub reset_after: Duration,
}

impl Backoff {
    /// A backoff; see the fields.
    pub fn new(
        free_attempts: u32,
        base_delay: Duration,
        max_delay: Duration,
        reset_after: Duration,
    ) -> Self {
        Self { free_attempts, base_delay, max_delay, reset_after }
    }

    /// The lock after `failures` consecutive failures (zero while within the free
    /// attempts).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 || failures < self.free_attempts {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_attempts).min(31);
        self.base_delay.saturating_mul(1u32 << doublings).min(self.max_delay)
    }

    /// How long `record` still locks its key at `now` (`None` when not locked).
    pub fn locked_for(&self, record: &Failures, now: u64) -> Option<Duration> {
        if now.saturating_sub(record.last_at) >= self.reset_after.as_secs() {
            return None;
        }
        let until = record.last_at.saturating_add(self.delay(record.count).as_secs());
        (now < until).then(|| Duration::from_secs(until - now))
    }

    fn validate(&self, field: &'static str) -> Result<(), ConfigError> {
        if self.base_delay.is_zero() || self.base_delay > self.max_delay {
            return Err(ConfigError::new(field, "base_delay must be > 0 and ≤ max_delay"));
        }
        if self.reset_after < self.max_delay {
            return Err(ConfigError::new(
                field,
                "reset_after must be ≥ max_delay (or counters vanish during a lock)",
            ));
        }
        Ok(())
    }
}

/// The failed-login counter of one key, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failures {
    /// Consecutive failures (since the last reset).
    pub count: u32,
    /// The last failure (Unix seconds).
    pub last_at: u64,
}

impl Failures {
    /// A counter.
    pub fn new(count: u32, last_at: u64) -> Self {
        Self { count, last_at }
    }
}

/// The brute-force policy of [`Identity`](super::Identity).
///
/// Defaults: per username, 5 free failures, then locks of 30 s doubling up to 15 min,
/// forgotten after 24 h — at most about 100 guesses a day against one account (NIST SP
/// 800-63B §5.2.2 asks for no more than 100 consecutive failures). Per source address, 20
/// free failures, then 1 s doubling up to 15 min, forgotten after 1 h — slows password
/// spraying across many usernames from one address.
///
/// Trade-off: anyone can lock a known username out for up to `max_delay` at a time by
/// failing on purpose; the cap keeps that a delay rather than a denial of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LockoutPolicy {
    /// Per username.
    pub account: Backoff,
    /// Per source address; `None` turns address counting off.
    pub address: Option<Backoff>,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        Self {
            account: Backoff::new(5, Duration::from_secs(30), min(15), min(24 * 60)),
            address: Some(Backoff::new(20, Duration::from_secs(1), min(15), min(60))),
        }
    }
}

impl LockoutPolicy {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.account.validate("lockout.account")?;
        if let Some(a) = &self.address {
            a.validate("lockout.address")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_free_attempts_up_to_the_cap() {
        let b = LockoutPolicy::default().account;
        let secs: Vec<u64> = (0..12).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(b.delay(u32::MAX), b.max_delay, "no overflow");
    }

    #[test]
    fn locks_end_after_the_delay_and_counters_after_reset_after() {
        let b = Backoff::new(
            2,
            Duration::from_secs(10),
            Duration::from_secs(100),
            Duration::from_secs(1000),
        );
        let f = Failures::new(2, 1_000);
        assert_eq!(b.locked_for(&f, 1_000), Some(Duration::from_secs(10)));
        assert_eq!(b.locked_for(&f, 1_009), Some(Duration::from_secs(1)));
        assert_eq!(b.locked_for(&f, 1_010), None);
        assert_eq!(b.locked_for(&Failures::new(1, 1_000), 1_000), None, "a free attempt");
        assert_eq!(b.locked_for(&Failures::new(9, 1_000), 2_000), None, "forgotten");
    }

    #[test]
    fn invalid_policies_are_refused() {
        let mut p = LockoutPolicy::default();
        p.account.reset_after = Duration::from_secs(1);
        assert_eq!(p.validate().expect_err("short reset").field, "lockout.account");
        let mut p = LockoutPolicy::default();
        if let Some(a) = &mut p.address {
            a.base_delay = Duration::ZERO;
        }
        assert_eq!(p.validate().expect_err("zero base").field, "lockout.address");
    }
}
