//! [`RedisStreamsConfig`].

use std::time::Duration;

use crate::messaging::{MessagingError, Persistence};

/// Settings of a [`RedisStreams`](super::RedisStreams) backend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStreamsConfig {
    /// Server URL, e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// Prefix of every key (default `platform:msg:`): the stream of topic `t` is
    /// `<prefix>stream:t`.
    pub prefix: String,
    /// Approximate cap on each stream's length (`XADD … MAXLEN ~ n`, default 1 000 000);
    /// `None` never trims. Trimming drops the oldest entries **whether or not every group
    /// has acknowledged them**: size it far above the largest backlog a group may build.
    pub max_len: Option<usize>,
    /// Longest a subscription blocks in one `XREADGROUP` (default 1s). Stuck deliveries
    /// are reclaimed at least every `min(block, visibility_timeout / 4)`.
    pub block: Duration,
    /// Dead-letter a message by the backend once it has been delivered this many times
    /// without being settled (default `None`: only `dead_letter()` and
    /// [`DeadLetterLayer`](crate::messaging::DeadLetterLayer) dead-letter). Catches a
    /// message that crashes every consumer before it can settle.
    pub max_deliveries: Option<u32>,
    /// On subscribe, delete consumers of the group idle at least this long **and holding
    /// no pending entries** (default 1 hour; `None` disables).
    pub consumer_cleanup_idle: Option<Duration>,
    /// What the server's configuration guarantees (default
    /// [`Persistence::Process`]: Redis' default snapshots lose recent writes on a crash).
    /// Declare [`Persistence::Durable`] only for a server with `appendonly yes` and
    /// `appendfsync always` (or `everysec` if losing a second of writes is acceptable).
    pub persistence: Persistence,
    /// `CLIENT SETNAME` of every connection the backend opens (default
    /// `platform-messaging`), to find them in `CLIENT LIST`.
    pub client_name: String,
    /// Timeout of connecting and of every non-blocking command (default 5s).
    pub timeout: Duration,
}

impl RedisStreamsConfig {
    /// Defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "platform:msg:".to_owned(),
            max_len: Some(1_000_000),
            block: Duration::from_secs(1),
            max_deliveries: None,
            consumer_cleanup_idle: Some(Duration::from_secs(3600)),
            persistence: Persistence::Process,
            client_name: "platform-messaging".to_owned(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Sets the approximate stream length cap.
    pub fn max_len(mut self, max_len: Option<usize>) -> Self {
        self.max_len = max_len;
        self
    }
    /// Sets the longest `XREADGROUP` block.
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }
    /// Sets the backend-side delivery limit.
    pub fn max_deliveries(mut self, n: Option<u32>) -> Self {
        self.max_deliveries = n;
        self
    }
    /// Sets the idle time after which consumers without pending entries are deleted.
    pub fn consumer_cleanup_idle(mut self, idle: Option<Duration>) -> Self {
        self.consumer_cleanup_idle = idle;
        self
    }
    /// Declares the persistence the server's configuration provides.
    pub fn persistence(mut self, persistence: Persistence) -> Self {
        self.persistence = persistence;
        self
    }
    /// Sets the connection name.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }
    /// Sets the command timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(super) fn validate(&self) -> Result<(), MessagingError> {
        let bad = |field: &str, why: &str| {
            Err(MessagingError::Invalid(format!("redis streams config `{field}`: {why}")))
        };
        if self.block.is_zero() {
            return bad("block", "must be positive (0 would block forever)");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "must be positive");
        }
        if self.max_len == Some(0) {
            return bad("max_len", "must be positive or None");
        }
        if self.max_deliveries == Some(0) {
            return bad("max_deliveries", "must be positive or None");
        }
        if self.client_name.is_empty() || self.client_name.contains(char::is_whitespace) {
            return bad("client_name", "must be non-empty without spaces");
        }
        Ok(())
    }
}
