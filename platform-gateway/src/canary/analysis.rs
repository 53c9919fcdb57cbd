//! Judging a step: each candidate against the stable version, with thresholds.

use std::time::Duration;

use super::plan::AnalysisConfig;
use super::stats::Sample;

/// The result of judging one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every candidate is within the thresholds.
    Pass(String),
    /// A candidate is outside a threshold.
    Fail(String),
    /// Too few samples to decide.
    Inconclusive(String),
}

/// What the stable version is compared with: this step's sample when it has enough
/// requests, else the rollout's baseline (the stable samples of the steps passed so
/// far).
pub(crate) fn reference<'a>(
    window: &'a Sample,
    baseline: &'a Sample,
    min_requests: u64,
) -> Option<(&'a Sample, &'static str)> {
    if window.requests() >= min_requests {
        Some((window, "this step"))
    } else if baseline.requests() >= min_requests {
        Some((baseline, "the rollout's baseline"))
    } else {
        None
    }
}

/// Judges `candidates` (name, sample) against `stable` (window and baseline).
pub(crate) fn judge(
    candidates: &[(&str, Sample)],
    stable: &Sample,
    baseline: &Sample,
    min_requests: u64,
    cfg: &AnalysisConfig,
) -> Verdict {
    let mut passed = Vec::new();
    for (name, sample) in candidates {
        if sample.requests() < min_requests {
            return Verdict::Inconclusive(format!(
                "`{name}` has {} of the {min_requests} requests needed to judge",
                sample.requests()
            ));
        }
        let rate = sample.error_rate();
        if let Some(max) = cfg.max_error_rate.filter(|max| rate > *max) {
            return Verdict::Fail(format!(
                "`{name}` error rate {} is above the allowed {}",
                pct(rate),
                pct(max)
            ));
        }
        let Some((reference, source)) = reference(stable, baseline, min_requests) else {
            if cfg.max_error_rate.is_some() {
                passed.push(format!("`{name}` error rate {} (no stable reference)", pct(rate)));
                continue;
            }
            return Verdict::Inconclusive(format!(
                "the stable version has {} of the {min_requests} requests needed to compare `{name}` with; set analysis.max_error_rate to judge candidates alone",
                stable.requests()
            ));
        };
        let stable_rate = reference.error_rate();
        if rate - stable_rate > cfg.max_error_rate_increase {
            return Verdict::Fail(format!(
                "`{name}` error rate {} exceeds the stable {} ({source}) by more than {}",
                pct(rate),
                pct(stable_rate),
                pct(cfg.max_error_rate_increase)
            ));
        }
        let mut latency = String::new();
        if let (Some(p99), Some(stable_p99)) = (sample.quantile(0.99), reference.quantile(0.99)) {
            let limit = stable_p99.mul_f64(cfg.max_p99_ratio);
            if p99 > limit && p99.saturating_sub(stable_p99) > cfg.p99_tolerance {
                return Verdict::Fail(format!(
                    "`{name}` p99 latency {} is above {} × the stable {} ({source})",
                    ms(p99),
                    cfg.max_p99_ratio,
                    ms(stable_p99)
                ));
            }
            latency = format!(", p99 {} vs {}", ms(p99), ms(stable_p99));
        }
        passed.push(format!(
            "`{name}` error rate {} vs stable {}{latency} ({source}, {} requests)",
            pct(rate),
            pct(stable_rate),
            sample.requests()
        ));
    }
    Verdict::Pass(format!("healthy: {}", passed.join("; ")))
}

fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canary::stats::LiveStats;
    use platform_core::classify::Outcome;

    fn sample(ok: u64, failed: u64, ms: u64) -> Sample {
        let live = LiveStats::default();
        for _ in 0..ok {
            live.record(Outcome::Success, Duration::from_millis(ms));
        }
        for _ in 0..failed {
            live.record(Outcome::Failure, Duration::from_millis(ms));
        }
        live.sample()
    }

    fn judge1(c: &Sample, s: &Sample, cfg: &AnalysisConfig) -> Verdict {
        judge(&[("v2", c.clone())], s, &Sample::default(), 50, cfg)
    }

    #[test]
    fn too_few_samples_are_not_judged() {
        let cfg = AnalysisConfig::default();
        let v = judge1(&sample(10, 30, 5), &sample(100, 0, 5), &cfg);
        assert!(matches!(v, Verdict::Inconclusive(ref r) if r.contains("40 of the 50")), "{v:?}");
        let v = judge1(&sample(100, 0, 5), &sample(10, 0, 5), &cfg);
        assert!(matches!(v, Verdict::Inconclusive(ref r) if r.contains("stable")), "{v:?}");
    }

    #[test]
    fn error_rate_and_latency_thresholds() {
        let cfg = AnalysisConfig::default();
        let stable = sample(990, 10, 20);
        assert!(matches!(judge1(&sample(98, 2, 20), &stable, &cfg), Verdict::Pass(_)));
        let v = judge1(&sample(90, 10, 20), &stable, &cfg);
        assert!(matches!(v, Verdict::Fail(ref r) if r.contains("10.00%")), "{v:?}");
        let v = judge1(&sample(100, 0, 60), &stable, &cfg);
        assert!(matches!(v, Verdict::Fail(ref r) if r.contains("p99")), "{v:?}");
        // Within the tolerance: 1 ms against 3 ms is not a regression.
        assert!(matches!(judge1(&sample(100, 0, 3), &sample(100, 0, 1), &cfg), Verdict::Pass(_)));
    }

    #[test]
    fn baseline_and_absolute_limit_when_stable_is_idle() {
        let cfg = AnalysisConfig { max_error_rate: Some(0.05), ..AnalysisConfig::default() };
        let idle = Sample::default();
        let v = judge(&[("v2", sample(100, 0, 5))], &idle, &sample(500, 0, 5), 50, &cfg);
        assert!(matches!(v, Verdict::Pass(ref r) if r.contains("baseline")), "{v:?}");
        let v = judge(&[("v2", sample(90, 10, 5))], &idle, &idle, 50, &cfg);
        assert!(matches!(v, Verdict::Fail(ref r) if r.contains("allowed")), "{v:?}");
        let v = judge(&[("v2", sample(100, 0, 5))], &idle, &idle, 50, &cfg);
        assert!(matches!(v, Verdict::Pass(_)), "{v:?}");
    }
}
