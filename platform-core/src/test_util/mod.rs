//! Helpers for tests that talk to real services, and [`LogCapture`] for tests that
//! assert on log output.
//!
//! Service-backed tests read their URL from the environment:
//!
//! | service | variable |
//! |---|---|
//! | PostgreSQL | `PLATFORM_TEST_POSTGRES_URL` |
//! | Redis | `PLATFORM_TEST_REDIS_URL` |
//! | RabbitMQ | `PLATFORM_TEST_AMQP_URL` |
//! | NATS | `PLATFORM_TEST_NATS_URL` |
//!
//! When the variable is unset the helpers print a skip notice and return `None`, so
//! `cargo test` passes on a laptop with nothing installed. With
//! `PLATFORM_REQUIRE_SERVICES=1` (CI sets it) an unset variable panics instead. A URL that
//! is set but does not accept connections always panics: a configured service that is
//! down is a broken environment, not a reason to skip.
//!
//! Tests never share state: [`RedisPrefix`] gives each test its own key prefix,
//! [`PgSchema`] its own PostgreSQL schema and [`unique_name`] its own topic or queue names.
//!
//! ```no_run
//! # // no_run: needs a Redis server
//! # async fn example() {
//! use platform_core::test_util::{Service, RedisPrefix};
//!
//! let Some(url) = Service::Redis.url_or_skip("my_test").await else { return };
//! let prefix = RedisPrefix::new("my_test");
//! let key = prefix.key("counter"); // "t:my_test:<unique>:counter"
//! # let _ = (url, key);
//! # }
//! ```

mod log_capture;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use log_capture::LogCapture;

/// An external service a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// PostgreSQL (`PLATFORM_TEST_POSTGRES_URL`).
    Postgres,
    /// Redis (`PLATFORM_TEST_REDIS_URL`).
    Redis,
    /// RabbitMQ over AMQP (`PLATFORM_TEST_AMQP_URL`).
    Amqp,
    /// NATS (`PLATFORM_TEST_NATS_URL`).
    Nats,
}

/// The variable that makes missing services a failure instead of a skip.
pub const REQUIRE_SERVICES_ENV: &str = "PLATFORM_REQUIRE_SERVICES";

impl Service {
    /// The environment variable holding this service's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::Postgres => "PLATFORM_TEST_POSTGRES_URL",
            Self::Redis => "PLATFORM_TEST_REDIS_URL",
            Self::Amqp => "PLATFORM_TEST_AMQP_URL",
            Self::Nats => "PLATFORM_TEST_NATS_URL",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            Self::Redis => 6379,
            Self::Amqp => 5672,
            Self::Nats => 4222,
        }
    }

    /// The URL for `test`, or `None` after printing a skip notice.
    ///
    /// # Panics
    /// When the service is required (`PLATFORM_REQUIRE_SERVICES=1`) and its variable is
    /// unset, or when the URL is set but nothing accepts TCP connections at its address.
    pub async fn url_or_skip(self, test: &str) -> Option<String> {
        let required = services_required();
        let url = match std::env::var(self.env_var()) {
            Ok(url) if !url.trim().is_empty() => url,
            _ if required => panic!(
                "{test}: {var} is not set but {REQUIRE_SERVICES_ENV}=1 requires {self:?}; \
                 run scripts/services.sh and export the URLs it prints",
                var = self.env_var()
            ),
            _ => {
                eprintln!(
                    "SKIPPED {test}: set {} to run it against a real {self:?}",
                    self.env_var()
                );
                return None;
            }
        };
        let addr = host_port(&url, self.default_port());
        let connect = tokio::net::TcpStream::connect(addr.as_str());
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(_)) => Some(url),
            Ok(Err(e)) => {
                panic!("{test}: {self:?} at {addr} (from {}) is unreachable: {e}", self.env_var())
            }
            Err(_) => panic!(
                "{test}: {self:?} at {addr} (from {}) did not answer within 3s",
                self.env_var()
            ),
        }
    }
}

/// `true` when `PLATFORM_REQUIRE_SERVICES` is `1` or `true`.
pub fn services_required() -> bool {
    matches!(std::env::var(REQUIRE_SERVICES_ENV).as_deref(), Ok("1") | Ok("true"))
}

/// Extracts `host:port` from a service URL such as `redis://user:pw@127.0.0.1:6379/0`.
fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = match host.rfind(']') {
        Some(end) => host[end..].contains(':'),
        None => host.contains(':'),
    };
    if has_port { host.to_owned() } else { format!("{host}:{default_port}") }
}

/// `name` made unique to this run and call: `<name>-<pid>_<n>_<nonce>`, for topics,
/// queues and connections on a shared broker.
pub fn unique_name(name: &str) -> String {
    format!("{name}-{}", unique_suffix())
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{}_{n}_{nanos:x}", std::process::id())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .take(24)
        .collect()
}

/// A Redis key prefix unique to one test run: `t:<test>:<pid>_<n>_<nonce>:`.
#[derive(Debug, Clone)]
pub struct RedisPrefix {
    prefix: String,
}

impl RedisPrefix {
    /// A fresh prefix for `test`.
    pub fn new(test: &str) -> Self {
        Self { prefix: format!("t:{}:{}:", sanitize(test), unique_suffix()) }
    }

    /// The prefix itself (ends with `:`).
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// `prefix + name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Deletes every key under the prefix (`SCAN` + `UNLINK`).
    pub async fn cleanup(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(conn)
                .await?;
            if !keys.is_empty() {
                redis::cmd("UNLINK").arg(&keys).query_async::<()>(conn).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// A PostgreSQL schema created for one test; its pool has `search_path` set to it.
#[derive(Debug)]
pub struct PgSchema {
    name: String,
    pool: sqlx::PgPool,
    /// The server's options with `search_path` set to the schema.
    options: sqlx::postgres::PgConnectOptions,
}

impl PgSchema {
    /// Creates a fresh schema for `test` on the server at `url`.
    pub async fn create(url: &str, test: &str) -> Result<Self, sqlx::Error> {
        use std::str::FromStr;
        let name = format!("t_{}_{}", sanitize(test), unique_suffix());
        let admin = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
        // The name is built from [a-z0-9_] only, so quoting it is enough.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .execute(&admin)
            .await?;
        admin.close().await;
        let options = sqlx::postgres::PgConnectOptions::from_str(url)?
            .options([("search_path", name.as_str())]);
        let pool = connect_pool(options.clone()).await?;
        Ok(Self { name, pool, options })
    }

    /// Another pool whose connections use this schema: what a second instance, or the
    /// same one restarted, opens.
    pub async fn open_pool(&self) -> Result<sqlx::PgPool, sqlx::Error> {
        connect_pool(self.options.clone()).await
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool whose connections use this schema.
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Drops the schema and everything in it, and closes the pool.
    pub async fn cleanup(self) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{}\" CASCADE", self.name)))
            .execute(&self.pool)
            .await?;
        self.pool.close().await;
        Ok(())
    }
}

async fn connect_pool(
    options: sqlx::postgres::PgConnectOptions,
) -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new().max_connections(4).connect_with(options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_parsing() {
        assert_eq!(host_port("redis://127.0.0.1:6379/0", 1), "127.0.0.1:6379");
        assert_eq!(host_port("postgres://postgres@localhost/test", 5432), "localhost:5432");
        assert_eq!(host_port("amqp://guest:guest@127.0.0.1:5672/%2f", 1), "127.0.0.1:5672");
        assert_eq!(host_port("redis://[::1]:7000", 1), "[::1]:7000");
        assert_eq!(host_port("redis://[::1]", 6379), "[::1]:6379");
    }

    #[test]
    fn prefixes_are_unique_and_sanitized() {
        let a = RedisPrefix::new("my test/One");
        let b = RedisPrefix::new("my test/One");
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.as_str().starts_with("t:my_test_one:"), "{}", a.as_str());
        assert!(a.key("k").ends_with(":k"));
        let (x, y) = (unique_name("topic"), unique_name("topic"));
        assert_ne!(x, y);
        assert!(x.starts_with("topic-"), "{x}");
    }

    #[tokio::test]
    async fn redis_prefix_cleanup_removes_only_its_keys() {
        let Some(url) = Service::Redis.url_or_skip("redis_prefix_cleanup").await else { return };
        let client = redis::Client::open(url).expect("url");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
        let mine = RedisPrefix::new("cleanup_mine");
        let other = RedisPrefix::new("cleanup_other");
        for p in [&mine, &other] {
            redis::cmd("SET")
                .arg(p.key("a"))
                .arg(1)
                .query_async::<()>(&mut conn)
                .await
                .expect("set");
        }
        mine.cleanup(&mut conn).await.expect("cleanup");
        let exists: (bool, bool) = redis::pipe()
            .cmd("EXISTS")
            .arg(mine.key("a"))
            .cmd("EXISTS")
            .arg(other.key("a"))
            .query_async(&mut conn)
            .await
            .expect("exists");
        assert_eq!(exists, (false, true));
        other.cleanup(&mut conn).await.expect("cleanup");
    }

    #[tokio::test]
    async fn pg_schema_is_isolated() {
        let Some(url) = Service::Postgres.url_or_skip("pg_schema_is_isolated").await else {
            return;
        };
        let a = PgSchema::create(&url, "iso_a").await.expect("schema a");
        let b = PgSchema::create(&url, "iso_b").await.expect("schema b");
        sqlx::query("CREATE TABLE t (v INT)").execute(a.pool()).await.expect("create in a");
        // The same table name in b does not collide.
        sqlx::query("CREATE TABLE t (v INT)").execute(b.pool()).await.expect("create in b");
        sqlx::query("INSERT INTO t VALUES (1)").execute(a.pool()).await.expect("insert");
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(b.pool()).await.expect("count");
        assert_eq!(n, 0);
        // A second pool on a sees a's table and row.
        let again = a.open_pool().await.expect("second pool on a");
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&again).await.expect("count");
        assert_eq!(n, 1);
        again.close().await;
        a.cleanup().await.expect("drop a");
        b.cleanup().await.expect("drop b");
    }
}
