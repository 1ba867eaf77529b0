//! The four predictors.

use super::cluster::{mode_contributions, relevance, select_cluster};
use super::{
    Anchor, ClusterRobustness, DEFAULT_EPS_CLUSTER, DEFAULT_EPS_OVERLAP, DEFAULT_GROUP_TOL,
    Prediction, Predictor, PredictorInput, PredictorKind, ROBUSTNESS_EPS, SpectralView,
};
use crate::SnrError;

fn spectral<'a>(
    input: &PredictorInput<'a>,
    who: &'static str,
) -> Result<SpectralView<'a>, SnrError> {
    input.spectral.ok_or(SnrError::MissingInput {
        predictor: who,
        needs: "a spectral decomposition (sigma, overlaps)",
    })
}

/// A one-mode prediction from `T`: the cluster is mode `j`, which is also the anchor.
fn one_mode(
    who: PredictorKind,
    input: &PredictorInput<'_>,
    sv: &SpectralView<'_>,
    j: usize,
    t: f64,
) -> Prediction {
    let mut p = Prediction::simple(who, input.q_from_t(t), t);
    p.cluster_size = 1;
    p.cluster = vec![j];
    p.anchor = Anchor::mode(sv, j);
    p
}

/// The single-spectral-gap predictor as the textbook reads it: `T = Σ_a |f̂_{a,2}|²/(1 − σ_2)`,
/// mode 2 being the first non-constant mode regardless of parity. On a flip-symmetric model that
/// mode is odd, every `f̂_{a,2}` is zero up to rounding and `Q` explodes — reported as is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Naive;

impl Predictor for Naive {
    fn kind(&self) -> PredictorKind {
        PredictorKind::Naive
    }
    fn predict(&self, input: &PredictorInput<'_>) -> Result<Prediction, SnrError> {
        let sv = spectral(input, self.name())?;
        let j = 1;
        let w: f64 = (0..sv.overlaps.nrows())
            .map(|a| sv.overlaps[(a, j)].powi(2))
            .sum();
        let t = crate::exact::qop::ratio(w, 1.0 - sv.sigma[j]);
        Ok(one_mode(self.kind(), input, &sv, j, t))
    }
}

/// Single *relevant* gap: `j*` = slowest mode with relevance `≥ ε_overlap`;
/// `T = Σ_a Var_π[f_a] (1+σ_{j*})/(2(1−σ_{j*}))`. `γ_eff = 1 − σ_{j*}` is reported as `gap`.
#[derive(Clone, Copy, Debug)]
pub struct OneGap {
    /// Relevance threshold `ε_overlap`.
    pub eps_overlap: f64,
}

impl Default for OneGap {
    fn default() -> Self {
        Self {
            eps_overlap: DEFAULT_EPS_OVERLAP,
        }
    }
}

impl OneGap {
    /// The anchor `j*` (None if no mode is relevant).
    pub fn anchor(&self, sv: &SpectralView<'_>, var_pi: &[f64]) -> Option<usize> {
        let r = relevance(sv, var_pi);
        (1..sv.sigma.len())
            .filter(|&j| r[j] >= self.eps_overlap)
            .max_by(|&a, &b| sv.sigma[a].total_cmp(&sv.sigma[b]).then(b.cmp(&a)))
    }
}

impl Predictor for OneGap {
    fn kind(&self) -> PredictorKind {
        PredictorKind::OneGap
    }
    fn predict(&self, input: &PredictorInput<'_>) -> Result<Prediction, SnrError> {
        let sv = spectral(input, self.name())?;
        let Some(j) = self.anchor(&sv, input.var_pi) else {
            // no observable overlaps any mode: there is no fluctuation at all
            let mut p = Prediction::simple(self.kind(), input.q_from_t(0.0), 0.0);
            p.cluster_size = 0;
            return Ok(p);
        };
        let s = sv.sigma[j];
        let var: f64 = input.var_pi.iter().sum();
        let t = if s >= 1.0 {
            f64::INFINITY
        } else {
            var * (1.0 + s) / (2.0 * (1.0 - s))
        };
        Ok(one_mode(self.kind(), input, &sv, j, t))
    }
}

/// `Q_struct⊥`: the observable-projected, multi-mode predictor (see [`super::cluster`]).
#[derive(Clone, Copy, Debug)]
pub struct StructPerp {
    /// Relevance threshold `ε_overlap`.
    pub eps_overlap: f64,
    /// Cluster tolerance `ε_cluster` (0 keeps every relevant mode).
    pub eps_cluster: f64,
    /// Relative tolerance of degenerate groups.
    pub group_tol: f64,
}

impl Default for StructPerp {
    fn default() -> Self {
        Self {
            eps_overlap: DEFAULT_EPS_OVERLAP,
            eps_cluster: DEFAULT_EPS_CLUSTER,
            group_tol: DEFAULT_GROUP_TOL,
        }
    }
}

impl StructPerp {
    /// The full-cluster variant (`ε_cluster = 0`): `T = Σ_a v_a/2`, the exact stationary
    /// asymptotic SNR.
    pub fn full() -> Self {
        Self {
            eps_cluster: 0.0,
            ..Self::default()
        }
    }
}

impl Predictor for StructPerp {
    fn kind(&self) -> PredictorKind {
        PredictorKind::StructPerp
    }
    fn predict(&self, input: &PredictorInput<'_>) -> Result<Prediction, SnrError> {
        let sv = spectral(input, self.name())?;
        if !(0.0..1.0).contains(&self.eps_cluster) {
            return Err(SnrError::InvalidParam {
                name: "eps_cluster",
                value: self.eps_cluster.to_string(),
                expected: "a number in [0, 1)",
            });
        }
        let c = mode_contributions(&sv);
        let r = relevance(&sv, input.var_pi);
        let pick =
            |eps: f64| select_cluster(&c, &r, sv.sigma, self.eps_overlap, eps, self.group_tol);
        let main = pick(self.eps_cluster);
        let mut p = Prediction::simple(self.kind(), input.q_from_t(main.t), main.t);
        p.cluster_size = main.modes.len();
        if let Some(&j) = main
            .modes
            .iter()
            .max_by(|&&a, &&b| sv.sigma[a].total_cmp(&sv.sigma[b]).then(b.cmp(&a)))
        {
            p.anchor = Anchor::mode(&sv, j);
        }
        p.cluster = main.modes;
        p.robustness = ROBUSTNESS_EPS
            .iter()
            .map(|&e| {
                let ch = pick(e);
                ClusterRobustness {
                    eps_cluster: e,
                    cluster_size: ch.modes.len(),
                    t: ch.t,
                    q: input.q_from_t(ch.t),
                }
            })
            .collect();
        Ok(p)
    }
}

/// Matrix-free: `T = Σ_a v_a / 2` from the exact asymptotic variances of the Poisson equation
/// (no eigendecomposition; valid for non-reversible kernels).
#[derive(Clone, Copy, Debug, Default)]
pub struct MatrixFree;

impl Predictor for MatrixFree {
    fn kind(&self) -> PredictorKind {
        PredictorKind::MatrixFree
    }
    fn predict(&self, input: &PredictorInput<'_>) -> Result<Prediction, SnrError> {
        let v = input.asymptotic_var.ok_or(SnrError::MissingInput {
            predictor: self.name(),
            needs: "exact asymptotic variances v_a (Poisson solve)",
        })?;
        let t = 0.5 * v.iter().sum::<f64>();
        Ok(Prediction::simple(self.kind(), input.q_from_t(t), t))
    }
}
