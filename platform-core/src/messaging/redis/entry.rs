//! Stream entry fields ↔ messages.
//!
//! An entry holds `id`, `ts` (publish time, ms since the epoch), `k` (key, when set),
//! `h` (headers as a JSON object, when any) and `p` (payload bytes).

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use redis::Value;

use super::conn::failed;
use crate::messaging::{Headers, Message, MessageId, MessagingError};

/// The field/value list of `message`, in XADD argument order.
pub(super) fn fields(message: &Message) -> Result<Vec<(&'static str, Vec<u8>)>, MessagingError> {
    let ts = message.timestamp.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut out = Vec::with_capacity(5);
    out.push(("id", message.id.as_str().as_bytes().to_vec()));
    out.push(("ts", ts.to_string().into_bytes()));
    if let Some(k) = &message.key {
        out.push(("k", k.as_bytes().to_vec()));
    }
    if !message.headers.is_empty() {
        let h = serde_json::to_vec(&message.headers)
            .map_err(|e| MessagingError::Invalid(e.to_string()))?;
        out.push(("h", h));
    }
    out.push(("p", message.payload.to_vec()));
    Ok(out)
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

pub(super) fn string(v: &Value) -> Option<String> {
    match v {
        Value::Int(n) => Some(n.to_string()),
        other => bytes(other).map(|b| String::from_utf8_lossy(b).into_owned()),
    }
}

pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => string(other)?.parse().ok(),
    }
}

/// The items of an array reply (RESP2 or RESP3).
pub(super) fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

/// Builds the message of an entry from its field list, with `attempt`.
pub(super) fn decode(topic: &str, fields: &Value, attempt: u32) -> Result<Message, MessagingError> {
    let (mut id, mut ts, mut key, mut headers, mut payload) = (None, 0u64, None, None, None);
    let mut add = |name: &[u8], value: &Value| {
        let raw = bytes(value).unwrap_or_default();
        match name {
            b"id" => id = Some(String::from_utf8_lossy(raw).into_owned()),
            b"ts" => ts = std::str::from_utf8(raw).ok().and_then(|s| s.parse().ok()).unwrap_or(0),
            b"k" => key = Some(String::from_utf8_lossy(raw).into_owned()),
            b"h" => headers = Some(raw.to_vec()),
            b"p" => payload = Some(Bytes::copy_from_slice(raw)),
            _ => {}
        }
    };
    match fields {
        Value::Map(pairs) => {
            for (n, v) in pairs {
                add(bytes(n).unwrap_or_default(), v);
            }
        }
        other => {
            for pair in items(other).chunks(2) {
                if let [n, v] = pair {
                    add(bytes(n).unwrap_or_default(), v);
                }
            }
        }
    }
    let id = id.ok_or_else(|| failed("stream entry without an `id` field"))?;
    let headers: Headers = match headers {
        Some(h) => serde_json::from_slice(&h).map_err(failed)?,
        None => Headers::new(),
    };
    Ok(Message {
        id: MessageId::new(id),
        topic: topic.to_owned(),
        key,
        headers,
        payload: payload.unwrap_or_default(),
        timestamp: UNIX_EPOCH + Duration::from_millis(ts),
        attempt,
    })
}
