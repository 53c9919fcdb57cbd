//! The one way the crate's Redis backends open their shared connection.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A multiplexed, auto-reconnecting connection to `client` that connects on first use,
/// bounded by `timeout` for connecting and for each response, retrying a failed connect
/// once. Backends keep it in a `OnceCell` and clone it per command.
pub(crate) fn lazy_manager(
    client: &redis::Client,
    timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    ConnectionManager::new_lazy_with_config(client.clone(), cfg)
}
