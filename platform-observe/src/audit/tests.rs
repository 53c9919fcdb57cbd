//! Unit tests of the encoding, hashing and field mapping.

use serde_json::json;
use tracing::Level;

use super::hash::{ChainHash, Fields, chain_hash};
use super::layer::fields::{clean, infer_outcome};
use super::record::canonical_json;
use super::{AuditLayerConfig, AuditRecord, Outcome};

fn fields<'a>(actor: Option<&'a str>, resource: Option<&'a str>, extra: &'a str) -> Fields<'a> {
    Fields {
        seq: 1,
        time_ms: 1_700_000_000_000,
        actor,
        action: "login",
        resource,
        outcome: "success",
        reason: None,
        trace_id: None,
        source_addr: None,
        extra,
    }
}

#[test]
fn hash_of_a_known_record_is_stable() {
    // The expected value was computed outside Rust (Python's hashlib) from the encoding
    // documented on the module; a change here would break every stored chain.
    let h = chain_hash(&fields(Some("alice"), None, "{}"), &ChainHash::GENESIS);
    assert_eq!(h.to_string(), PINNED, "the chain encoding changed");
}

const PINNED: &str = "f8736482a818f761377bbb712af60b8a07dba8d943a96cf8b866ef2f161dcf99";

#[test]
fn moving_text_between_fields_changes_the_hash() {
    // Without length prefixes and presence bytes these two would encode alike.
    let a = chain_hash(&fields(Some("ab"), None, "{}"), &ChainHash::GENESIS);
    let b = chain_hash(&fields(None, Some("ab"), "{}"), &ChainHash::GENESIS);
    let c = chain_hash(&fields(Some(""), None, "{}"), &ChainHash::GENESIS);
    let d = chain_hash(&fields(None, None, "{}"), &ChainHash::GENESIS);
    assert!(a != b && c != d && a != c);
}

#[test]
fn every_input_is_covered() {
    let base = fields(Some("alice"), None, "{}");
    let h = chain_hash(&base, &ChainHash::GENESIS);
    assert_ne!(h, chain_hash(&Fields { seq: 2, ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&Fields { time_ms: 1, ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&Fields { outcome: "failure", ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&Fields { reason: Some("x"), ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&Fields { trace_id: Some("x"), ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&Fields { source_addr: Some("x"), ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&Fields { extra: "{\"a\":1}", ..base }, &ChainHash::GENESIS));
    assert_ne!(h, chain_hash(&base, &ChainHash([1; 32])));
}

#[test]
fn chain_hash_round_trips_as_hex() {
    let h = ChainHash([0xab; 32]);
    assert_eq!(ChainHash::parse(&h.to_string()), Some(h));
    assert_eq!(ChainHash::parse(&h.to_string().to_uppercase()), Some(h));
    assert_eq!(ChainHash::parse("ab"), None);
    assert_eq!(ChainHash::parse(&"g".repeat(64)), None);
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(serde_json::from_str::<ChainHash>(&json).unwrap(), h);
    assert!(serde_json::from_str::<ChainHash>("\"00\"").is_err());
}

#[test]
fn canonical_json_sorts_keys_at_every_depth() {
    let a = AuditRecord::new("x", Outcome::Success)
        .extra("b", 1)
        .extra("a", json!({"z": 1, "y": [2, {"d": 0, "c": 0}]}));
    let b = AuditRecord::new("x", Outcome::Success)
        .extra("a", json!({"y": [2, {"c": 0, "d": 0}], "z": 1}))
        .extra("b", 1);
    assert_eq!(canonical_json(&a.extra), r#"{"a":{"y":[2,{"c":0,"d":0}],"z":1},"b":1}"#);
    assert_eq!(canonical_json(&a.extra), canonical_json(&b.extra));
}

#[test]
fn record_limits_name_the_field() {
    let ok = AuditRecord::new("x", Outcome::Success);
    assert!(ok.check("{}").is_ok());
    let (field, problem) = AuditRecord::new("", Outcome::Success).check("{}").unwrap_err();
    assert_eq!(field, "action");
    assert!(problem.contains("empty"), "{problem}");
    let (field, _) = ok.clone().actor("").check("{}").unwrap_err();
    assert_eq!(field, "actor");
    let (field, _) = ok.clone().reason("a\0b").check("{}").unwrap_err();
    assert_eq!(field, "reason");
    let (field, problem) = ok.clone().resource("r".repeat(5000)).check("{}").unwrap_err();
    assert_eq!(field, "resource");
    assert!(problem.contains("5000"), "{problem}");
    let (field, _) = ok.check(&"x".repeat(70_000)).unwrap_err();
    assert_eq!(field, "extra");
}

#[test]
fn outcome_names_round_trip() {
    for o in Outcome::ALL {
        assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
    }
    let err = "ok".parse::<Outcome>().unwrap_err().to_string();
    assert!(err.contains("`ok`") && err.contains("denied"), "{err}");
}

#[test]
fn outcome_inference_from_action_and_level() {
    assert_eq!(infer_outcome("access_denied", Level::WARN), Outcome::Denied);
    assert_eq!(infer_outcome("authentication_failed", Level::WARN), Outcome::Failure);
    assert_eq!(infer_outcome("store_down", Level::ERROR), Outcome::Error);
    assert_eq!(infer_outcome("token_issued", Level::INFO), Outcome::Success);
}

#[test]
fn clean_cuts_on_a_character_boundary_and_drops_nul() {
    assert_eq!(clean("ééé".to_owned(), 5).as_deref(), Some("éé"));
    assert_eq!(clean("a\0b".to_owned(), 10).as_deref(), Some("ab"));
    assert_eq!(clean("\0".to_owned(), 10), None);
}

#[test]
fn layer_config_errors_name_the_field() {
    for (cfg, field) in [
        (AuditLayerConfig { target: String::new(), ..Default::default() }, "`target`"),
        (AuditLayerConfig { buffer: 0, ..Default::default() }, "`buffer`"),
        (AuditLayerConfig { batch_size: 20_000, ..Default::default() }, "`batch_size`"),
        (AuditLayerConfig { write_attempts: 0, ..Default::default() }, "`write_attempts`"),
    ] {
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
    let unknown = serde_json::from_str::<AuditLayerConfig>(r#"{"bufer": 1}"#).unwrap_err();
    assert!(unknown.to_string().contains("bufer"), "{unknown}");
}
