//! What the exact experiments (exp1, exp2, exp5) share: the protocol a grid records
//! ([`Protocol`]), the analysis of a reversible kernel with its full spectrum
//! ([`analyze_reversible`]) and the exact report of one reversible kernel on one cell ([`ExactFacts`]: the
//! gap and parity of φ₂, γ_eff, τ_max, the B and K rules' values, Q_op and the predictors'
//! ratios to it). Both are flattened into the experiments' own types, so `results.json` and the
//! cell files keep their field names.

use crate::ReproError;
use crate::error::need;
use serde::{Deserialize, Serialize};
use thermoq_models::EnergyModel;
use thermoq_samplers::Kernel;
use thermoq_snr::exact::cell::spectrum_of;
use thermoq_snr::exact::{CellReport, CellRequest, Phi2, analyze};
use thermoq_snr::predict::{DEFAULT_EPS_CLUSTER, DEFAULT_EPS_OVERLAP, PredictorKind};
use thermoq_spectral::Spectrum;

/// How every cell of an exact grid is analysed (recorded in `results.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Protocol {
    /// Kernel.
    pub kernel: &'static str,
    /// Gradient observables.
    pub observables: &'static str,
    /// Data law.
    pub data: &'static str,
    /// Burn-in rule.
    pub burn_in: &'static str,
    /// Window rule.
    pub window: &'static str,
    /// Relevance threshold.
    pub eps_overlap: f64,
    /// Cluster tolerance.
    pub eps_cluster: f64,
}

impl Protocol {
    /// `kernel` on `observables` under the data law `data`, with the exact experiments' rules:
    /// `B = ⌈5/γ_eff⌉`, `K = ⌈50 τ_max⌉` and the default predictor thresholds.
    pub fn exact(kernel: &'static str, observables: &'static str, data: &'static str) -> Self {
        Self {
            kernel,
            observables,
            data,
            burn_in: "ceil(5/gamma_eff)",
            window: "ceil(50 tau_max)",
            eps_overlap: DEFAULT_EPS_OVERLAP,
            eps_cluster: DEFAULT_EPS_CLUSTER,
        }
    }
}

/// `req` on the reversible `kernel` of `model`, analysed with the kernel's full spectrum:
/// `(spectrum, report)` (the callers read the spectrum too: its modes and their parities).
pub(crate) fn analyze_reversible<M, K>(
    model: &M,
    kernel: &K,
    req: CellRequest<'_>,
) -> Result<(Spectrum, CellReport), ReproError>
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    let spectrum = spectrum_of(kernel, model)?;
    let report = analyze(model, kernel, &req.with_spectrum(&spectrum))?;
    Ok((spectrum, report))
}

/// The exact spectral report of one reversible kernel on one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactFacts {
    /// `1 − σ_2` (sweep).
    pub gap: f64,
    /// φ₂'s parity and largest overlap (flattened: `phi2_parity`, `phi2_max_overlap`).
    #[serde(flatten)]
    pub phi2: Phi2,
    /// `γ_eff = 1 − σ_{j*}`.
    pub gamma_eff: f64,
    /// `τ_max` (sweeps, exact).
    pub tau_max: f64,
    /// Burn-in B.
    pub burn_in: u64,
    /// Window K.
    pub window: u64,
    /// Exact `Q_op`.
    pub q_op: f64,
    /// naive / `Q_op`.
    pub naive_ratio: f64,
    /// one-gap / `Q_op`.
    pub one_gap_ratio: f64,
    /// struct-perp / `Q_op`.
    pub struct_perp_ratio: f64,
    /// `|C*|` of struct-perp.
    pub cluster_size: usize,
}

impl ExactFacts {
    /// The facts of `r`, which must carry a spectrum (a reversible kernel) with an
    /// observable-relevant mode.
    pub fn of(r: &CellReport) -> Result<Self, ReproError> {
        let s = need(r.spectrum.as_ref(), "spectrum", "reversible kernel")?;
        let ratio = |k| r.predicted(k).map(|p| p.verdict.ratio);
        let sp = r.predicted(PredictorKind::StructPerp)?;
        Ok(Self {
            gap: s.gap,
            phi2: s.phi2,
            gamma_eff: need(s.gamma_eff, "gamma_eff", "some mode overlaps the couplings")?,
            tau_max: need(r.tau_max, "tau_max", "reversible kernel")?,
            burn_in: r.config.burn_in,
            window: r.config.window,
            q_op: r.qop.q_op,
            naive_ratio: ratio(PredictorKind::Naive)?,
            one_gap_ratio: ratio(PredictorKind::OneGap)?,
            struct_perp_ratio: sp.verdict.ratio,
            cluster_size: sp.prediction.cluster_size,
        })
    }
}
