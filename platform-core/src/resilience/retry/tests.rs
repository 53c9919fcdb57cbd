use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::budget::RetryBudget;
use super::layer::Settings;
use super::replay::parse_retry_after;
use super::{BudgetConfig, RetryConfig};

fn budget(ratio: f64, floor: u32, window_secs: u64) -> RetryBudget {
    RetryBudget::new(&BudgetConfig {
        ratio,
        min_retries_per_sec: floor,
        window: Duration::from_secs(window_secs),
    })
}

#[tokio::test(start_paused = true)]
async fn budget_allows_ratio_of_requests() {
    let b = budget(0.5, 0, 10);
    assert!(!b.withdraw(), "no requests, no floor: no retries");
    for _ in 0..10 {
        b.deposit();
    }
    let allowed = (0..20).filter(|_| b.withdraw()).count();
    assert_eq!(allowed, 5);
}

#[tokio::test(start_paused = true)]
async fn budget_floor_and_window_expiry() {
    let b = budget(0.0, 2, 1);
    assert!(b.withdraw());
    assert!(b.withdraw());
    assert!(!b.withdraw(), "floor is 2 per second over a 1s window");
    tokio::time::advance(Duration::from_millis(1100)).await;
    assert!(b.withdraw(), "old retries slid out of the window");
}

#[tokio::test(start_paused = true)]
async fn budget_reconfiguration_keeps_counts() {
    let b = budget(1.0, 0, 10);
    b.deposit();
    assert!(b.withdraw());
    assert!(!b.withdraw());
    b.reconfigure(&BudgetConfig {
        ratio: 1.0,
        min_retries_per_sec: 0,
        window: Duration::from_secs(5),
    });
    assert!(!b.withdraw(), "the retry already taken still counts");
    b.deposit();
    assert!(b.withdraw());
}

proptest! {
    #[test]
    fn budget_never_exceeds_ratio_plus_floor(
        ratio in 0.0f64..1.0,
        floor in 0u32..5,
        requests in 0usize..300,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            let b = budget(ratio, floor, 10);
            let mut retries = 0usize;
            for _ in 0..requests {
                b.deposit();
                // Every request fails and asks for three retries.
                retries += (0..3).filter(|_| b.withdraw()).count();
            }
            let cap = requests as f64 * ratio + f64::from(floor) * 10.0;
            prop_assert!(retries as f64 <= cap + 1e-9, "{retries} > {cap}");
            prop_assert!(retries as f64 >= (cap - 1.0).min(3.0 * requests as f64), "budget too strict: {retries} for cap {cap}");
            Ok(())
        })?;
    }

    #[test]
    fn backoff_grows_and_jitter_stays_within_bounds(
        min_ms in 1u64..200,
        max_factor in 1u64..50,
        factor in 1.0f32..4.0,
        jitter in any::<bool>(),
    ) {
        let min = Duration::from_millis(min_ms);
        let max = min * max_factor as u32;
        let settings = Settings::new(RetryConfig::builder().backoff(min, max, factor).jitter(jitter));
        let mut base = min;
        for (n, delay) in settings.backoff().take(12).enumerate() {
            let upper = if jitter { base * 2 } else { base };
            // backon computes in f32 seconds: allow a microsecond of rounding.
            let slack = Duration::from_micros(1);
            prop_assert!(delay + slack >= base && delay <= upper + slack,
                "retry {n}: {delay:?} outside [{base:?}, {upper:?}]");
            base = Duration::from_secs_f32(base.as_secs_f32() * factor).min(max);
        }
    }
}

#[test]
fn retry_after_seconds_and_dates() {
    let now = SystemTime::now();
    let v = |s: &str| http::HeaderValue::from_str(s).unwrap();
    assert_eq!(parse_retry_after(&v("3"), now), Some(Duration::from_secs(3)));
    let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
    let d = parse_retry_after(&v(&later), now).unwrap();
    assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30), "{d:?}");
    let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
    assert_eq!(parse_retry_after(&v(&past), now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after(&v("soon"), now), None);
}

#[test]
fn config_validation_names_the_field() {
    let field = |cfg: RetryConfig| cfg.validate().unwrap_err().field();
    assert_eq!(field(RetryConfig::builder().max_attempts(0)), "max_attempts");
    let d = Duration::from_millis;
    assert_eq!(field(RetryConfig::builder().backoff(d(100), d(10), 2.0)), "backoff.max_delay");
    assert_eq!(field(RetryConfig::builder().backoff(d(1), d(10), 0.5)), "backoff.factor");
    assert_eq!(field(RetryConfig::builder().budget(-1.0, 0, d(1000))), "budget.ratio");
    assert_eq!(
        field(RetryConfig::builder().retry_methods(["GET", "NOT A METHOD"])),
        "retry_methods"
    );
    assert!(RetryConfig::default().validate().is_ok());
    let err = serde_json::from_str::<RetryConfig>(r#"{"max_atempts":2}"#).unwrap_err();
    assert!(err.to_string().contains("max_atempts"), "{err}");
}
