//! exp1 — the exact-diagonalization grid of SCIENCE.md II.6.
//!
//! Cells: {Curie–Weiss, SK, Hopfield M = 2, Hopfield M = 3} × N × β ([`Exp1Grid`]), bias-free,
//! kernel `RS1`, coupling observables, data law of II.4 (M = 3 patterns with their negatives,
//! ε = 0.1). Per cell: spectrum facts (gap, parity of φ₂, its max overlap with the couplings),
//! certificates, exact `Q_op` at `B = ⌈5/γ_eff⌉`, `K = ⌈50 τ_max⌉`, the naive, one-gap,
//! struct-perp and matrix-free predictions with their ratios; a K-sweep; the exact τ_int of the
//! magnetization; and on selected cells a Monte Carlo `Q_op` from real runs. Every τ here is
//! exact (from the spectrum), so no τ̂ status is needed.

use crate::error::need;
use crate::facts::{Protocol, analyze_reversible};
use crate::stats::{Counts, max0, median};
use crate::{CellOutcome, Experiment, Preset, ReproError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{EnergyModel, IsingModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::exact::{
    CellParams, CellReport, CellRequest, ExactGradient, StartLaw, WindowConfig,
    cell::asymptotic_variances_spectral, overlaps, qop_spectral,
};
use thermoq_snr::mc::{McParams, monte_carlo_q_op};
use thermoq_snr::predict::PredictorKind;
use thermoq_spectral::Parity;

/// Model family of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Curie–Weiss, `J_ij = 1/N`.
    CurieWeiss,
    /// Sherrington–Kirkpatrick, `J_ij ~ N(0, 1/N)`.
    Sk,
    /// Planted Hopfield with 2 patterns.
    Hopfield2,
    /// Planted Hopfield with 3 patterns.
    Hopfield3,
}

impl Family {
    /// All four, in grid order.
    pub const ALL: [Family; 4] = [Self::CurieWeiss, Self::Sk, Self::Hopfield2, Self::Hopfield3];

    /// Short tag used in cell ids.
    pub fn tag(self) -> &'static str {
        match self {
            Self::CurieWeiss => "cw",
            Self::Sk => "sk",
            Self::Hopfield2 => "hop2",
            Self::Hopfield3 => "hop3",
        }
    }
}

/// The K-sweep multiples `K / τ_max`.
pub const K_SWEEP: [f64; 3] = [1.0, 5.0, 50.0];

/// The grid, as recorded in `results.json`; [`Exp1::cells`] iterates over it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exp1Grid {
    /// Model families.
    pub families: Vec<Family>,
    /// Spin counts N.
    pub n: Vec<usize>,
    /// Inverse temperatures β.
    pub beta: Vec<f64>,
    /// Kernel, observables, data law, B and K rules, predictor thresholds.
    #[serde(flatten)]
    pub protocol: Protocol,
    /// Chains per estimate.
    pub chains: u64,
}

/// One cell's configuration (everything that determines its numbers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellConfig {
    /// Family.
    pub family: Family,
    /// Spins.
    pub n: usize,
    /// Inverse temperature.
    pub beta: f64,
    /// Seed of the random couplings / planted patterns.
    pub model_seed: u64,
    /// Data law spec, `patterns:M=3,eps=0.1,seed=S`.
    pub data: String,
    /// Monte Carlo seeds for the `Q_op` check (0 = no check).
    pub mc_seeds: usize,
}

impl CellConfig {
    /// The cell id, e.g. `cw-n08-b0.5`.
    pub fn id(&self) -> String {
        format!("{}-n{:02}-b{:.1}", self.family.tag(), self.n, self.beta)
    }

    /// The model.
    pub fn model(&self) -> IsingModel {
        match self.family {
            Family::CurieWeiss => builders::curie_weiss(self.n, self.beta),
            Family::Sk => builders::sherrington_kirkpatrick(self.n, self.beta, self.model_seed),
            Family::Hopfield2 => builders::hopfield(self.n, 2, self.beta, self.model_seed).0,
            Family::Hopfield3 => builders::hopfield(self.n, 3, self.beta, self.model_seed).0,
        }
    }
}

/// One predictor's number in one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pred {
    /// Predicted Q.
    pub q: f64,
    /// `q / Q_op`.
    pub ratio: f64,
    /// Modes kept.
    pub cluster_size: usize,
}

impl Pred {
    fn of(r: &CellReport, kind: PredictorKind) -> Result<Self, ReproError> {
        let p = r.predicted(kind)?;
        Ok(Self {
            q: p.prediction.q,
            ratio: p.verdict.ratio,
            cluster_size: p.prediction.cluster_size,
        })
    }
}

/// The K-sweep row of a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KRow {
    /// `K / τ_max`.
    pub k_over_tau: f64,
    /// Window K (sweeps).
    pub window: u64,
    /// Exact `Q_op`.
    pub q_op: f64,
    /// one-gap ratio.
    pub one_gap_ratio: f64,
    /// struct-perp ratio.
    pub struct_perp_ratio: f64,
}

/// Monte Carlo check of a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McCheck {
    /// Seeds.
    pub seeds: usize,
    /// Monte Carlo `Q_op`.
    pub q_mc: f64,
    /// 95 % interval.
    pub q_lo: f64,
    /// 95 % interval.
    pub q_hi: f64,
    /// `|Q_mc − Q_op| / Q_op`.
    pub rel_diff: f64,
    /// Whether the exact value lies in the interval.
    pub exact_in_ci: bool,
}

/// Everything exp1 records for a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// `1 − σ_2` of the sweep kernel.
    pub gap: f64,
    /// Parity of φ₂.
    pub phi2_parity: Parity,
    /// `max_a |⟨f̄_a, φ₂⟩_π|`.
    pub phi2_max_overlap: f64,
    /// Detailed-balance residual of the step kernel.
    pub reversibility_residual: f64,
    /// `‖πP − π‖_∞`.
    pub stationarity_residual: f64,
    /// `γ_eff = 1 − σ_{j*}`.
    pub gamma_eff: f64,
    /// `τ_max` (sweeps, exact).
    pub tau_max: f64,
    /// Burn-in B.
    pub burn_in: u64,
    /// Window K.
    pub window: u64,
    /// `‖g‖²`.
    pub g_norm2: f64,
    /// Exact `Q_op`.
    pub q_op: f64,
    /// Naive (single spectral gap).
    pub naive: Pred,
    /// One relevant gap.
    pub one_gap: Pred,
    /// Q_struct⊥.
    pub struct_perp: Pred,
    /// Matrix-free (Poisson) stationary predictor.
    pub matrix_free: Pred,
    /// struct-perp ratio at ε_cluster = 0.01, 0.05, 0.1: `(ε_cluster, |C*|, ratio)`.
    pub struct_perp_robustness: Vec<(f64, usize, f64)>,
    /// The K-sweep.
    pub k_sweep: Vec<KRow>,
    /// Monte Carlo check, on selected cells.
    pub mc: Option<McCheck>,
    /// Leading sweep-kernel eigenvalues with parities (for the spectrum figure).
    pub spectrum_top: Vec<(f64, Parity)>,
    /// Exact τ_int (sweeps) of the magnetization m(x) = Σ_i x_i / N — an odd order parameter.
    pub tau_magnetization: f64,
}

/// The headline numbers (`results.json` → `summary`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Cells.
    pub cells: usize,
    /// Cells whose φ₂ is odd.
    pub phi2_odd_cells: usize,
    /// Largest |⟨f̄_a, φ₂⟩_π| over the odd cells.
    pub phi2_odd_max_overlap: f64,
    /// Smallest naive/exact ratio over the odd cells.
    pub naive_min_overprediction: f64,
    /// Largest naive/exact ratio over the odd cells.
    pub naive_max_overprediction: f64,
    /// struct-perp cells within 2×.
    pub struct_perp_tracks: usize,
    /// one-gap cells within 2×.
    pub one_gap_tracks: usize,
    /// Counts at 1.5×, 2×, 3× per predictor.
    pub tracking: BTreeMap<PredictorKind, Counts>,
    /// Tracking (2×) in the K-sweep table per K/τ_max: (K/τ, one-gap, struct-perp).
    pub k_sweep_tracks: Vec<(f64, usize, usize)>,
    /// Cells with a Monte Carlo check.
    pub mc_cells: usize,
    /// Largest `|Q_mc − Q_op|/Q_op`.
    pub mc_max_rel_diff: f64,
    /// Cells whose 95 % interval contains the exact value.
    pub mc_exact_in_ci: usize,
    /// Median over cells of τ_int(magnetization) / τ_max(gradient observables) (the true median:
    /// the mean of the two middle values for an even number of cells).
    pub magnetization_mistiming_median: f64,
    /// Largest such ratio.
    pub magnetization_mistiming_max: f64,
    /// Largest reversibility residual.
    pub max_reversibility_residual: f64,
    /// Largest stationarity residual.
    pub max_stationarity_residual: f64,
}

crate::experiment_type!(
    /// exp1 for one preset and seed.
    Exp1,
    "exp1",
    grid: Exp1Grid
);

impl Exp1 {
    /// Monte Carlo seeds of a cell: every cell in the paper preset; in the quick preset five
    /// cells at N = 8 (one per family plus one cold SK cell). 2000 seeds each (the preprint used
    /// 400; the per-seed squared error is skewed, so 400 seeds leave a ~7 % standard error).
    fn mc_seeds(&self, family: Family, n: usize, beta: f64) -> usize {
        let pick = match self.config.preset {
            Preset::Paper => true,
            Preset::Tiny => false,
            Preset::Quick => {
                n == 8
                    && matches!(
                        (family, beta),
                        (Family::CurieWeiss, 1.0)
                            | (Family::Sk, 1.0)
                            | (Family::Sk, 3.0)
                            | (Family::Hopfield2, 2.0)
                            | (Family::Hopfield3, 1.0)
                    )
            }
        };
        if pick { 2000 } else { 0 }
    }
}

impl Experiment for Exp1 {
    fn grid(&self) -> Exp1Grid {
        Exp1Grid {
            families: Family::ALL.to_vec(),
            n: vec![8, 10, 12],
            beta: vec![0.5, 1.0, 2.0, 3.0],
            protocol: Protocol::exact(
                "rs1",
                "couplings",
                "patterns M=3 (with negatives), eps=0.1, seed per cell",
            ),
            chains: 1,
        }
    }

    fn cells(&self) -> Vec<(String, CellConfig)> {
        let grid = self.grid();
        let base = self.config.seed.wrapping_mul(1_000_003);
        let mut cells = Vec::new();
        let mut k = 0u64;
        for &family in &grid.families {
            for &n in &grid.n {
                for &beta in &grid.beta {
                    let c = CellConfig {
                        family,
                        n,
                        beta,
                        model_seed: base.wrapping_add(k),
                        data: PatternSpec::new(3, 0.1, base.wrapping_add(500 + k))
                            .map(|p| p.to_spec_string())
                            .unwrap_or_default(),
                        mc_seeds: self.mc_seeds(family, n, beta),
                    };
                    k += 1;
                    // `tiny` keeps the quick grid's seeds and takes N ∈ {8, 10} at β = 1 from it.
                    if self.config.preset != Preset::Tiny || (n < 12 && beta == 1.0) {
                        cells.push((c.id(), c));
                    }
                }
            }
        }
        cells
    }

    fn run_cell(&self, c: &CellConfig) -> Result<CellResult, ReproError> {
        let _span = tracing::info_span!("exp1 cell", id = %c.id()).entered();
        let model = c.model();
        let kernel = GibbsKernel::new(KernelKind::Rs1, model.graph(), None)?;
        let spec = PatternSpec::parse(&c.data)?;
        let data = PatternLaw::new(c.n, &spec)?.observable_means(model.graph(), false)?;
        let params = CellParams::default();
        let (spectrum, main) =
            analyze_reversible(&model, &kernel, CellRequest::auto(&data, &params))?;
        let s = need(main.spectrum.as_ref(), "spectrum", "RS1 is reversible")?;
        let tau_max = need(main.tau_max, "tau_max", "reversible kernel")?;
        let (b, k) = (main.config.burn_in, main.config.window);

        let law = ExactLaw::new(&model)?;
        let op = ExactKernel::new(&kernel, &model)?;
        let cert = thermoq_spectral::certificate::certify(&op, &law.pi)?;
        // The order parameter a practitioner might watch: its τ follows the slow odd mode that no
        // gradient observable sees (SCIENCE §2.11, the "72× mistiming").
        let magnetization: Vec<f64> = (0..law.n_states())
            .map(|s| {
                (0..c.n)
                    .map(|i| if (s >> i) & 1 == 1 { 1.0 } else { -1.0 })
                    .sum::<f64>()
                    / c.n as f64
            })
            .collect();
        let tau_magnetization = {
            let mean = law.expect(&magnetization);
            let var = law
                .pi
                .iter()
                .zip(&magnetization)
                .map(|(p, m)| p * (m - mean).powi(2))
                .sum::<f64>();
            let mhat = overlaps(&spectrum, std::slice::from_ref(&magnetization))?;
            asymptotic_variances_spectral(&spectrum.sigma, mhat.as_ref())[0] / var
        };

        // The K-sweep reuses one spectrum: Q_op(K') from the exact formula, and every stationary
        // predictor scales as K (T does not depend on K), so its ratio at K' is q(K)·K'/K / Q_op(K').
        let table = law.observable_table(&model, ObservableSet::Couplings);
        let fhat = overlaps(&spectrum, &table)?;
        let g = ExactGradient::new(&law.pi, &table, &data)?.g;
        let og = Pred::of(&main, PredictorKind::OneGap)?;
        let sp = Pred::of(&main, PredictorKind::StructPerp)?;
        let mut k_sweep = Vec::new();
        for m in K_SWEEP {
            let kk = ((m * tau_max).ceil() as u64).max(1);
            let cfg = WindowConfig::new(b, kk, 1)?;
            let q = qop_spectral(&spectrum, fhat.as_ref(), &g, &StartLaw::Uniform, &cfg)?.q_op;
            let scale = kk as f64 / k as f64;
            k_sweep.push(KRow {
                k_over_tau: m,
                window: kk,
                q_op: q,
                one_gap_ratio: og.q * scale / q,
                struct_perp_ratio: sp.q * scale / q,
            });
        }

        let mc = if c.mc_seeds > 0 {
            let p = McParams::new(c.mc_seeds, b as usize, k as usize).seed(c.model_seed ^ 0x6d63);
            let r = monte_carlo_q_op(&model, &kernel, ObservableSet::Couplings, &data, &g, &p)?;
            let q = main.qop.q_op;
            Some(McCheck {
                seeds: c.mc_seeds,
                q_mc: r.q_op,
                q_lo: r.q_lo,
                q_hi: r.q_hi,
                rel_diff: (r.q_op - q).abs() / q,
                exact_in_ci: r.q_lo <= q && q <= r.q_hi,
            })
        } else {
            None
        };

        let spectrum_top = spectrum
            .sigma
            .iter()
            .zip(&spectrum.parity)
            .skip(1)
            .take(40)
            .map(|(s, p)| (*s, *p))
            .collect();
        let sp_report = main.predicted(PredictorKind::StructPerp)?;
        Ok(CellResult {
            gap: s.gap,
            phi2_parity: s.phi2.parity,
            phi2_max_overlap: s.phi2.max_overlap,
            reversibility_residual: cert.reversibility,
            stationarity_residual: cert.stationarity,
            gamma_eff: need(s.gamma_eff, "gamma_eff", "some mode overlaps the couplings")?,
            tau_max,
            burn_in: b,
            window: k,
            g_norm2: main.g_norm2,
            q_op: main.qop.q_op,
            naive: Pred::of(&main, PredictorKind::Naive)?,
            one_gap: og,
            struct_perp: sp,
            matrix_free: Pred::of(&main, PredictorKind::MatrixFree)?,
            struct_perp_robustness: sp_report
                .prediction
                .robustness
                .iter()
                .map(|r| (r.eps_cluster, r.cluster_size, r.q / main.qop.q_op))
                .collect(),
            k_sweep,
            mc,
            spectrum_top,
            tau_magnetization,
        })
    }

    fn summarize(&self, recs: &[CellOutcome<CellConfig, CellResult>]) -> Summary {
        let res: Vec<&CellResult> = recs.iter().map(|r| &r.result).collect();
        let odd: Vec<&CellResult> = res
            .iter()
            .copied()
            .filter(|r| r.phi2_parity == Parity::Odd)
            .collect();
        let pred = |x: &CellResult, k: PredictorKind| match k {
            PredictorKind::Naive => x.naive.ratio,
            PredictorKind::OneGap => x.one_gap.ratio,
            PredictorKind::StructPerp => x.struct_perp.ratio,
            PredictorKind::MatrixFree => x.matrix_free.ratio,
        };
        let tracking: BTreeMap<PredictorKind, Counts> = PredictorKind::ALL
            .iter()
            .map(|&k| (k, Counts::new(res.iter().map(|x| pred(x, k)))))
            .collect();
        let k_sweep_tracks = K_SWEEP
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                let og = Counts::new(res.iter().map(|x| x.k_sweep[i].one_gap_ratio)).f2;
                let sp = Counts::new(res.iter().map(|x| x.k_sweep[i].struct_perp_ratio)).f2;
                (m, og, sp)
            })
            .collect();
        let mcs: Vec<&McCheck> = res.iter().filter_map(|x| x.mc.as_ref()).collect();
        let mistiming = || res.iter().map(|x| x.tau_magnetization / x.tau_max);
        Summary {
            cells: recs.len(),
            phi2_odd_cells: odd.len(),
            phi2_odd_max_overlap: max0(odd.iter().map(|r| r.phi2_max_overlap)),
            naive_min_overprediction: odd
                .iter()
                .map(|r| r.naive.ratio)
                .fold(f64::INFINITY, f64::min),
            naive_max_overprediction: max0(odd.iter().map(|r| r.naive.ratio)),
            struct_perp_tracks: tracking[&PredictorKind::StructPerp].f2,
            one_gap_tracks: tracking[&PredictorKind::OneGap].f2,
            tracking,
            k_sweep_tracks,
            mc_cells: mcs.len(),
            mc_max_rel_diff: max0(mcs.iter().map(|m| m.rel_diff)),
            mc_exact_in_ci: mcs.iter().filter(|m| m.exact_in_ci).count(),
            magnetization_mistiming_median: median(mistiming().collect()),
            magnetization_mistiming_max: max0(mistiming()),
            max_reversibility_residual: max0(res.iter().map(|x| x.reversibility_residual)),
            max_stationarity_residual: max0(res.iter().map(|x| x.stationarity_residual)),
        }
    }
}
