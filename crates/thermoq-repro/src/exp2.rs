//! exp2 — block-Gibbs planted RBMs (SCIENCE.md §2.2), checks P1–P4.
//!
//! Enumerable part: bias-free planted RBMs `Rbm::planted(m, n, M, 0.5, β, seed)` (grid in
//! [`Exp2Grid`]); per cell three kernels — `RS1` and `BLK-SYM` get the full spectral report
//! (B = ⌈5/γ_eff⌉, K = ⌈50 τ_max⌉, exact `Q_op`, naive / one-gap / struct-perp / matrix-free),
//! `BLK-ALT` gets `Q_op` by propagation and the matrix-free predictor with B, K taken from the
//! `BLK-SYM` cell. On m ∈ {4, 6} the RS1 τ_max is also estimated from sampled chains started at
//! exact π draws (P1). Monte Carlo part: larger m, sampled τ̂ per kernel and Monte Carlo `Q_op`
//! against a long-run reference gradient whose own standard error is reported. Time is in sweeps
//! (RS1: N steps; block: visible + hidden).
//!
//! Every sampled τ̂ carries a [`TauStatus`]; P1's median, maximum and PASS use resolved cells
//! only and the summary states how many cells were bounds.

use crate::error::need;
use crate::facts::{ExactFacts, analyze_reversible};
use crate::stats::{ResolvedStats, median, tracks};
use crate::{CellOutcome, Experiment, Preset, ReproError};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};
use thermoq_core::{Coloring, rng::chain_rng};
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{EnergyModel, ObservableSet, Rbm, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::exact::{CellParams, CellReport, CellRequest, analyze};
use thermoq_snr::mc::{McParams, monte_carlo_q_op};
use thermoq_snr::predict::PredictorKind;
use thermoq_snr::sampled::{ReferenceGradient, TauStatus, sample_observables};
use thermoq_spectral::{Parity, Spectrum};

/// Planted-pattern strength (as exp5: `W = (0.5/√m) Σ_μ ξ^μ ζ^μᵀ`).
pub const STRENGTH: f64 = 0.5;

/// The enumerable part of the grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExactGrid {
    /// Visible units.
    pub m: Vec<usize>,
    /// Hidden units rule.
    pub n: &'static str,
    /// Largest N = m + n.
    #[serde(rename = "max_N")]
    pub max_n: usize,
    /// Planted patterns.
    pub patterns: Vec<usize>,
    /// Inverse temperatures.
    pub beta: Vec<f64>,
}

/// The Monte Carlo part of the grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct McGrid {
    /// Visible units.
    pub m: Vec<usize>,
    /// Hidden units.
    pub n: Vec<usize>,
    /// Planted patterns.
    pub patterns: Vec<usize>,
    /// Inverse temperatures.
    pub beta: Vec<f64>,
    /// Monte Carlo `Q_op` seeds.
    pub seeds: usize,
}

/// The grid, as recorded in `results.json`; [`Exp2::cells`] iterates over it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exp2Grid {
    /// Enumerable cells.
    pub exact: ExactGrid,
    /// Monte Carlo cells.
    pub monte_carlo: McGrid,
    /// Pattern strength.
    pub strength: f64,
    /// Model.
    pub model: &'static str,
    /// Kernels.
    pub kernels: [&'static str; 3],
    /// Gradient observables.
    pub observables: &'static str,
    /// Data law.
    pub data: &'static str,
    /// Burn-in rule.
    pub burn_in: &'static str,
    /// Window rule.
    pub window: &'static str,
}

/// One exp2 cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellConfig {
    /// Visible units.
    pub m: usize,
    /// Hidden units.
    pub n: usize,
    /// Planted patterns.
    pub patterns: usize,
    /// Inverse temperature.
    pub beta: f64,
    /// Pattern strength.
    pub strength: f64,
    /// Seed of the planted patterns.
    pub model_seed: u64,
    /// Data law spec.
    pub data: String,
    /// Enumerable (exact) cell; otherwise Monte Carlo only.
    pub exact: bool,
    /// P1: sampled RS1 τ on this exact cell.
    pub p1: bool,
    /// Monte Carlo Q_op seeds (Monte Carlo cells).
    pub mc_seeds: usize,
}

impl CellConfig {
    /// The cell id, e.g. `ex-m04-n2-M1-b0.5`.
    pub fn id(&self) -> String {
        format!(
            "{}-m{:02}-n{}-M{}-b{:.1}",
            if self.exact { "ex" } else { "mc" },
            self.m,
            self.n,
            self.patterns,
            self.beta
        )
    }
}

/// Exact facts for one reversible kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevKernel {
    /// Gap, φ₂, γ_eff, τ_max, B, K, `Q_op` and the predictors' ratios.
    #[serde(flatten)]
    pub exact: ExactFacts,
    /// matrix-free / Q_op.
    pub matrix_free_ratio: f64,
    /// Top non-constant sweep eigenvalues (up to 8).
    pub sigma_top: Vec<f64>,
}

impl RevKernel {
    /// `Q_pred/Q_op` of one predictor.
    pub fn ratio(&self, kind: PredictorKind) -> f64 {
        match kind {
            PredictorKind::Naive => self.exact.naive_ratio,
            PredictorKind::OneGap => self.exact.one_gap_ratio,
            PredictorKind::StructPerp => self.exact.struct_perp_ratio,
            PredictorKind::MatrixFree => self.matrix_free_ratio,
        }
    }
}

/// Exact facts for BLK-ALT (non-reversible).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AltKernel {
    /// Burn-in (from BLK-SYM).
    pub burn_in: u64,
    /// Window (from BLK-SYM).
    pub window: u64,
    /// `τ_max` by the Poisson solver (exact).
    pub tau_max: f64,
    /// Propagated exact `Q_op`.
    pub q_op: f64,
    /// matrix-free / Q_op.
    pub matrix_free_ratio: f64,
}

/// P1 on one cell: sampled vs exact RS1 τ_max.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct P1 {
    /// Chains.
    pub chains: usize,
    /// Sweeps per chain.
    pub sweeps: usize,
    /// Exact τ_max.
    pub tau_exact: f64,
    /// Pooled-Sokal τ̂_max over the coupling observables (a bound unless `status` is resolved).
    pub tau_hat: f64,
    /// Whether `tau_hat` is a measurement.
    pub status: TauStatus,
    /// `|τ̂ − τ|/τ` (meaningless for a bound: never summarized then).
    pub rel_err: f64,
}

/// Exact part of a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactPart {
    /// RS1.
    pub rs1: RevKernel,
    /// BLK-SYM.
    pub blk_sym: RevKernel,
    /// BLK-ALT.
    pub blk_alt: AltKernel,
    /// RS1 step-kernel λ₂ = σ₂^{1/N}.
    pub rs1_step_lambda2: f64,
    /// RS1 step modes within 1e-3 of λ₂.
    pub rs1_step_cluster: usize,
    /// BLK-SYM sweep modes within 1e-3 of σ₂.
    pub blk_sym_cluster: usize,
    /// P1, when selected.
    pub p1: Option<P1>,
}

/// Monte Carlo facts for one kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McKernel {
    /// Kernel name.
    pub kernel: KernelKind,
    /// Pooled-Sokal τ̂_max over coupling observables (a bound unless `status` is resolved).
    pub tau_hat: f64,
    /// Whether `tau_hat` is a measurement.
    pub status: TauStatus,
    /// Whether every observable's Sokal window was found.
    pub window_found: bool,
    /// Burn-in `⌈5 τ̂⌉`.
    pub burn_in: u64,
    /// Window `⌈50 τ̂⌉`.
    pub window: u64,
    /// Monte Carlo Q_op.
    pub q_mc: f64,
    /// 95 % interval.
    pub q_lo: f64,
    /// 95 % interval.
    pub q_hi: f64,
}

/// Monte Carlo part of a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McPart {
    /// `‖g_ref‖²` of the long-run reference gradient.
    pub g_ref_norm2: f64,
    /// `Σ_a SE_a²` of the reference (τ-corrected), its own squared error.
    pub g_ref_err2: f64,
    /// `g_ref_err2 / g_ref_norm2`.
    pub g_ref_rel_err2: f64,
    /// RS1, BLK-SYM, BLK-ALT.
    pub kernels: Vec<McKernel>,
}

/// Everything exp2 records for a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Exact part.
    pub exact: Option<ExactPart>,
    /// Monte Carlo part.
    pub mc: Option<McPart>,
}

/// Tracking of one predictor on one kernel (factor 2).
#[derive(Clone, Debug, Serialize)]
pub struct Track {
    /// Kernel.
    pub kernel: KernelKind,
    /// Predictor.
    pub predictor: PredictorKind,
    /// Cells within 2×.
    pub tracks: usize,
    /// Cells.
    pub cells: usize,
    /// `tracks / cells`.
    pub rate: f64,
}

/// P2 row (weak-coupling degeneracy) of one exact cell.
#[derive(Clone, Debug, Serialize)]
pub struct P2Row {
    /// Cell id.
    pub id: String,
    /// N.
    pub n_spins: usize,
    /// RS1 step λ₂.
    pub rs1_step_lambda2: f64,
    /// `1 − 1/N`.
    pub one_minus_inv_n: f64,
    /// RS1 step modes within 1e-3 of λ₂.
    pub rs1_cluster: usize,
    /// BLK-SYM sweep σ₂.
    pub blk_sym_sigma2: f64,
    /// BLK-SYM modes within 1e-3 of σ₂.
    pub blk_sym_cluster: usize,
}

/// P3 for one kernel.
#[derive(Clone, Debug, Serialize)]
pub struct P3Row {
    /// Kernel.
    pub kernel: KernelKind,
    /// Cells with φ₂ odd.
    pub odd: usize,
    /// Of those, cells with overlap ≤ 1e-12.
    pub zero_overlap: usize,
    /// Exact cells.
    pub cells: usize,
}

/// A P1 cell whose τ̂ is a bound (listed, never summarized as a value).
#[derive(Clone, Debug, Serialize)]
pub struct P1Bound {
    /// Cell id.
    pub id: String,
    /// The bound.
    pub tau_hat: f64,
    /// Its status.
    pub status: TauStatus,
    /// Exact τ_max.
    pub tau_exact: f64,
}

/// Monte Carlo τ̂ statuses of one kernel.
#[derive(Clone, Debug, Serialize)]
pub struct McTauCount {
    /// Kernel.
    pub kernel: KernelKind,
    /// Cells whose τ̂ is resolved.
    pub resolved: usize,
    /// Cells whose τ̂ is a lower bound.
    pub lower_bound: usize,
    /// Cells whose τ̂ has no window.
    pub no_window: usize,
}

/// The headline numbers (`results.json` → `summary`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Cells.
    pub cells: usize,
    /// Exact cells.
    pub exact_cells: usize,
    /// Monte Carlo cells.
    pub mc_cells: usize,
    /// P1: sampled against exact τ_max.
    #[serde(flatten)]
    pub p1: P1Summary,
    /// P2: the top cluster at β = 0.5.
    #[serde(flatten)]
    pub p2: P2Summary,
    /// P3: odd φ₂ against the couplings.
    #[serde(flatten)]
    pub p3: P3Summary,
    /// P4: tracking per kernel and predictor.
    pub p4: Vec<Track>,
    /// The Monte Carlo part.
    #[serde(flatten)]
    pub mc: McSummary,
}

/// P1 in the [`Summary`] (keys `p1_…`).
#[derive(Clone, Debug, Serialize)]
pub struct P1Summary {
    /// Cells with a sampled τ̂ (resolved or not).
    #[serde(rename = "p1_cells")]
    pub cells: usize,
    /// Selected cells skipped because τ_max > 100.
    #[serde(rename = "p1_skipped")]
    pub skipped: usize,
    /// `|τ̂ − τ|/τ` over resolved cells only (`bounds` counts the cells left out).
    #[serde(rename = "p1_rel_err")]
    pub rel_err: ResolvedStats,
    /// The cells whose τ̂ is only a bound.
    #[serde(rename = "p1_unresolved")]
    pub unresolved: Vec<P1Bound>,
    /// Passes: at least one resolved cell and median relative error ≤ 25 %.
    #[serde(rename = "p1_pass")]
    pub pass: bool,
}

/// P2 in the [`Summary`] (keys `p2_…`).
#[derive(Clone, Debug, Serialize)]
pub struct P2Summary {
    /// Every exact β = 0.5 cell's step/sweep top cluster.
    #[serde(rename = "p2_beta_half")]
    pub beta_half: Vec<P2Row>,
    /// β = 0.5 cells whose RS1 λ₂ lies within 0.05/N of 1 − 1/N.
    #[serde(rename = "p2_rs1_near_one_minus_inv_n")]
    pub rs1_near_one_minus_inv_n: usize,
    /// β = 0.5 cells whose RS1 top step cluster has exactly N modes.
    #[serde(rename = "p2_rs1_cluster_is_n")]
    pub rs1_cluster_is_n: usize,
    /// Median BLK-SYM σ₂ at β = 0.5.
    #[serde(rename = "p2_blk_sym_sigma2_median")]
    pub blk_sym_sigma2_median: f64,
    /// β = 0.5 cells whose BLK-SYM top cluster has more than one mode.
    #[serde(rename = "p2_blk_sym_degenerate")]
    pub blk_sym_degenerate: usize,
}

/// P3 in the [`Summary`] (keys `p3`, `p3_max_overlap`).
#[derive(Clone, Debug, Serialize)]
pub struct P3Summary {
    /// Per reversible kernel.
    #[serde(rename = "p3")]
    pub rows: Vec<P3Row>,
    /// Largest overlap of an odd φ₂ with the couplings, any kernel.
    #[serde(rename = "p3_max_overlap")]
    pub max_overlap: f64,
}

/// The Monte Carlo part in the [`Summary`] (keys `mc_…`).
#[derive(Clone, Debug, Serialize)]
pub struct McSummary {
    /// Median relative squared error of the reference gradient.
    #[serde(rename = "mc_ref_rel_err2_median")]
    pub ref_rel_err2_median: f64,
    /// Largest relative squared error of the reference gradient.
    #[serde(rename = "mc_ref_rel_err2_max")]
    pub ref_rel_err2_max: f64,
    /// τ̂ statuses per kernel.
    #[serde(rename = "mc_tau_status")]
    pub tau_status: Vec<McTauCount>,
}

crate::experiment_type!(
    /// exp2 for one preset and seed.
    Exp2,
    "exp2",
    grid: Exp2Grid
);

const MC_KERNELS: [KernelKind; 3] = [KernelKind::Rs1, KernelKind::BlkSym, KernelKind::BlkAlt];

impl Experiment for Exp2 {
    fn grid(&self) -> Exp2Grid {
        let quick = self.config.preset != Preset::Paper;
        Exp2Grid {
            exact: ExactGrid {
                m: vec![4, 5, 6],
                n: "2..=m",
                max_n: if quick { 10 } else { 12 },
                patterns: vec![1, 2, 3, 4],
                beta: vec![0.5, 1.0, 2.0, 3.0],
            },
            monte_carlo: McGrid {
                m: if quick {
                    vec![8, 16]
                } else {
                    vec![8, 10, 12, 16]
                },
                n: vec![2, 3],
                patterns: vec![1, 2, 3],
                beta: vec![1.0, 2.0],
                seeds: if quick { 100 } else { 400 },
            },
            strength: STRENGTH,
            model: "Rbm::planted(m, n, M, strength, beta, seed)",
            kernels: ["rs1", "blk-sym", "blk-alt"],
            observables: "couplings f_ij = -v_i h_j",
            data: "patterns M=3 (with negatives) over all N spins, eps=0.1, seed per cell",
            burn_in: "ceil(5/gamma_eff) (blk-alt: from blk-sym; MC cells: ceil(5 tau_hat))",
            window: "ceil(50 tau_max) (blk-alt: from blk-sym; MC cells: ceil(50 tau_hat) <= 50000)",
        }
    }

    fn cells(&self) -> Vec<(String, CellConfig)> {
        let grid = self.grid();
        let base = self.config.seed.wrapping_mul(1_000_003);
        let mut cells = Vec::new();
        let mut k = 0u64;
        let mut push = |m, n, patterns, beta, exact, mc| {
            let c = CellConfig {
                m,
                n,
                patterns,
                beta,
                strength: grid.strength,
                model_seed: base.wrapping_add(2_000 + k),
                data: PatternSpec::new(3, 0.1, base.wrapping_add(2_500 + k))
                    .map(|p| p.to_spec_string())
                    .unwrap_or_default(),
                exact,
                p1: exact && (m == 4 || m == 6),
                mc_seeds: mc,
            };
            k += 1;
            cells.push((c.id(), c));
        };
        let ex = &grid.exact;
        for &m in &ex.m {
            for n in 2..=m {
                if m + n > ex.max_n {
                    continue;
                }
                for &patterns in &ex.patterns {
                    for &beta in &ex.beta {
                        push(m, n, patterns, beta, true, 0);
                    }
                }
            }
        }
        let mc = &grid.monte_carlo;
        for &m in &mc.m {
            for &n in &mc.n {
                for &patterns in &mc.patterns {
                    for &beta in &mc.beta {
                        push(m, n, patterns, beta, false, mc.seeds);
                    }
                }
            }
        }
        cells
    }

    fn run_cell(&self, c: &CellConfig) -> Result<CellResult, ReproError> {
        let _span = tracing::info_span!("exp2 cell", id = %c.id()).entered();
        let rbm = Rbm::planted(c.m, c.n, c.patterns, c.strength, c.beta, c.model_seed)?;
        let spec = PatternSpec::parse(&c.data)?;
        let data = PatternLaw::new(rbm.n_spins(), &spec)?.observable_means(rbm.graph(), false)?;
        if c.exact {
            exact_cell(c, &rbm, &data).map(|e| CellResult {
                exact: Some(e),
                mc: None,
            })
        } else {
            mc_cell(c, &rbm, &data).map(|m| CellResult {
                exact: None,
                mc: Some(m),
            })
        }
    }

    fn summarize(&self, recs: &[CellOutcome<CellConfig, CellResult>]) -> Summary {
        let ex: Vec<(&CellOutcome<CellConfig, CellResult>, &ExactPart)> = recs
            .iter()
            .filter_map(|r| r.result.exact.as_ref().map(|e| (r, e)))
            .collect();
        let mcs: Vec<&McPart> = recs.iter().filter_map(|r| r.result.mc.as_ref()).collect();
        let p1: Vec<(&str, &P1)> = ex
            .iter()
            .filter_map(|(r, e)| e.p1.as_ref().map(|p| (r.id.as_str(), p)))
            .collect();
        let p1_sel = ex.iter().filter(|(r, _)| r.config.p1).count();
        let p1_rel_err = ResolvedStats::new(p1.iter().map(|(_, p)| (p.rel_err, p.status)));
        let p1_unresolved = p1
            .iter()
            .filter(|(_, p)| !p.status.is_resolved())
            .map(|(id, p)| P1Bound {
                id: id.to_string(),
                tau_hat: p.tau_hat,
                status: p.status,
                tau_exact: p.tau_exact,
            })
            .collect();
        let p2: Vec<P2Row> = ex
            .iter()
            .filter(|(r, _)| r.config.beta == 0.5)
            .map(|(r, e)| P2Row {
                id: r.id.clone(),
                n_spins: r.config.m + r.config.n,
                rs1_step_lambda2: e.rs1_step_lambda2,
                one_minus_inv_n: 1.0 - 1.0 / (r.config.m + r.config.n) as f64,
                rs1_cluster: e.rs1_step_cluster,
                blk_sym_sigma2: e.blk_sym.sigma_top.first().copied().unwrap_or(f64::NAN),
                blk_sym_cluster: e.blk_sym_cluster,
            })
            .collect();
        let reversible: [(KernelKind, KernelOf); 2] = [
            (KernelKind::Rs1, |e| &e.rs1),
            (KernelKind::BlkSym, |e| &e.blk_sym),
        ];
        let mut p3 = Vec::new();
        let mut p3_max = 0.0f64;
        let mut p4 = Vec::new();
        let mut track = |kernel, predictor, ratios: Vec<f64>| {
            let t = ratios.iter().filter(|r| tracks(**r)).count();
            p4.push(Track {
                kernel,
                predictor,
                tracks: t,
                cells: ratios.len(),
                rate: t as f64 / ratios.len().max(1) as f64,
            });
        };
        for (kind, get) in reversible {
            let ks: Vec<&RevKernel> = ex.iter().map(|(_, e)| get(e)).collect();
            let odd: Vec<&&RevKernel> = ks
                .iter()
                .filter(|k| k.exact.phi2.parity == Parity::Odd)
                .collect();
            p3_max = odd
                .iter()
                .map(|k| k.exact.phi2.max_overlap)
                .fold(p3_max, f64::max);
            p3.push(P3Row {
                kernel: kind,
                odd: odd.len(),
                zero_overlap: odd
                    .iter()
                    .filter(|k| k.exact.phi2.max_overlap <= 1e-12)
                    .count(),
                cells: ex.len(),
            });
            for p in PredictorKind::ALL {
                track(kind, p, ks.iter().map(|k| k.ratio(p)).collect());
            }
        }
        track(
            KernelKind::BlkAlt,
            PredictorKind::MatrixFree,
            ex.iter()
                .map(|(_, e)| e.blk_alt.matrix_free_ratio)
                .collect(),
        );
        let mc_tau_status = MC_KERNELS
            .iter()
            .map(|&kind| {
                let st: Vec<TauStatus> = mcs
                    .iter()
                    .flat_map(|m| m.kernels.iter().filter(|k| k.kernel == kind))
                    .map(|k| k.status)
                    .collect();
                let n = |s| st.iter().filter(|x| **x == s).count();
                McTauCount {
                    kernel: kind,
                    resolved: n(TauStatus::Resolved),
                    lower_bound: n(TauStatus::LowerBound),
                    no_window: n(TauStatus::NoWindow),
                }
            })
            .collect();
        Summary {
            cells: recs.len(),
            exact_cells: ex.len(),
            mc_cells: mcs.len(),
            p1: P1Summary {
                cells: p1.len(),
                skipped: p1_sel - p1.len(),
                pass: p1_rel_err.median.is_some_and(|m| m <= 0.25),
                rel_err: p1_rel_err,
                unresolved: p1_unresolved,
            },
            p2: P2Summary {
                rs1_near_one_minus_inv_n: p2
                    .iter()
                    .filter(|r| {
                        (r.rs1_step_lambda2 - r.one_minus_inv_n).abs() <= 0.05 / r.n_spins as f64
                    })
                    .count(),
                rs1_cluster_is_n: p2.iter().filter(|r| r.rs1_cluster == r.n_spins).count(),
                blk_sym_sigma2_median: median(p2.iter().map(|r| r.blk_sym_sigma2).collect()),
                blk_sym_degenerate: p2.iter().filter(|r| r.blk_sym_cluster > 1).count(),
                beta_half: p2,
            },
            p3: P3Summary {
                rows: p3,
                max_overlap: p3_max,
            },
            p4,
            mc: McSummary {
                ref_rel_err2_median: median(mcs.iter().map(|m| m.g_ref_rel_err2).collect()),
                ref_rel_err2_max: mcs.iter().map(|m| m.g_ref_rel_err2).fold(0.0, f64::max),
                tau_status: mc_tau_status,
            },
        }
    }
}

fn rev(r: &CellReport, spec: &Spectrum) -> Result<RevKernel, ReproError> {
    Ok(RevKernel {
        exact: ExactFacts::of(r)?,
        matrix_free_ratio: r.predicted(PredictorKind::MatrixFree)?.verdict.ratio,
        sigma_top: spec.sigma.iter().skip(1).take(8).copied().collect(),
    })
}

/// A state drawn from `pi` by inversion of one uniform number.
fn sample_pi(pi: &[f64], n: usize, rng: &mut impl Rng) -> Vec<i8> {
    let s = thermoq_models::exact::state_by_inversion(pi, rng.random());
    (0..n)
        .map(|i| if s >> i & 1 == 1 { 1 } else { -1 })
        .collect()
}

fn kernel(rbm: &Rbm, kind: KernelKind) -> Result<GibbsKernel, ReproError> {
    let g = rbm.graph();
    let col = match kind {
        KernelKind::Rs1 => None,
        _ => Some(Coloring::from_colors(g, rbm.two_block_colors())?),
    };
    Ok(GibbsKernel::new(kind, g, col)?)
}

fn exact_cell(c: &CellConfig, rbm: &Rbm, data: &[f64]) -> Result<ExactPart, ReproError> {
    let nn = rbm.n_spins();
    let [rs1, sym, alt] = MC_KERNELS.map(|k| kernel(rbm, k));
    let (rs1, sym, alt) = (rs1?, sym?, alt?);
    let params = CellParams::default();
    let req = CellRequest::auto(data, &params);
    let (s_rs1, r_rs1) = analyze_reversible(rbm, &rs1, req)?;
    let (s_sym, r_sym) = analyze_reversible(rbm, &sym, req)?;
    let (b, k) = (r_sym.config.burn_in, r_sym.config.window);
    let r_alt = analyze(rbm, &alt, &req.fixed(b, k))?;
    let rs1_k = rev(&r_rs1, &s_rs1)?;
    let sym_k = rev(&r_sym, &s_sym)?;
    let lam = |s: f64| s.max(0.0).powf(1.0 / nn as f64);
    let l2 = lam(s_rs1.sigma[1]);
    let rs1_step_cluster = s_rs1.sigma[1..]
        .iter()
        .filter(|s| (lam(**s) - l2).abs() <= 1e-3)
        .count();
    let blk_sym_cluster = s_sym.sigma[1..]
        .iter()
        .filter(|s| (**s - s_sym.sigma[1]).abs() <= 1e-3)
        .count();
    // P1: 8 chains from exact π draws, 2000 τ_max sweeps each (≥ 4000), only where
    // τ_max ≤ 100 so the run stays short; the Sokal relative error is then ≈ √(2(2W+1)/(C L))
    // ≈ √(2·11 τ/(8·2000 τ)) ≈ 4 % (W ≈ 5τ).
    let p1 = if c.p1 && rs1_k.exact.tau_max <= 100.0 {
        let law = ExactLaw::new(rbm)?;
        let mut rng = chain_rng(c.model_seed ^ 0x7031, 1 << 40);
        let chains = 8;
        let starts: Vec<Vec<i8>> = (0..chains)
            .map(|_| sample_pi(&law.pi, nn, &mut rng))
            .collect();
        let sweeps = ((2000.0 * rs1_k.exact.tau_max).ceil() as usize).max(4000);
        let run = sample_observables(
            rbm,
            &rs1,
            ObservableSet::Couplings,
            &starts,
            0,
            sweeps,
            c.model_seed ^ 0x7032,
        )?;
        let t = run.tau.tau_hat;
        Some(P1 {
            chains,
            sweeps,
            tau_exact: rs1_k.exact.tau_max,
            tau_hat: t,
            status: run.tau.status,
            rel_err: (t - rs1_k.exact.tau_max).abs() / rs1_k.exact.tau_max,
        })
    } else {
        None
    };
    let alt_pred = r_alt.predicted(PredictorKind::MatrixFree)?;
    Ok(ExactPart {
        rs1_step_lambda2: l2,
        rs1_step_cluster,
        blk_sym_cluster,
        blk_alt: AltKernel {
            burn_in: b,
            window: k,
            tau_max: need(r_alt.tau_max, "tau_max", "Poisson solve")?,
            q_op: r_alt.qop.q_op,
            matrix_free_ratio: alt_pred.verdict.ratio,
        },
        rs1: rs1_k,
        blk_sym: sym_k,
        p1,
    })
}

/// Monte Carlo cell. Reference: 16 BLK-SYM chains × 40 000 sweeps (quick: 20 000) after 4 000
/// burn-in from uniform starts; its squared error Σ_a Var_a τ_a/(C L) is reported beside ‖g_ref‖².
fn mc_cell(c: &CellConfig, rbm: &Rbm, data: &[f64]) -> Result<McPart, ReproError> {
    let nn = rbm.n_spins();
    // `chains` chains of `kern` on the couplings from uniform starts: the starts are drawn with
    // seed `model_seed ^ salt`, the chains run with `model_seed ^ (salt + 1)`.
    let from_uniform = |kern: &GibbsKernel, salt: u64, chains: usize, burn_in, sweeps| {
        let starts: Vec<Vec<i8>> = (0..chains)
            .map(|ch| {
                let mut r = chain_rng(c.model_seed ^ salt, ch as u64);
                (0..nn)
                    .map(|_| if r.random::<bool>() { 1 } else { -1 })
                    .collect()
            })
            .collect();
        let seed = c.model_seed ^ (salt + 1);
        sample_observables(
            rbm,
            kern,
            ObservableSet::Couplings,
            &starts,
            burn_in,
            sweeps,
            seed,
        )
    };
    let (ref_sweeps, tau_sweeps) = if c.mc_seeds >= 400 {
        (40_000, 10_000)
    } else {
        (20_000, 5_000)
    };
    let sym = kernel(rbm, KernelKind::BlkSym)?;
    let reference = from_uniform(&sym, 0x7265, 16, 4_000, ref_sweeps)?;
    let g_ref = ReferenceGradient::new(data, &reference)?;
    let mut ks = Vec::new();
    for kind in MC_KERNELS {
        let kern = kernel(rbm, kind)?;
        let run = from_uniform(&kern, 0x7461, 8, 1_000, tau_sweeps)?;
        // B and K are scaled to τ̂ even when it is only a bound: the run is then shorter than
        // it should be, which the status records.
        let t = run.tau.tau_hat.max(1.0);
        let (b, k) = (
            (5.0 * t).ceil() as u64,
            ((50.0 * t).ceil() as u64).min(50_000),
        );
        let p = McParams::new(c.mc_seeds, b as usize, k as usize).seed(c.model_seed ^ 0x6d63);
        let r = monte_carlo_q_op(rbm, &kern, ObservableSet::Couplings, data, &g_ref.g, &p)?;
        ks.push(McKernel {
            kernel: kind,
            tau_hat: run.tau.tau_hat,
            status: run.tau.status,
            window_found: run.window_found,
            burn_in: b,
            window: k,
            q_mc: r.q_op,
            q_lo: r.q_lo,
            q_hi: r.q_hi,
        });
    }
    Ok(McPart {
        g_ref_norm2: g_ref.norm2,
        g_ref_err2: g_ref.err2,
        g_ref_rel_err2: g_ref.rel_err2(),
        kernels: ks,
    })
}

/// Picks one reversible kernel's facts out of an exact cell.
type KernelOf = fn(&ExactPart) -> &RevKernel;
