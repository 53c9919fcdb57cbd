use std::time::Duration;

use proptest::prelude::*;

use super::codec::{JsonCodec, RemoteEntry, encode_entry};
use super::jitter::jittered;
use super::*;

proptest! {
    #[test]
    fn jitter_stays_within_bounds(ttl_ms in 1u64..10_000_000, fraction in 0.0f64..=0.5, u in 0.0f64..1.0) {
        let ttl = Duration::from_millis(ttl_ms);
        let got = jittered(ttl, fraction, u);
        let lo = ttl.mul_f64(1.0 - fraction);
        let hi = ttl.mul_f64(1.0 + fraction);
        // mul_f64 rounds to the nanosecond: allow one on each side.
        prop_assert!(got + Duration::from_nanos(1) >= lo.min(ttl), "{got:?} < {lo:?}");
        prop_assert!(got <= hi + Duration::from_nanos(1), "{got:?} > {hi:?}");
        prop_assert!(!got.is_zero());
    }

    #[test]
    fn jitter_spreads_over_the_whole_band(ttl_ms in 1_000u64..1_000_000) {
        let ttl = Duration::from_millis(ttl_ms);
        prop_assert!(jittered(ttl, 0.2, 0.0) < ttl.mul_f64(0.81));
        prop_assert!(jittered(ttl, 0.2, 0.999_999) > ttl.mul_f64(1.19));
        prop_assert_eq!(jittered(ttl, 0.0, 0.9), ttl);
    }
}

#[test]
fn remote_entries_round_trip() {
    let bytes = encode_entry(&JsonCodec, Some(&vec![1u8, 2]), 5_000).unwrap();
    let entry = RemoteEntry::decode(&bytes).unwrap();
    assert_eq!(entry.payload, Some(&b"[1,2]"[..]));
    assert_eq!(entry.fresh_for(4_000), Some(Duration::from_millis(1_000)));
    assert_eq!(entry.fresh_for(5_000), None);

    let negative = encode_entry::<Vec<u8>, _>(&JsonCodec, None, 5_000).unwrap();
    assert!(RemoteEntry::decode(&negative).unwrap().payload.is_none());
    assert!(RemoteEntry::decode(b"[1,2]").is_none(), "foreign bytes are not an entry");
}

#[test]
fn config_validation_names_the_field() {
    let bad = |f: fn(&mut CacheConfig)| {
        let mut c = CacheConfig::default();
        f(&mut c);
        c.validate().unwrap_err().field()
    };
    assert_eq!(bad(|c| c.ttl = Duration::ZERO), "ttl");
    assert_eq!(bad(|c| c.jitter = 0.7), "jitter");
    assert_eq!(bad(|c| c.negative_ttl = Some(Duration::ZERO)), "negative_ttl");
    assert_eq!(bad(|c| c.max_entries = 0), "max_entries");
    assert_eq!(bad(|c| c.name = "a b".into()), "name");
    let err = serde_json::from_str::<CacheConfig>(r#"{"tll": "1s"}"#).unwrap_err();
    assert!(err.to_string().contains("tll"), "{err}");
}
