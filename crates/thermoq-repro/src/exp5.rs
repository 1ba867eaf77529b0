//! exp5 — γ_eff against multimodality on planted RBMs (SCIENCE.md §2.5).
//!
//! Exact cells = m visible (n = m hidden, N = 2m ≤ 12) × β × {ferromagnetic control, M planted
//! patterns} ([`Exp5Grid`]); bias-free, kernel `RS1` (time in sweeps of N single-site steps),
//! coupling observables `f_ij = −v_i h_j`. Per cell: the one-gap anchor `γ_eff = 1 − σ_{j*}`
//! (slowest observable-relevant sweep mode), the spectral gap and parity of φ₂, `|C*|` of
//! struct-perp, the naive/struct-perp/one-gap ratios to exact `Q_op` (`B = ⌈5/γ_eff⌉`,
//! `K = ⌈50 τ_max⌉`), and a multimodality census of the energy landscape
//! ([`ExactLaw::local_minima`]). Every τ here is exact.
//!
//! The planted construction is ours: `Rbm::planted(m, n, M, STRENGTH, β, seed)`, i.e.
//! `W = (STRENGTH/√m) Σ_μ ξ^μ ζ^μᵀ` with random ±1 patterns ξ^μ (visible) and ζ^μ (hidden). The
//! ferromagnetic control is `W_ij = STRENGTH/√m` (patterns = 0 in the grid).

use crate::error::need;
use crate::facts::{ExactFacts, Protocol, analyze_reversible};
use crate::stats::{max0, tracks};
use crate::{CellOutcome, Experiment, ReproError};
use serde::{Deserialize, Serialize};
use thermoq_core::Coloring;
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{EnergyModel, Rbm, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::exact::{CellParams, CellRequest};
use thermoq_spectral::Parity;

/// Planted-pattern strength: `W = (STRENGTH/√m) Σ_μ ξ^μ ζ^μᵀ`.
///
/// With STRENGTH = 0.5 a single planted pair has energy `−0.5·√m·n` at its two aligned states
/// (−4 to −7.3 for m = 4..6), so at β = 3 π sits almost entirely on the pattern states and their
/// one-flip neighbours: the β = 3 cells are multimodal. STRENGTH = 1 was tried first and
/// rejected: at β = 3, m = 4, M = 4 the slowest sweep eigenvalue rounds to 1 in f64 (the chain is
/// numerically reducible and τ_max is infinite), which no exact analysis can report.
pub const STRENGTH: f64 = 0.5;

/// The grid, as recorded in `results.json`; [`Exp5::cells`] iterates over it (both presets).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exp5Grid {
    /// Visible units m (hidden n = m).
    pub m: Vec<usize>,
    /// Hidden units rule.
    pub hidden: &'static str,
    /// Planted pattern counts; 0 is the ferromagnetic control.
    pub patterns: Vec<usize>,
    /// Inverse temperatures.
    pub beta: Vec<f64>,
    /// Pattern strength.
    pub strength: f64,
    /// Model.
    pub model: &'static str,
    /// Kernel, observables, data law, B and K rules, predictor thresholds.
    #[serde(flatten)]
    pub protocol: Protocol,
}

/// One exp5 cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellConfig {
    /// Visible units (hidden = m).
    pub m: usize,
    /// Planted patterns (0 = ferromagnetic control).
    pub patterns: usize,
    /// Inverse temperature.
    pub beta: f64,
    /// Pattern strength.
    pub strength: f64,
    /// Seed of the planted patterns (same for every β of one (m, M)).
    pub model_seed: u64,
    /// Data law spec, `patterns:M=3,eps=0.1,seed=S`.
    pub data: String,
}

impl CellConfig {
    /// The cell id, e.g. `m4-ferro-b3.0`, `m5-M2-b1.0`.
    pub fn id(&self) -> String {
        let p = if self.patterns == 0 {
            "ferro".to_string()
        } else {
            format!("M{}", self.patterns)
        };
        format!("m{}-{p}-b{:.1}", self.m, self.beta)
    }

    /// The model.
    pub fn model(&self) -> Result<Rbm, ReproError> {
        let (m, n) = (self.m, self.m);
        Ok(if self.patterns == 0 {
            let s = self.strength / (m as f64).sqrt();
            Rbm::new(m, n, vec![s; m * n], vec![0.0; m], vec![0.0; n], self.beta)?
        } else {
            Rbm::planted(
                m,
                n,
                self.patterns,
                self.strength,
                self.beta,
                self.model_seed,
            )?
        })
    }
}

/// Everything exp5 records for a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Gap and φ₂ of the sweep kernel, γ_eff, τ_max, B, K, `Q_op` and the predictors' ratios.
    #[serde(flatten)]
    pub exact: ExactFacts,
    /// One-gap anchor index j*.
    pub j_star: usize,
    /// Parity of φ_{j*}.
    pub j_star_parity: Parity,
    /// States stable under every single flip (strict local minima of E), counting ±x separately.
    pub local_minima: usize,
    /// π-mass of the local minima.
    pub minima_mass: f64,
}

/// One row of the headline table: γ_eff (and |C*|) per pattern count at one (m, β).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Visible units.
    pub m: usize,
    /// Inverse temperature.
    pub beta: f64,
    /// γ_eff for ferro, M = 1, 2, 3, 4.
    pub gamma_eff: Vec<f64>,
    /// |C*| for ferro, M = 1, 2, 3, 4.
    pub cluster_size: Vec<usize>,
    /// Smallest γ_eff over M ≥ 2 divided by γ_eff at M = 1 (the collapse factor).
    pub collapse: f64,
}

/// The headline numbers (`results.json` → `summary`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Cells.
    pub cells: usize,
    /// γ_eff table, one row per (m, β), coldest first.
    pub table: Vec<Row>,
    /// Cells whose φ₂ is odd.
    pub phi2_odd_cells: usize,
    /// Largest |⟨f̄, φ₂⟩| over the odd-φ₂ cells.
    pub phi2_odd_max_overlap: f64,
    /// Cells whose anchor j* is even.
    pub j_star_even_cells: usize,
    /// Smallest and largest naive ratio over odd-φ₂ cells.
    pub naive_ratio_range: (f64, f64),
    /// struct-perp cells within 2×.
    pub struct_perp_tracks: usize,
    /// one-gap cells within 2×.
    pub one_gap_tracks: usize,
    /// Largest |γ_eff(ferro) − γ_eff(M = 1)| (gauge equivalence check; should be rounding).
    pub ferro_vs_m1_max_diff: f64,
}

crate::experiment_type!(
    /// exp5 for one seed (both presets run the same grid).
    Exp5,
    "exp5",
    grid: Exp5Grid
);

impl Experiment for Exp5 {
    fn grid(&self) -> Exp5Grid {
        Exp5Grid {
            m: vec![4, 5, 6],
            hidden: "n = m",
            patterns: vec![0, 1, 2, 3, 4],
            beta: vec![0.5, 1.0, 2.0, 3.0],
            strength: STRENGTH,
            model: "Rbm::planted(m, m, M, strength, beta, seed): W = strength/sqrt(m) sum_mu xi^mu zeta^mu^T; M = 0 (ferro): W_ij = strength/sqrt(m)",
            protocol: Protocol::exact(
                "rs1",
                "couplings f_ij = -v_i h_j",
                "patterns M=3 (with negatives) over all N = 2m spins, eps=0.1, seed per (m, M)",
            ),
        }
    }

    fn cells(&self) -> Vec<(String, CellConfig)> {
        let grid = self.grid();
        let base = self.config.seed.wrapping_mul(1_000_003);
        let mut cells = Vec::new();
        for &m in &grid.m {
            for &patterns in &grid.patterns {
                let k = (m * 10 + patterns) as u64;
                let data = PatternSpec::new(3, 0.1, base.wrapping_add(5_500 + k))
                    .map(|p| p.to_spec_string())
                    .unwrap_or_default();
                for &beta in &grid.beta {
                    let c = CellConfig {
                        m,
                        patterns,
                        beta,
                        strength: grid.strength,
                        model_seed: base.wrapping_add(5_000 + k),
                        data: data.clone(),
                    };
                    cells.push((c.id(), c));
                }
            }
        }
        cells
    }

    fn run_cell(&self, c: &CellConfig) -> Result<CellResult, ReproError> {
        let _span = tracing::info_span!("exp5 cell", id = %c.id()).entered();
        let rbm = c.model()?;
        let graph = rbm.graph();
        // RS1 needs no colouring; the two-block colouring is checked here so a bad RBM fails early.
        let _ = Coloring::from_colors(graph, rbm.two_block_colors())?;
        let kernel = GibbsKernel::new(KernelKind::Rs1, graph, None)?;
        let spec = PatternSpec::parse(&c.data)?;
        let data = PatternLaw::new(rbm.n_spins(), &spec)?.observable_means(graph, false)?;
        let mut params = CellParams::default();
        params.matrix_free = false;
        let (spectrum, r) = analyze_reversible(&rbm, &kernel, CellRequest::auto(&data, &params))?;
        let s = need(r.spectrum.as_ref(), "spectrum", "RS1 is reversible")?;
        let j_star = need(s.j_star, "j_star", "some mode overlaps the couplings")?;
        let minima = ExactLaw::new(&rbm)?.local_minima(&rbm);
        Ok(CellResult {
            exact: ExactFacts::of(&r)?,
            j_star,
            j_star_parity: spectrum.parity.get(j_star).copied().unwrap_or(Parity::None),
            local_minima: minima.count,
            minima_mass: minima.mass,
        })
    }

    fn summarize(&self, recs: &[CellOutcome<CellConfig, CellResult>]) -> Summary {
        let find = |m: usize, p: usize, b: f64| {
            recs.iter()
                .find(|r| r.config.m == m && r.config.patterns == p && r.config.beta == b)
                .map(|r| &r.result)
        };
        let mut table = Vec::new();
        let mut ferro_diff = 0.0f64;
        for beta in [3.0, 2.0, 1.0, 0.5] {
            for m in [4usize, 5, 6] {
                let cells: Vec<&CellResult> = (0..=4).filter_map(|p| find(m, p, beta)).collect();
                if cells.len() < 5 {
                    continue;
                }
                ferro_diff =
                    ferro_diff.max((cells[0].exact.gamma_eff - cells[1].exact.gamma_eff).abs());
                let min_multi = cells[2..]
                    .iter()
                    .map(|c| c.exact.gamma_eff)
                    .fold(f64::INFINITY, f64::min);
                table.push(Row {
                    m,
                    beta,
                    gamma_eff: cells.iter().map(|c| c.exact.gamma_eff).collect(),
                    cluster_size: cells.iter().map(|c| c.exact.cluster_size).collect(),
                    collapse: min_multi / cells[1].exact.gamma_eff,
                });
            }
        }
        let odd: Vec<&ExactFacts> = recs
            .iter()
            .map(|r| &r.result.exact)
            .filter(|r| r.phi2.parity == Parity::Odd)
            .collect();
        Summary {
            cells: recs.len(),
            table,
            phi2_odd_cells: odd.len(),
            phi2_odd_max_overlap: max0(odd.iter().map(|r| r.phi2.max_overlap)),
            j_star_even_cells: recs
                .iter()
                .filter(|r| r.result.j_star_parity == Parity::Even)
                .count(),
            naive_ratio_range: (
                odd.iter()
                    .map(|r| r.naive_ratio)
                    .fold(f64::INFINITY, f64::min),
                max0(odd.iter().map(|r| r.naive_ratio)),
            ),
            struct_perp_tracks: recs
                .iter()
                .filter(|r| tracks(r.result.exact.struct_perp_ratio))
                .count(),
            one_gap_tracks: recs
                .iter()
                .filter(|r| tracks(r.result.exact.one_gap_ratio))
                .count(),
            ferro_vs_m1_max_diff: ferro_diff,
        }
    }
}
