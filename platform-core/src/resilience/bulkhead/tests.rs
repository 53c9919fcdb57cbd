use std::time::Duration;

use super::BulkheadConfig;

#[test]
fn config_validation_names_the_field() {
    assert_eq!(BulkheadConfig::new(0).validate().unwrap_err().field(), "max_concurrent");
    let no_wait = BulkheadConfig::new(4).queue(8, Duration::ZERO);
    assert_eq!(no_wait.validate().unwrap_err().field(), "max_wait");
    assert!(
        BulkheadConfig::new(4).queue(0, Duration::ZERO).validate().is_ok(),
        "no queue, no wait"
    );
    assert!(BulkheadConfig::default().validate().is_ok());
}

#[test]
fn config_rejects_unknown_fields() {
    let err = serde_json::from_str::<BulkheadConfig>(r#"{"max_concurent":3}"#).unwrap_err();
    assert!(err.to_string().contains("max_concurent"), "{err}");
}
