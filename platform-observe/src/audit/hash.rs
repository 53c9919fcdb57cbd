//! The chain: [`ChainHash`], [`ChainHead`] and the canonical encoding each hash covers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 link of the audit chain, shown as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the first record: 32 zero bytes.
    pub const GENESIS: Self = Self([0; 32]);

    /// Parses 64 hex digits (either case).
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        let digits = s.as_bytes().chunks_exact(2);
        for (byte, pair) in out.iter_mut().zip(digits) {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            *byte = u8::try_from(hi << 4 | lo).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("a chain hash is 64 hex digits (SHA-256)"))
    }
}

/// A position in the chain: a record's `seq` and its hash.
///
/// [`AuditLog::head`](super::AuditLog::head) returns the newest one. Kept somewhere the
/// database's writers cannot reach (a ticket, another system's log, a signed message), it
/// is an **anchor**: [`VerifyOptions::anchor`](super::VerifyOptions::anchor) then proves
/// that the chain still contains that record unchanged, which catches a rewritten or
/// truncated chain that is consistent in itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainHead {
    /// The record's sequence number (the first record is 1; 0 is the empty chain).
    pub seq: u64,
    /// The record's hash ([`ChainHash::GENESIS`] for the empty chain).
    pub hash: ChainHash,
}

impl ChainHead {
    /// The empty chain.
    pub const EMPTY: Self = Self { seq: 0, hash: ChainHash::GENESIS };
}

/// The stored fields of one row, as hashed. Optional fields are `None` when NULL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) seq: u64,
    pub(crate) time_ms: i64,
    pub(crate) actor: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) resource: Option<&'a str>,
    pub(crate) outcome: &'a str,
    pub(crate) reason: Option<&'a str>,
    pub(crate) trace_id: Option<&'a str>,
    pub(crate) source_addr: Option<&'a str>,
    /// The canonical JSON text of `extra`, exactly as stored.
    pub(crate) extra: &'a str,
}

/// Domain separation: a hash of this chain can never be mistaken for another SHA-256.
const DOMAIN: &[u8] = b"platform-sdk audit chain v1\0";

/// SHA-256 over the domain tag, every field and `prev`.
///
/// The encoding is unambiguous: integers are 8 bytes big-endian; every text is its
/// length (8 bytes big-endian) then its UTF-8 bytes; an optional text is one byte
/// `0` (absent) or `1` followed by the text; `prev` is its 32 raw bytes, last.
pub(crate) fn chain_hash(f: &Fields<'_>, prev: &ChainHash) -> ChainHash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(f.seq.to_be_bytes());
    h.update(f.time_ms.to_be_bytes());
    optional(&mut h, f.actor);
    text(&mut h, f.action);
    optional(&mut h, f.resource);
    text(&mut h, f.outcome);
    optional(&mut h, f.reason);
    optional(&mut h, f.trace_id);
    optional(&mut h, f.source_addr);
    text(&mut h, f.extra);
    h.update(prev.0);
    ChainHash(h.finalize().into())
}

fn text(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn optional(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0]),
        Some(s) => {
            h.update([1]);
            text(h, s);
        }
    }
}
