//! How typed values become bytes for a remote store, and the stored entry format.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::BoxError;

/// Turns values into bytes and back, for remote stores. The local level keeps values
/// as they are and never encodes.
pub trait Codec<V>: Send + Sync + 'static {
    /// Writes `value` into `buf`.
    fn encode(&self, value: &V, buf: &mut BytesMut) -> Result<(), BoxError>;
    /// Reads a value written by [`encode`](Codec::encode).
    fn decode(&self, bytes: &[u8]) -> Result<V, BoxError>;
}

/// The default codec: JSON through serde (readable with `redis-cli`, tolerant of added
/// optional fields).
#[derive(Clone, Copy, Default)]
pub struct JsonCodec;

impl fmt::Debug for JsonCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonCodec")
    }
}

impl<V: Serialize + DeserializeOwned> Codec<V> for JsonCodec {
    fn encode(&self, value: &V, buf: &mut BytesMut) -> Result<(), BoxError> {
        serde_json::to_writer(buf.writer(), value).map_err(Into::into)
    }

    fn decode(&self, bytes: &[u8]) -> Result<V, BoxError> {
        serde_json::from_slice(bytes).map_err(Into::into)
    }
}

const FORMAT_VERSION: u8 = 1;
const KIND_VALUE: u8 = 1;
const KIND_NEGATIVE: u8 = 0;
const HEADER: usize = 10;

/// A stored entry: `[version, kind, fresh_until_ms (u64 BE)] ++ payload`. The freshness
/// deadline is wall-clock time (milliseconds since the Unix epoch) because every node
/// reads it; the store's own TTL covers freshness plus the stale grace window.
#[derive(Debug)]
pub(crate) struct RemoteEntry<'a> {
    /// `None` for a cached "not found".
    pub(crate) payload: Option<&'a [u8]>,
    pub(crate) fresh_until_ms: u64,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<'a> RemoteEntry<'a> {
    /// Time left until the entry goes stale (`None` when it already is).
    pub(crate) fn fresh_for(&self, now_ms: u64) -> Option<Duration> {
        self.fresh_until_ms.checked_sub(now_ms).filter(|&ms| ms > 0).map(Duration::from_millis)
    }

    pub(crate) fn decode(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < HEADER || bytes[0] != FORMAT_VERSION {
            return None;
        }
        let fresh_until_ms = u64::from_be_bytes(bytes[2..HEADER].try_into().ok()?);
        let payload = match bytes[1] {
            KIND_VALUE => Some(&bytes[HEADER..]),
            KIND_NEGATIVE => None,
            _ => return None,
        };
        Some(Self { payload, fresh_until_ms })
    }
}

/// Encodes an entry; `value` is `None` for a cached "not found".
pub(crate) fn encode_entry<V, C: Codec<V>>(
    codec: &C,
    value: Option<&V>,
    fresh_until_ms: u64,
) -> Result<Bytes, BoxError> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_u8(FORMAT_VERSION);
    buf.put_u8(if value.is_some() { KIND_VALUE } else { KIND_NEGATIVE });
    buf.put_u64(fresh_until_ms);
    if let Some(v) = value {
        codec.encode(v, &mut buf)?;
    }
    Ok(buf.freeze())
}
