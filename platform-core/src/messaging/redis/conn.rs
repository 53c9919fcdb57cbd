//! One named multiplexed connection that reconnects after it breaks.

use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::messaging::MessagingError;

pub(super) const BACKEND: &str = "redis-streams";

pub(super) fn failed(e: impl Into<crate::BoxError>) -> MessagingError {
    MessagingError::backend(BACKEND, e)
}

/// A connection made on first use and again after an I/O failure; every new connection
/// runs `CLIENT SETNAME`.
pub(super) struct Conn {
    client: redis::Client,
    config: AsyncConnectionConfig,
    name: String,
    /// The live connection; read on every command (a brief std lock, no await inside).
    live: std::sync::RwLock<Option<MultiplexedConnection>>,
    /// Held while connecting, so concurrent callers make one connection.
    connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Conn {
    /// `response_timeout` bounds every command on this connection (blocking reads need
    /// it above their block time).
    pub(super) fn new(
        client: redis::Client,
        name: &str,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Self {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(response_timeout));
        Self {
            client,
            config,
            name: name.to_owned(),
            live: std::sync::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, conn: Option<MultiplexedConnection>) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = conn;
    }

    /// The live connection, connecting first when needed.
    pub(super) async fn get(&self) -> Result<MultiplexedConnection, MessagingError> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(failed)?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.name)
            .query_async::<()>(&mut conn)
            .await
            .map_err(failed)?;
        self.set(Some(conn.clone()));
        Ok(conn)
    }

    /// Drops the connection if `e` says it is broken, so the next `get` reconnects.
    pub(super) fn check<T>(&self, res: redis::RedisResult<T>) -> Result<T, MessagingError> {
        match res {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
                {
                    self.set(None);
                }
                Err(failed(e))
            }
        }
    }
}
