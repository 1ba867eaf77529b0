//! Predictors of the gradient SNR (SCIENCE.md II.5), behind one [`Predictor`] trait.
//!
//! Every predictor has the form `Q = (K/2) ‖g‖² / T` for a timescale-weighted fluctuation `T`
//! (in sweeps; every `σ_j` is a sweep-kernel eigenvalue). With per-mode contributions
//! `c_j = Σ_a |f̂_{a,j}|² (1+σ_j) / (2(1−σ_j))` and relevance `r_j = max_a |f̂_{a,j}|²/Var_π[f_a]`:
//!
//! | predictor | `T` |
//! |---|---|
//! | [`Naive`] | `Σ_a |f̂_{a,2}|² / (1 − σ_2)` — mode 2 = first non-constant mode, whatever its parity |
//! | [`OneGap`] | `Σ_a Var_π[f_a] (1+σ_{j*}) / (2(1−σ_{j*}))`, `j*` = slowest mode with `r_j ≥ ε_overlap` |
//! | [`StructPerp`] | `Σ_{j∈C*} c_j`, `C*` = fewest relevant modes (by decreasing `c_j`, closed under degenerate groups) with `Σ c_j ≥ (1−ε_cluster) Σ_all c_j` |
//! | [`MatrixFree`] | `Σ_a v_a / 2`, `v_a` the exact asymptotic variance from the Poisson equation |
//!
//! Modes are 0-indexed here: mode 0 is the constant function (`σ_0 = 1`), so SCIENCE's "mode 2"
//! is index 1. [`tracking`] gives the verdict "tracks at factor F iff `|log10(Q_pred/Q_op)| ≤
//! log10 F`".

pub mod cluster;
mod kind;
mod predictors;
pub mod tracking;

pub use cluster::{
    ClusterChoice, DEFAULT_GROUP_TOL, mode_contributions, relevance, select_cluster,
};
pub use kind::PredictorKind;
pub use predictors::{MatrixFree, Naive, OneGap, StructPerp};
pub use tracking::{TRACKING_FACTORS, TrackingVerdict, tracks};

use crate::SnrError;
use faer::MatRef;
use thermoq_spectral::Parity;

/// Default relevance threshold `ε_overlap`.
pub const DEFAULT_EPS_OVERLAP: f64 = 1e-10;
/// Default cluster tolerance `ε_cluster`.
pub const DEFAULT_EPS_CLUSTER: f64 = 0.05;
/// Cluster tolerances reported as the threshold-robustness check.
pub const ROBUSTNESS_EPS: [f64; 3] = [0.01, 0.05, 0.1];

/// The spectral part of a predictor input: sweep eigenvalues (mode 0 constant), overlaps and
/// parities.
#[derive(Clone, Copy, Debug)]
pub struct SpectralView<'a> {
    /// Sweep-kernel eigenvalues `σ_j`, mode 0 the constant mode with `σ_0 = 1`.
    pub sigma: &'a [f64],
    /// Overlaps `f̂_{a,j}`, `n_obs × n_modes`.
    pub overlaps: MatRef<'a, f64>,
    /// Parity of every mode (may be empty if unknown).
    pub parity: &'a [Parity],
}

/// Everything a predictor may use. Build it with [`PredictorInput::new`], which validates shapes
/// and finiteness once.
#[derive(Clone, Copy, Debug)]
pub struct PredictorInput<'a> {
    /// Window `K` in sweeps.
    pub window: f64,
    /// `‖g‖²`.
    pub g_norm2: f64,
    /// `Var_π[f_a]` per observable.
    pub var_pi: &'a [f64],
    /// Spectral data (absent on the matrix-free route).
    pub spectral: Option<SpectralView<'a>>,
    /// Exact asymptotic variances `v_a` (Poisson), if computed.
    pub asymptotic_var: Option<&'a [f64]>,
}

/// The window `K` (sweeps per chain a gradient estimate averages) is finite and positive.
pub(crate) fn check_window(window: f64) -> Result<(), SnrError> {
    if window.is_finite() && window > 0.0 {
        Ok(())
    } else {
        Err(SnrError::InvalidParam {
            name: "window K",
            value: window.to_string(),
            expected: "a finite number of sweeps > 0",
        })
    }
}

impl<'a> PredictorInput<'a> {
    /// Validates and bundles the inputs.
    pub fn new(
        window: f64,
        g_norm2: f64,
        var_pi: &'a [f64],
        spectral: Option<SpectralView<'a>>,
        asymptotic_var: Option<&'a [f64]>,
    ) -> Result<Self, SnrError> {
        check_window(window)?;
        if !(g_norm2.is_finite() && g_norm2 >= 0.0) {
            return Err(SnrError::InvalidParam {
                name: "‖g‖²",
                value: g_norm2.to_string(),
                expected: "a finite number >= 0",
            });
        }
        finite("Var_π[f_a]", var_pi)?;
        let na = var_pi.len();
        if let Some(sv) = spectral {
            if sv.overlaps.nrows() != na {
                return Err(SnrError::Shape {
                    what: "overlap rows (observables)",
                    found: sv.overlaps.nrows(),
                    expected: na,
                });
            }
            if sv.overlaps.ncols() != sv.sigma.len() {
                return Err(SnrError::Shape {
                    what: "overlap columns (modes)",
                    found: sv.overlaps.ncols(),
                    expected: sv.sigma.len(),
                });
            }
            if !sv.parity.is_empty() && sv.parity.len() != sv.sigma.len() {
                return Err(SnrError::Shape {
                    what: "parity",
                    found: sv.parity.len(),
                    expected: sv.sigma.len(),
                });
            }
            if sv.sigma.len() < 2 {
                return Err(SnrError::Shape {
                    what: "modes",
                    found: sv.sigma.len(),
                    expected: 2,
                });
            }
            finite("σ", sv.sigma)?;
            for a in 0..na {
                for j in 0..sv.sigma.len() {
                    let v = sv.overlaps[(a, j)];
                    if !v.is_finite() {
                        return Err(SnrError::NonFiniteInput {
                            what: "overlaps (row-major)",
                            index: a * sv.sigma.len() + j,
                            value: v,
                        });
                    }
                }
            }
        }
        if let Some(v) = asymptotic_var {
            if v.len() != na {
                return Err(SnrError::Shape {
                    what: "asymptotic variances",
                    found: v.len(),
                    expected: na,
                });
            }
            finite("asymptotic variances", v)?;
        }
        Ok(Self {
            window,
            g_norm2,
            var_pi,
            spectral,
            asymptotic_var,
        })
    }

    /// `(K/2) ‖g‖² / T` (`+∞` when `T = 0 < ‖g‖²`, 0 when `‖g‖² = 0`).
    pub fn q_from_t(&self, t: f64) -> f64 {
        crate::exact::qop::ratio(0.5 * self.window * self.g_norm2, t)
    }
}

fn finite(what: &'static str, v: &[f64]) -> Result<(), SnrError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(SnrError::NonFiniteInput {
            what,
            index: i,
            value: v[i],
        }),
        None => Ok(()),
    }
}

/// Struct-perp at one cluster tolerance: cluster size, `T` and `Q`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterRobustness {
    /// `ε_cluster`.
    pub eps_cluster: f64,
    /// `|C*|`.
    pub cluster_size: usize,
    /// `T_O`.
    pub t: f64,
    /// `Q_struct⊥`.
    pub q: f64,
}

/// The mode a prediction is anchored on (naive: 1; one-gap: `j*`; struct-perp: slowest mode of
/// `C*`); every field is `None` when there is none (matrix-free).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// Anchor mode index.
    #[serde(rename = "anchor_mode")]
    pub mode: Option<usize>,
    /// `σ` of the anchor mode.
    #[serde(rename = "anchor_sigma")]
    pub sigma: Option<f64>,
    /// `1 − σ` of the anchor mode (naive: the spectral gap γ; one-gap: `γ_eff`).
    pub gap: Option<f64>,
    /// Parity of the anchor mode.
    #[serde(rename = "anchor_parity")]
    pub parity: Option<Parity>,
}

impl Anchor {
    /// Mode `j` of `sv` as the anchor.
    fn mode(sv: &SpectralView<'_>, j: usize) -> Self {
        Self {
            mode: Some(j),
            sigma: Some(sv.sigma[j]),
            gap: Some(1.0 - sv.sigma[j]),
            parity: sv.parity.get(j).copied(),
        }
    }
}

/// A predictor's output and the diagnostics that justify it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    /// The predictor (serialized by name: `naive`, `one-gap`, `struct-perp`, `matrix-free`).
    pub predictor: PredictorKind,
    /// Predicted SNR `Q = (K/2)‖g‖²/T`.
    pub q: f64,
    /// Timescale-weighted fluctuation `T` (sweeps).
    pub t: f64,
    /// Number of modes the prediction keeps (0 for matrix-free: it keeps all implicitly).
    pub cluster_size: usize,
    /// The anchor mode (all `None` for matrix-free); flattened, so its fields sit beside these.
    #[serde(flatten)]
    pub anchor: Anchor,
    /// The modes kept (struct-perp; naive/one-gap: the anchor).
    pub cluster: Vec<usize>,
    /// Struct-perp at `ε_cluster ∈ {0.01, 0.05, 0.1}` (empty for the others).
    pub robustness: Vec<ClusterRobustness>,
}

impl Prediction {
    fn simple(predictor: PredictorKind, q: f64, t: f64) -> Self {
        Self {
            predictor,
            q,
            t,
            cluster_size: 0,
            anchor: Anchor::default(),
            cluster: Vec::new(),
            robustness: Vec::new(),
        }
    }
}

/// Turns a spectral decomposition (or a Poisson solve) plus `g` and `K` into a predicted SNR.
pub trait Predictor {
    /// Which predictor this is.
    fn kind(&self) -> PredictorKind;
    /// Short name (`naive`, `one-gap`, `struct-perp`, `matrix-free`).
    fn name(&self) -> &'static str {
        self.kind().name()
    }
    /// The prediction, or [`SnrError::MissingInput`] if `input` lacks what this predictor needs.
    fn predict(&self, input: &PredictorInput<'_>) -> Result<Prediction, SnrError>;
}
