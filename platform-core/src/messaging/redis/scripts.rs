//! Lua scripts: each runs atomically on the server.

use std::sync::LazyLock;

/// Creates the group: at the start of the stream when the topic has no group yet (so
/// messages published before anyone subscribed are kept for the first group), else at
/// the end. An existing group (`BUSYGROUP`) is fine.
///
/// KEYS: stream. ARGV: group. Returns 1 when created, 0 when it existed.
pub(super) static SUBSCRIBE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local start = '$'
if redis.call('EXISTS', KEYS[1]) == 0 or #redis.call('XINFO', 'GROUPS', KEYS[1]) == 0 then
  start = '0'
end
local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], start, 'MKSTREAM')
if type(r) == 'table' and r.err then
  if string.sub(r.err, 1, 9) == 'BUSYGROUP' then return 0 end
  return r
end
return 1
",
    )
});

/// Claims stuck entries with `XAUTOCLAIM` from a cursor and reads each one's delivery
/// count (already incremented by the claim).
///
/// KEYS: stream. ARGV: group, consumer, min-idle ms, cursor, count.
/// Returns `{next cursor, {{id, fields, deliveries}...}, {deleted ids...}}`.
pub(super) static CLAIM: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local claimed = {}
for _, e in ipairs(r[2]) do
  if e[2] then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    local n = 0
    if p[1] then n = p[1][4] end
    table.insert(claimed, {e[1], e[2], n})
  end
end
return {r[1], claimed, r[3] or {}}
",
    )
});

/// Settles one delivery if this consumer still holds it at the delivery count it was
/// handed out with (the lease fence), else changes nothing.
///
/// KEYS: stream, dead-letter stream. ARGV: group, consumer, entry id, deliveries,
/// op (`nack` | `dead`; acks go through [`ACK`]), nack idle ms, dead-letter MAXLEN (`''` = none),
/// dead-letter fields…  Returns 1 when settled, 0 when the lease was lost.
pub(super) static SETTLE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] or tostring(p[1][4]) ~= ARGV[4] then return 0 end
if ARGV[5] == 'nack' then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[6], 'JUSTID')
else
  local args = {'XADD', KEYS[2]}
  if ARGV[7] ~= '' then
    table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, ARGV[7])
  end
  table.insert(args, '*')
  for i = 8, #ARGV do table.insert(args, ARGV[i]) end
  redis.call(unpack(args))
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
end
return 1
",
    )
});

/// Acks several entries of one group, each fenced like [`SETTLE`].
///
/// KEYS: stream. ARGV: group, then (consumer, entry id, deliveries) per entry.
/// Returns 1 (acked) or 0 (lease lost) per entry, in order.
pub(super) static ACK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local out = {}
for i = 2, #ARGV, 3 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i + 1], ARGV[i + 1], 1)
  if #p == 0 or p[1][2] ~= ARGV[i] or tostring(p[1][4]) ~= ARGV[i + 2] then
    table.insert(out, 0)
  else
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[i + 1])
    table.insert(out, 1)
  end
end
return out
",
    )
});

/// Source of the delayed-publish script, sent with `EVAL` inside publish pipelines:
/// stores the entry's fields in a hash and schedules it at server time + delay.
///
/// KEYS: delayed set, entry hash. ARGV: delay ms, member, fields…
pub(super) const DELAY: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {}
for i = 3, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
return 1
";

/// Moves delayed entries whose time has come (server time) into the stream.
///
/// KEYS: delayed set, stream. ARGV: entry-hash key prefix, MAXLEN (`''` = none), limit.
/// Returns how many were moved.
pub(super) static PROMOTE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  local hash = ARGV[1] .. member
  local fields = redis.call('HGETALL', hash)
  if #fields > 0 then
    local args = {'XADD', KEYS[2]}
    if ARGV[2] ~= '' then
      table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, ARGV[2])
    end
    table.insert(args, '*')
    for _, f in ipairs(fields) do table.insert(args, f) end
    redis.call(unpack(args))
  end
  redis.call('DEL', hash)
  redis.call('ZREM', KEYS[1], member)
end
return #due
",
    )
});

/// Deletes consumers of a group idle at least `min idle` ms that hold **no pending
/// entries**; a consumer with pending entries is never deleted (its entries would leave
/// the pending list and never be redelivered).
///
/// KEYS: stream. ARGV: group, min idle ms, consumer to keep. Returns the deleted names.
pub(super) static CLEANUP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local deleted = {}
local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
for _, c in ipairs(consumers) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['pending'] == 0 and info['idle'] >= tonumber(ARGV[2]) and info['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    table.insert(deleted, info['name'])
  end
end
return deleted
",
    )
});
