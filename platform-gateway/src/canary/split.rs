//! The bucket layout: which version owns which cohort buckets at given weights.
//!
//! A cohort key hashes to one of [`BUCKETS`] buckets. Candidate versions (every version
//! but the stable one) each own a lane of the bucket space: with `n` candidates, lane
//! `k` is `[k·L, (k+1)·L)` where `L = BUCKETS / n`. A candidate at weight `w` buckets
//! owns the first `w` buckets of its lane; the stable version owns the rest.
//!
//! So raising a candidate's weight only adds buckets to it (taken from the stable
//! version), lowering it only gives buckets back to the stable version, and one
//! candidate's weight never moves another candidate's users. The price: with `n`
//! candidates each can take at most `1/n` of the traffic.

/// The size of the cohort bucket space (one bucket is 0.01 % of the traffic).
pub const BUCKETS: u32 = 10_000;

/// A weight in basis points of the traffic (`0..=10_000`; 100 = 1 %).
pub(crate) type Bp = u32;

/// Percent (as configured) to basis points, rounded.
pub(crate) fn percent_to_bp(percent: f64) -> Option<Bp> {
    if !(0.0..=100.0).contains(&percent) || percent.is_nan() {
        return None;
    }
    // In range 0..=10_000 after the check, so the cast is exact.
    Some((percent * 100.0).round() as Bp)
}

/// Basis points to percent, for views.
pub(crate) fn bp_to_percent(bp: Bp) -> f64 {
    f64::from(bp) / 100.0
}

/// The lane size with `candidates` candidate versions: the most any of them may take.
pub(crate) fn lane(candidates: usize) -> Bp {
    let n = u32::try_from(candidates.max(1)).unwrap_or(BUCKETS);
    BUCKETS / n.min(BUCKETS)
}

/// The buckets each candidate version owns at given weights.
///
/// Candidate `k` (version `k + 1`) owns the first `w` buckets of its lane
/// `[k·L, (k+1)·L)`, `L = BUCKETS / candidates`; the stable version (version 0) owns the
/// rest. Raising a candidate's weight only adds buckets to it, lowering it only gives
/// buckets back to the stable version, and one candidate's weight never moves another
/// candidate's users. With `n` candidates each can take at most `1/n` of the traffic.
///
/// ```
/// use platform_gateway::canary::{BUCKETS, Split, cohort_bucket};
///
/// // One candidate at 5 % (500 basis points), then at 25 %.
/// let (small, large) = (Split::new(&[500]), Split::new(&[2_500]));
/// let bucket = cohort_bucket("users", b"user-42");
/// assert!(bucket < BUCKETS);
/// // Whoever is on the candidate at 5 % is still on it at 25 %.
/// if small.version_of(bucket) == 1 {
///     assert_eq!(large.version_of(bucket), 1);
/// }
/// assert_eq!(large.weight_of(0), 7_500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    lane: Bp,
    /// Weight of candidate `k` (version `k + 1`), at most `lane`.
    weights: Box<[Bp]>,
}

impl Split {
    /// Candidates at `weights` in basis points (candidate `k` is version `k + 1`; each
    /// weight is clamped to its lane, `BUCKETS / weights.len()`).
    pub fn new(weights: &[u32]) -> Self {
        let lane = lane(weights.len());
        Self { lane, weights: weights.iter().map(|w| (*w).min(lane)).collect() }
    }

    /// Every candidate at `weight`.
    pub(crate) fn uniform(candidates: usize, weight: Bp) -> Self {
        Self::new(&vec![weight; candidates])
    }

    /// The version owning `bucket`: 0 is stable, `k + 1` is candidate `k`.
    pub fn version_of(&self, bucket: u32) -> usize {
        let k = (bucket / self.lane) as usize;
        match self.weights.get(k) {
            Some(w) if bucket % self.lane < *w => k + 1,
            _ => 0,
        }
    }

    /// The weight of version `v` in basis points (stable: what the candidates leave).
    pub fn weight_of(&self, v: usize) -> u32 {
        match v {
            0 => BUCKETS - self.weights.iter().sum::<Bp>(),
            k => self.weights.get(k - 1).copied().unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_candidate_owns_the_bottom_of_the_space() {
        let l = Split::uniform(1, 500);
        assert_eq!(l.version_of(0), 1);
        assert_eq!(l.version_of(499), 1);
        assert_eq!(l.version_of(500), 0);
        assert_eq!(l.weight_of(0), 9_500);
        assert_eq!(l.weight_of(1), 500);
        assert_eq!((0..BUCKETS).filter(|b| l.version_of(*b) == 1).count(), 500);
        let all = Split::uniform(1, BUCKETS);
        assert!((0..BUCKETS).all(|b| all.version_of(b) == 1));
    }

    #[test]
    fn candidates_own_lanes_and_are_capped() {
        let l = Split::new(&[1_000, 9_000]);
        assert_eq!(l.weight_of(2), 5_000, "capped at the lane");
        assert_eq!(l.version_of(999), 1);
        assert_eq!(l.version_of(1_000), 0);
        assert_eq!(l.version_of(5_000), 2);
        assert_eq!(l.weight_of(0), 4_000);
    }

    #[test]
    fn percent_conversion() {
        assert_eq!(percent_to_bp(2.5), Some(250));
        assert_eq!(percent_to_bp(100.0), Some(BUCKETS));
        assert_eq!(percent_to_bp(100.5), None);
        assert_eq!(percent_to_bp(-1.0), None);
        assert_eq!(percent_to_bp(f64::NAN), None);
        assert_eq!(bp_to_percent(250), 2.5);
    }
}
