//! Tracking verdicts: a predictor tracks `Q_op` at factor `F` iff `|log10(Q_pred/Q_op)| ≤ log10 F`.

/// The factors reported (SCIENCE.md II.5): 1.5, 2 (the headline) and 3.
pub const TRACKING_FACTORS: [f64; 3] = [1.5, 2.0, 3.0];

/// Whether `q_pred` is within a factor `factor` of `q_op` (false for non-finite or non-positive
/// values, so an exploded prediction never "tracks").
pub fn tracks(q_pred: f64, q_op: f64, factor: f64) -> bool {
    if !(q_pred.is_finite() && q_op.is_finite() && q_pred > 0.0 && q_op > 0.0 && factor >= 1.0) {
        return false;
    }
    (q_pred / q_op).log10().abs() <= factor.log10()
}

/// The ratio and the verdict at every factor of [`TRACKING_FACTORS`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackingVerdict {
    /// `Q_pred / Q_op` (may be `+∞`).
    pub ratio: f64,
    /// `log10` of the ratio.
    pub log10_ratio: f64,
    /// Within a factor 1.5.
    pub within_1_5: bool,
    /// Within a factor 2 (the headline "tracks").
    pub within_2: bool,
    /// Within a factor 3.
    pub within_3: bool,
}

impl TrackingVerdict {
    /// Verdict of `q_pred` against `q_op`.
    pub fn new(q_pred: f64, q_op: f64) -> Self {
        let ratio = q_pred / q_op;
        Self {
            ratio,
            log10_ratio: ratio.log10(),
            within_1_5: tracks(q_pred, q_op, 1.5),
            within_2: tracks(q_pred, q_op, 2.0),
            within_3: tracks(q_pred, q_op, 3.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges() {
        assert!(tracks(2.0, 1.0, 2.0));
        assert!(tracks(0.5, 1.0, 2.0));
        assert!(!tracks(2.01, 1.0, 2.0));
        assert!(tracks(1.4, 1.0, 1.5) && !tracks(1.6, 1.0, 1.5));
        assert!(!tracks(f64::INFINITY, 1.0, 3.0));
        assert!(!tracks(f64::NAN, 1.0, 3.0));
        let v = TrackingVerdict::new(2.5, 1.0);
        assert!(!v.within_1_5 && !v.within_2 && v.within_3);
    }
}
