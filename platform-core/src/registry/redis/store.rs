//! Commands against Redis, the connection, and the last-known snapshots.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::RedisRegistryConfig;
use super::scripts::{self, Keys};
use crate::registry::{Health, RegistryError, ServiceInstance, Snapshot, WatchEvent};

const BACKEND: &str = "redis";

/// Retries of a health change that raced with another writer.
const REPLACE_ATTEMPTS: usize = 8;

/// One Redis, its connection and the last snapshot read per service.
pub(super) struct Store {
    config: RedisRegistryConfig,
    client: redis::Client,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    last_known: Mutex<HashMap<String, Snapshot>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.config.prefix)
            .field("connected", &self.conn.initialized())
            .finish_non_exhaustive()
    }
}

pub(super) fn unavailable(operation: &'static str, e: impl Into<crate::BoxError>) -> RegistryError {
    RegistryError::Unavailable { backend: BACKEND, operation, source: e.into() }
}

/// One change-log entry as Redis returns it: stream id and fields.
type LogEntry = (String, HashMap<String, String>);

/// Parsed reply of the `CHANGES` script.
pub(super) struct Changes {
    pub(super) version: u64,
    pub(super) events: Vec<WatchEvent>,
}

impl Store {
    pub(super) fn open(config: RedisRegistryConfig) -> Result<Self, RegistryError> {
        config.validate()?;
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| RegistryError::config("url", format!("{:?}: {e}", config.url)))?;
        Ok(Self {
            config,
            client,
            conn: tokio::sync::OnceCell::new(),
            last_known: Mutex::default(),
        })
    }

    pub(super) fn config(&self) -> &RedisRegistryConfig {
        &self.config
    }

    pub(super) fn client(&self) -> &redis::Client {
        &self.client
    }

    pub(super) fn keys(&self, service: &str) -> Keys {
        Keys::new(&self.config.prefix, service)
    }

    async fn conn(&self, operation: &'static str) -> Result<ConnectionManager, RegistryError> {
        let timeout = self.config.timeout;
        let conn = self
            .conn
            .get_or_try_init(|| async { crate::redis_conn::lazy_manager(&self.client, timeout) })
            .await
            .map_err(|e| unavailable(operation, e))?;
        Ok(conn.clone())
    }

    /// Runs one script for `service`, with `args` after the common ones.
    async fn run<T: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        script: &redis::Script,
        service: &str,
        args: &[&str],
    ) -> Result<T, RegistryError> {
        let mut conn = self.conn(operation).await?;
        let keys = self.keys(service);
        let mut invocation = keys.invoke(script, self.config.change_log_len);
        for arg in args {
            invocation.arg(*arg);
        }
        let call = invocation.invoke_async::<T>(&mut conn);
        match tokio::time::timeout(self.config.timeout, call).await {
            Ok(result) => result.map_err(|e| unavailable(operation, e)),
            Err(_) => {
                Err(unavailable(operation, format!("no answer within {:?}", self.config.timeout)))
            }
        }
    }

    /// Registers or renews; `renew_only` keeps the stored body when present.
    pub(super) async fn put(
        &self,
        instance: &ServiceInstance,
        ttl: Duration,
        renew_only: bool,
    ) -> Result<(), RegistryError> {
        let body = to_json(instance);
        let ttl_ms = ttl.as_millis().max(1).to_string();
        let mode = if renew_only { "keepalive" } else { "register" };
        let op = if renew_only { "renew a lease" } else { "register" };
        let args = [instance.id.as_str(), body.as_str(), ttl_ms.as_str(), mode];
        self.run::<i64>(op, &scripts::PUT, &instance.service, &args).await.map(drop)
    }

    pub(super) async fn remove(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        self.run::<i64>("deregister", &scripts::REMOVE, service, &[id]).await.map(|n| n == 1)
    }

    pub(super) async fn set_health(
        &self,
        service: &str,
        id: &str,
        health: Health,
    ) -> Result<(), RegistryError> {
        for _ in 0..REPLACE_ATTEMPTS {
            let snapshot = self.list(service).await?;
            let Some(current) = snapshot.get(id) else {
                return Err(RegistryError::not_found(service, id));
            };
            let expected = to_json(current);
            let updated = to_json(&current.clone().with_health(health));
            let args = [id, expected.as_str(), updated.as_str()];
            match self.run::<i64>("set health", &scripts::REPLACE, service, &args).await? {
                -1 => return Err(RegistryError::not_found(service, id)),
                -2 => continue,
                _ => return Ok(()),
            }
        }
        Err(unavailable("set health", "the instance kept changing under concurrent writers"))
    }

    /// A fresh snapshot from Redis; remembered as the service's last known state.
    pub(super) async fn list(&self, service: &str) -> Result<Snapshot, RegistryError> {
        let (version, flat): (u64, Vec<String>) =
            self.run("list instances", &scripts::LIST, service, &[]).await?;
        let keys = self.keys(service);
        let mut instances = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks_exact(2) {
            instances.push(from_json(keys.instances(), &pair[0], &pair[1])?);
        }
        let snapshot = Snapshot::new(version, instances);
        self.remember(service, &snapshot);
        Ok(snapshot)
    }

    fn remember(&self, service: &str, snapshot: &Snapshot) {
        let mut last = self.last_known.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(service.to_owned(), snapshot.clone());
    }

    /// [`list`](Self::list), or the last known snapshot marked stale when Redis fails.
    pub(super) async fn instances(&self, service: &str) -> Result<Snapshot, RegistryError> {
        match self.list(service).await {
            Ok(snapshot) => Ok(snapshot),
            Err(error @ RegistryError::Unavailable { .. }) => {
                let last = self.last_known.lock().unwrap_or_else(|p| p.into_inner());
                let Some(snapshot) = last.get(service) else { return Err(error) };
                tracing::warn!(
                    target: "platform::registry",
                    service, %error, version = snapshot.version,
                    "Redis unreachable; serving the last known instances"
                );
                Ok(Snapshot { stale: true, ..snapshot.clone() })
            }
            Err(other) => Err(other),
        }
    }

    /// The service's version and the logged changes after `after`.
    pub(super) async fn changes(
        &self,
        service: &str,
        after: u64,
    ) -> Result<Changes, RegistryError> {
        let after = after.to_string();
        let (version, entries): (u64, Vec<LogEntry>) =
            self.run("read the change log", &scripts::CHANGES, service, &[&after]).await?;
        let keys = self.keys(service);
        let mut events = Vec::with_capacity(entries.len());
        for (entry_id, fields) in entries {
            events.push(parse_change(&keys, &entry_id, fields)?);
        }
        Ok(Changes { version, events })
    }
}

fn to_json(instance: &ServiceInstance) -> String {
    // A struct of strings, integers and a string map always serialises.
    serde_json::to_string(instance).unwrap_or_default()
}

fn from_json(key: &str, id: &str, body: &str) -> Result<ServiceInstance, RegistryError> {
    serde_json::from_str(body).map_err(|e| RegistryError::Corrupt {
        backend: BACKEND,
        location: format!("{key} field {id:?}"),
        reason: e.to_string(),
    })
}

fn parse_change(
    keys: &Keys,
    entry_id: &str,
    mut fields: HashMap<String, String>,
) -> Result<WatchEvent, RegistryError> {
    let corrupt = |reason: &str| RegistryError::Corrupt {
        backend: BACKEND,
        location: format!("{}:log entry {entry_id}", keys.instances()),
        reason: reason.to_owned(),
    };
    let version = entry_id
        .split_once('-')
        .and_then(|(v, _)| v.parse().ok())
        .ok_or_else(|| corrupt("entry id is not <version>-0"))?;
    let id = fields.remove("id").ok_or_else(|| corrupt("no `id` field"))?;
    let instance = |fields: &mut HashMap<String, String>| {
        let body = fields.remove("instance").ok_or_else(|| corrupt("no `instance` field"))?;
        from_json(keys.instances(), &id, &body)
    };
    match fields.get("kind").map(String::as_str) {
        Some("added") => Ok(WatchEvent::Added { version, instance: instance(&mut fields)? }),
        Some("updated") => Ok(WatchEvent::Updated { version, instance: instance(&mut fields)? }),
        Some("removed") => Ok(WatchEvent::Removed { version, id }),
        _ => Err(corrupt("`kind` is not added, updated or removed")),
    }
}
