//! Summary statistics that respect τ̂ statuses: medians, maxima and tracking counts.
//!
//! Every function that takes τ̂-derived values takes them with their
//! [`TauStatus`] and uses resolved values only, returning how many were left out as bounds.

use serde::{Deserialize, Serialize};
use thermoq_snr::sampled::TauStatus;

/// The median: the middle element for an odd count, the mean of the two middle elements for an
/// even count; NaN for no values.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    }
}

/// Median and maximum over resolved values only, with the number of bounds left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedStats {
    /// Values that entered (resolved).
    pub resolved: usize,
    /// Values left out because they are lower bounds or have no window.
    pub bounds: usize,
    /// Median of the resolved values (NaN → `null` when none).
    pub median: Option<f64>,
    /// Maximum of the resolved values.
    pub max: Option<f64>,
}

impl ResolvedStats {
    /// From `(value, status)` pairs.
    pub fn new(values: impl IntoIterator<Item = (f64, TauStatus)>) -> Self {
        let (mut ok, mut bounds) = (Vec::new(), 0);
        for (v, s) in values {
            if s.is_resolved() {
                ok.push(v);
            } else {
                bounds += 1;
            }
        }
        let max = ok.iter().copied().reduce(f64::max);
        Self {
            resolved: ok.len(),
            bounds,
            median: (!ok.is_empty()).then(|| median(ok)),
            max,
        }
    }
}

/// Cells within factors 1.5, 2 and 3 of the exact value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Within 1.5×.
    pub f1_5: usize,
    /// Within 2×.
    pub f2: usize,
    /// Within 3×.
    pub f3: usize,
}

impl Counts {
    /// Counts the ratios `Q_pred/Q_op`.
    pub fn new(ratios: impl Iterator<Item = f64>) -> Self {
        let mut c = Self::default();
        for r in ratios {
            let l = r.log10().abs();
            c.f1_5 += usize::from(l <= 1.5f64.log10());
            c.f2 += usize::from(l <= 2f64.log10());
            c.f3 += usize::from(l <= 3f64.log10());
        }
        c
    }
}

/// Whether a ratio is within a factor 2.
pub fn tracks(r: f64) -> bool {
    r.log10().abs() <= 2f64.log10()
}

/// Largest value (0 for none), as the reports have always used.
pub fn max0(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_count_is_mean_of_middle_pair() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn bounds_never_enter_median_or_max() {
        // A series with τ ≫ L: the estimator returns (about) the run length, flagged as a bound.
        let s = ResolvedStats::new([
            (1.0, TauStatus::Resolved),
            (2.0, TauStatus::Resolved),
            (4_100.0, TauStatus::LowerBound),
            (9_999.0, TauStatus::NoWindow),
        ]);
        assert_eq!(s.resolved, 2);
        assert_eq!(s.bounds, 2);
        assert_eq!(s.median, Some(1.5));
        assert_eq!(s.max, Some(2.0));
        let none = ResolvedStats::new([(5.0, TauStatus::LowerBound)]);
        assert_eq!((none.median, none.max, none.bounds), (None, None, 1));
    }
}
