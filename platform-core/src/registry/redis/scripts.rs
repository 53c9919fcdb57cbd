//! Key layout and the Lua scripts that change it atomically.
//!
//! Per service `S` under prefix `P`:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P registry:S` | hash | instance id → instance JSON |
//! | `P registry:S:expiry` | sorted set | instance id, scored by expiry (ms, Redis clock) |
//! | `P registry:S:version` | string | the service's version, `INCR`ed per change |
//! | `P registry:S:log` | stream | one entry per change, id `<version>-0`, capped |
//! | `P registry:S:events` | pub/sub channel | the version after each script that changed something |
//!
//! Every script first removes instances whose expiry has passed (by Redis' clock, so host
//! clocks never matter), recording each as a change; so any read, write or renewal by any
//! process sweeps, and watchers' periodic reconciliation sweeps when nothing else runs.

use std::sync::LazyLock;

use redis::Script;

/// The keys and channel of one service.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    instances: String,
    expiry: String,
    version: String,
    log: String,
    pub(super) channel: String,
}

impl Keys {
    pub(super) fn new(prefix: &str, service: &str) -> Self {
        let base = format!("{prefix}registry:{service}");
        Self {
            expiry: format!("{base}:expiry"),
            version: format!("{base}:version"),
            log: format!("{base}:log"),
            channel: format!("{base}:events"),
            instances: base,
        }
    }

    /// The instances hash (for error messages).
    pub(super) fn instances(&self) -> &str {
        &self.instances
    }

    /// An invocation of `script` with this service's keys and the common arguments.
    pub(super) fn invoke<'a>(
        &'a self,
        script: &'a Script,
        log_len: u32,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.key(&self.instances);
        invocation
            .key(&self.expiry)
            .key(&self.version)
            .key(&self.log)
            .arg(log_len)
            .arg(&self.channel);
        invocation
    }
}

/// Shared prologue: clock, change recording, publish-on-change, expiry sweep.
/// KEYS: instances, expiry, version, log. ARGV[1] log length, ARGV[2] channel.
const PROLOGUE: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local changed = false
local function record(kind, id, body)
  local v = redis.call('INCR', KEYS[3])
  if body then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], v .. '-0', 'kind', kind, 'id', id, 'instance', body)
  else
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], v .. '-0', 'kind', kind, 'id', id)
  end
  changed = true
end
local function finish(result)
  if changed then redis.call('PUBLISH', ARGV[2], redis.call('GET', KEYS[3])) end
  return result
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], id)
  if redis.call('HDEL', KEYS[1], id) == 1 then record('removed', id, false) end
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PROLOGUE}{body}"))
}

/// ARGV[3] id, ARGV[4] JSON, ARGV[5] TTL ms, ARGV[6] `register` | `keepalive`.
/// Sets the expiry; writes (and records) the body unless unchanged or only renewing.
/// Returns 1 when a change was recorded, 0 otherwise.
pub(super) static PUT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local id, body = ARGV[3], ARGV[4]
local old = redis.call('HGET', KEYS[1], id)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), id)
if old and (ARGV[6] == 'keepalive' or old == body) then return finish(0) end
redis.call('HSET', KEYS[1], id, body)
if old then record('updated', id, body) else record('added', id, body) end
return finish(1)
",
    )
});

/// ARGV[3] id, ARGV[4] expected current JSON, ARGV[5] new JSON.
/// Returns -1 when absent, -2 when the current JSON differs (retry), 1 otherwise.
pub(super) static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local id = ARGV[3]
local old = redis.call('HGET', KEYS[1], id)
if not old then return finish(-1) end
if old ~= ARGV[4] then return finish(-2) end
if ARGV[5] ~= old then
  redis.call('HSET', KEYS[1], id, ARGV[5])
  record('updated', id, ARGV[5])
end
return finish(1)
",
    )
});

/// ARGV[3] id. Returns 1 when removed, 0 when absent.
pub(super) static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
redis.call('ZREM', KEYS[2], ARGV[3])
if redis.call('HDEL', KEYS[1], ARGV[3]) == 1 then
  record('removed', ARGV[3], false)
  return finish(1)
end
return finish(0)
",
    )
});

/// Returns {version, {id, json, id, json, ...}}.
pub(super) static LIST: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
return finish({tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('HGETALL', KEYS[1])})
",
    )
});

/// ARGV[3] the version the caller has. Returns {version, log entries after it}.
pub(super) static CHANGES: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local from = (tonumber(ARGV[3]) + 1) .. '-0'
return finish({tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('XRANGE', KEYS[4], from, '+')})
",
    )
});
