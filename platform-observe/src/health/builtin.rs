//! Built-in checks for the SDK's backends.

#[cfg(feature = "store")]
use platform_core::BoxError;

/// A check running `SELECT 1` on a [`Store`](platform_core::store::Store) (sqlx pool),
/// through [`Store::health`](platform_core::store::Store::health) (which gives up after
/// 2 s); the check's own timeout bounds it as well.
#[cfg(feature = "store")]
pub fn store_check(
    store: platform_core::store::Store,
) -> impl Fn() -> futures_util::future::BoxFuture<'static, Result<(), BoxError>> + Send + Sync + 'static
{
    move || {
        let store = store.clone();
        Box::pin(async move {
            let health = store.health().await;
            match health.error {
                None => Ok(()),
                Some(e) => Err(e.into()),
            }
        })
    }
}

/// A check sending `PING` over a Redis connection manager.
#[cfg(feature = "redis")]
pub fn redis_check(
    conn: redis::aio::ConnectionManager,
) -> impl Fn() -> futures_util::future::BoxFuture<'static, Result<(), platform_core::BoxError>>
+ Send
+ Sync
+ 'static {
    move || {
        let mut conn = conn.clone();
        Box::pin(async move {
            let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
            if pong == "PONG" { Ok(()) } else { Err(format!("PING answered `{pong}`").into()) }
        })
    }
}
