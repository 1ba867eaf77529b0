//! The study's parts, each a pure function of the model, the sizes and the seed: the observable
//! subset and its recorded trajectories, τ vs L, PT ladder runs, C(α) with one refinement, Λ and
//! R\*, and the projected cost. Progress goes to a [`Progress`]; nothing here prints.

use super::params::{GIBBS_CHAIN_FACTOR, Params, SALT_HEAT, SALT_OBS, SALT_TAU};
use crate::ReproError;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use thermoq_core::rng::chain_rng;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::fast::conditioned::ConditionedSampler;
use thermoq_samplers::ladder_design::{HeatProfile as CProfile, PtSummary, refine_midpoints};
use thermoq_samplers::observe::Observer;
use thermoq_samplers::pt::{FastPt, Ladder, SwapScheme, r_star};
use thermoq_samplers::{ChainBatch, KernelKind};
use thermoq_snr::tau::{TauRow, TauStat, TauStatus, Trajectories, tau_table};
use thermoq_train::dtm::stale::{R1Check, add_moments, moment_len};

/// Where a long study reports its progress (a progress bar, a log, or nothing: every method has
/// an empty default). One bar at a time: [`Progress::start`] opens it, [`Progress::finish`]
/// closes it; [`Progress::note`] is one line of what a part found.
pub trait Progress {
    /// A bar of `total` units (spin sweeps, or rung sweeps for PT) labelled `label`.
    fn start(&self, _label: &str, _total: u64) {}
    /// `n` more units done.
    fn advance(&self, _n: u64) {}
    /// `n` more units to do than announced (the C(α) refinement).
    fn extend(&self, _n: u64) {}
    /// What the bar is doing now.
    fn message(&self, _msg: &str) {}
    /// The bar is done.
    fn finish(&self) {}
    /// One line of results.
    fn note(&self, _line: &str) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}

/// A gradient observable: `(i, Some(j))` is f_ij = −x_i x_j, `(i, None)` is f_i = −x_i.
pub type Obs = (u32, Option<u32>);

/// The fixed random subset of gradient observables (`n` of all edges + spins), in index order.
pub fn observable_subset(model: &IsingModel, n: usize, seed: u64) -> Vec<Obs> {
    let g = model.graph();
    let total = g.n_edges() + g.n();
    let mut rng = chain_rng(seed ^ SALT_OBS, 0);
    let mut idx = sample(&mut rng, total, n.min(total)).into_vec();
    idx.sort_unstable();
    idx.into_iter()
        .map(|a| {
            if a < g.n_edges() {
                let (i, j) = g.edge(a);
                (i as u32, Some(j as u32))
            } else {
                ((a - g.n_edges()) as u32, None)
            }
        })
        .collect()
}

/// The value of observable `o` at state `x` (±1).
pub fn obs_value(o: Obs, x: &[Spin]) -> i8 {
    match o {
        (i, Some(j)) => -(x[i as usize] * x[j as usize]),
        (i, None) => -x[i as usize],
    }
}

/// Records the observable subset (as ±1 bytes) and the energy after every sweep of one chain.
struct Recorder<'a> {
    model: &'a IsingModel,
    obs: &'a [Obs],
    values: Vec<i8>,
    energy: Vec<f64>,
}

impl Observer for Recorder<'_> {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        self.values
            .extend(self.obs.iter().map(|&o| obs_value(o, x)));
        self.energy.push(self.model.energy(x));
    }
    fn merge(&mut self, _o: Self) {}
}

/// Runs `chains` plain chains of `model` at `beta` with `kind`, `warmup` discarded sweeps, then
/// records `len` sweeps (in chunks, advancing `progress`).
#[allow(clippy::too_many_arguments)]
pub fn record(
    model: &IsingModel,
    coloring: &Coloring,
    kind: KernelKind,
    beta: f64,
    chains: usize,
    seed: u64,
    obs: &[Obs],
    warmup: usize,
    len: usize,
    progress: &dyn Progress,
) -> Result<Trajectories, ReproError> {
    let mut s = ConditionedSampler::new(model, coloring, kind, chains, seed)?;
    s.set_beta(beta)?;
    let mut batch = ChainBatch::uniform(chains, model.n_spins(), seed);
    let chunk = 250usize;
    let mut done = 0;
    while done < warmup {
        let k = chunk.min(warmup - done);
        s.sweep(&mut batch, k)?;
        done += k;
        progress.advance(k as u64);
    }
    let mut t = Trajectories {
        n_obs: obs.len(),
        values: vec![Vec::with_capacity(len * obs.len()); chains],
        energy: vec![Vec::with_capacity(len); chains],
    };
    let mut done = 0;
    while done < len {
        let k = chunk.min(len - done);
        let recs = s.run_per_chain(&mut batch, 0, k, 1, |_| Recorder {
            model,
            obs,
            values: Vec::with_capacity(k * obs.len()),
            energy: Vec::with_capacity(k),
        })?;
        for (c, r) in recs.into_iter().enumerate() {
            t.values[c].extend_from_slice(&r.values);
            t.energy[c].extend_from_slice(&r.energy);
        }
        done += k;
        progress.advance(k as u64);
    }
    Ok(t)
}

/// One uniform ladder (part 2) or equal-length ladder (part 4) run.
pub type LadderRow = PtSummary;

/// Runs `chains` PT-chains of `ladder` under `scheme` (BLK-SYM local sweeps): `burn_in` sweeps,
/// then `sweeps` recorded sweeps, calling `observe` after each; summarizes acceptance and round
/// trips.
#[allow(clippy::too_many_arguments)]
pub fn run_ladder(
    model: &IsingModel,
    coloring: &Coloring,
    ladder: Ladder,
    scheme: SwapScheme,
    kind_name: &str,
    chains: usize,
    seed: u64,
    burn_in: usize,
    sweeps: usize,
    progress: &dyn Progress,
    mut observe: impl FnMut(&FastPt),
) -> Result<LadderRow, ReproError> {
    let r = ladder.len();
    let mut pt = FastPt::new(
        model,
        coloring,
        KernelKind::BlkSym,
        ladder,
        scheme,
        chains,
        seed,
    )?;
    for _ in 0..burn_in {
        pt.step(false)?;
        progress.advance(r as u64);
    }
    for _ in 0..sweeps {
        pt.step(true)?;
        observe(&pt);
        progress.advance(r as u64);
    }
    Ok(PtSummary::of(&pt, scheme, kind_name, sweeps))
}

/// Deserializes an `f64` written by serde_json, where NaN and ±∞ were written as `null`.
pub(crate) fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One α_top of part 3.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopRow {
    /// α_top.
    pub alpha_top: f64,
    /// τ_max over the gradient subset at the flat window: the larger of the two estimators.
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_max: f64,
    /// τ_max by the within-chain estimator.
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_within: f64,
    /// τ_max by the global-mean estimator.
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_global: f64,
    /// τ̂ of the energy (global-mean estimator).
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_energy: f64,
    /// Whether every observable passes the doubling rule between window/2 and window under both
    /// estimators.
    pub resolved: bool,
    /// Observables passing it (the smaller count of the two estimators).
    pub resolved_count: usize,
    /// Status of `tau_max`: `resolved` only when both estimators resolve every observable,
    /// otherwise the status of the estimator holding the maximum (at least `lower_bound`).
    pub status: TauStatus,
}

impl TopRow {
    /// The row of `alpha_top` from the two estimators' statistics at the flat window.
    pub fn new(alpha_top: f64, w: &TauStat, g: &TauStat) -> Self {
        let resolved = w.resolved && g.resolved;
        let holder = if w.tau_max >= g.tau_max { w } else { g };
        let status = if resolved {
            TauStatus::Resolved
        } else {
            holder.status.max(TauStatus::LowerBound)
        };
        Self {
            alpha_top,
            tau_max: w.tau_max.max(g.tau_max),
            tau_within: w.tau_max,
            tau_global: g.tau_max,
            tau_energy: g.tau_energy,
            resolved,
            resolved_count: w.resolved_count.min(g.resolved_count),
            status,
        }
    }
}

/// The thermodynamic length profile of part 4.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeatProfile {
    /// α grid (descending from 1).
    pub alphas: Vec<f64>,
    /// C(α) on the grid.
    pub c: Vec<f64>,
    /// Midpoints added by the refinement.
    pub refined_points: usize,
    /// Λ(α_top) for every α_top of part 3.
    pub lambda_at: Vec<(f64, f64)>,
    /// R*(α_top) for every α_top of part 3.
    pub r_star_at: Vec<(f64, usize)>,
}

/// An observer of [`run_ladder`] adding the cold rung's moments of every chain to `acc` (when
/// `on`), counting states in `count`.
pub fn cold_rung_moments<'a>(
    model: &'a IsingModel,
    on: bool,
    acc: &'a mut [f64],
    count: &'a mut f64,
) -> impl FnMut(&FastPt) + 'a {
    move |pt| {
        if on {
            for c in 0..pt.n_chains() {
                add_moments(model, pt.state(c, 0), acc);
                *count += 1.0;
            }
        }
    }
}

/// A number for tables: `—` when not finite, 1, 2 or 4 decimals by magnitude.
pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Output of a phase that runs several ladders (the uniform ladders; the equal-length PT-DEO and
/// PT-SYM pair): one row per ladder, and the summed cold-rung moments of the runs that record
/// them (uniform R = 8; equal-length PT-DEO).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LadderSet {
    /// One row per ladder, in run order.
    pub rows: Vec<LadderRow>,
    /// Σ cold-rung moments of the recording runs.
    #[serde(alias = "r8_moments")]
    pub moments: Vec<f64>,
    /// The number of states summed into `moments`.
    #[serde(alias = "r8_count")]
    pub count: f64,
}

impl LadderSet {
    /// The mean cold-rung moments of the recording runs (zeros when nothing was recorded).
    pub fn mean_moments(&self) -> Vec<f64> {
        let c = self.count.max(1.0);
        self.moments.iter().map(|a| a / c).collect()
    }
}

/// One ladder of a [`LadderSet`] phase.
pub struct LadderRun {
    /// Progress message while it runs.
    pub message: String,
    /// The ladder.
    pub ladder: Ladder,
    /// Its swap scheme.
    pub scheme: SwapScheme,
    /// Seed of its chains.
    pub seed: u64,
    /// Whether its cold-rung moments are recorded.
    pub record: bool,
}

/// Runs `runs` in order under one progress bar `what` (FastPt, `p.chains` chains, `p.pt_burn_in`
/// then `sweeps` sweeps, rows labelled `kind_name`), summing the cold-rung moments of those with
/// `record`.
#[allow(clippy::too_many_arguments)]
pub fn run_ladder_set(
    model: &IsingModel,
    coloring: &Coloring,
    p: &Params,
    what: &str,
    kind_name: &str,
    sweeps: usize,
    runs: Vec<LadderRun>,
    progress: &dyn Progress,
) -> Result<LadderSet, ReproError> {
    let per_rung = p.pt_burn_in + sweeps;
    let total: usize = runs.iter().map(|r| r.ladder.len() * per_rung).sum();
    progress.start(what, total as u64);
    let mut moments = vec![0.0; moment_len(model)];
    let mut count = 0.0f64;
    let mut rows = Vec::new();
    for run in runs {
        progress.message(&run.message);
        let observe = cold_rung_moments(model, run.record, &mut moments, &mut count);
        rows.push(run_ladder(
            model,
            coloring,
            run.ladder,
            run.scheme,
            kind_name,
            p.chains,
            run.seed,
            p.pt_burn_in,
            sweeps,
            progress,
            observe,
        )?);
    }
    progress.finish();
    Ok(LadderSet {
        rows,
        moments,
        count,
    })
}

/// Output of the C(α) phase: the first pass and the refined pass (equal to it when nothing was
/// refined) and how many midpoints were added.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeatOut {
    /// The geometric grid's run.
    pub pass0: LadderRow,
    /// The refined grid's run.
    pub pass1: LadderRow,
    /// Midpoints added.
    pub added: usize,
}

impl HeatOut {
    /// Rungs run over both passes.
    pub fn heat_rungs(&self) -> usize {
        self.pass0.rungs + if self.added == 0 { 0 } else { self.pass1.rungs }
    }
}

/// Output of the stale-weights phase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaleOut {
    /// The R1 gate (one-rung PT vs Gibbs, trained and initial weights).
    pub r1: R1Check,
    /// cos(equal-length PT-DEO cold rung, Gibbs).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_pt_vs_gibbs: f64,
    /// cos(equal-length PT cold rung, Gibbs on the initial weights).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_pt_vs_initial_weights_gibbs: f64,
    /// cos(uniform R = 8 PT-SYM cold rung, Gibbs).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_uniform_r8_vs_gibbs: f64,
    /// cos(uniform R = 8 PT, equal-length PT).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_uniform_r8_vs_equal_length_pt: f64,
    /// cos(Gibbs, Gibbs with another seed).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_gibbs_vs_gibbs: f64,
    /// max |Δ| between the equal-length PT cold-rung moments and Gibbs.
    #[serde(deserialize_with = "f64_or_nan")]
    pub max_abs_diff: f64,
}

/// τ vs L and R\* of one checkpoint (the per-checkpoint table).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointRow {
    /// Label (`main` for the study's checkpoint).
    pub label: String,
    /// Checkpoint file.
    pub path: String,
    /// Epochs trained.
    pub epochs: usize,
    /// BLK-SYM τ-vs-L rows (both estimators, with status).
    pub tau: Vec<TauRow>,
    /// Λ(α_top) for every α_top of part 3.
    pub lambda_at: Vec<(f64, f64)>,
    /// R\*(α_top) for every α_top of part 3.
    pub r_star_at: Vec<(f64, usize)>,
    /// Points of the (refined) C(α) grid.
    pub heat_points: usize,
}

/// Runs τ-vs-L for one kernel: records, estimates.
#[allow(clippy::too_many_arguments)]
pub fn tau_phase(
    model: &IsingModel,
    coloring: &Coloring,
    kind: KernelKind,
    name: &str,
    p: &Params,
    seed: u64,
    obs: &[Obs],
    tag: &str,
    progress: &dyn Progress,
) -> Result<Vec<TauRow>, ReproError> {
    let max_len = p.tau.lengths.last().copied().unwrap_or(0);
    progress.start(
        &format!("τ vs L {tag}{name}"),
        (p.tau.warmup + max_len) as u64,
    );
    let t = record(
        model,
        coloring,
        kind,
        model.beta(),
        p.chains,
        seed ^ SALT_TAU,
        obs,
        p.tau.warmup,
        max_len,
        progress,
    )?;
    progress.message("estimating τ̂");
    let rows = tau_table(&t, name, &p.tau.lengths);
    progress.finish();
    debug_assert_eq!(t.len(), max_len);
    Ok(rows)
}

/// One line per τ row (both estimators), for [`Progress::note`].
pub fn tau_row_lines(rows: &[TauRow], tag: &str) -> Vec<String> {
    rows.iter().map(|r| {
        let (w, g) = (&r.within, &r.global);
        format!(
            "  {tag}{} L = {:>6}: within τ_max = {:>8} τ/L = {:.4} [{}] τ_E = {:>8} resolved {}/{} | global τ_max = {:>8} τ/L = {:.4} [{}] τ_E = {:>8} windows {}/{} resolved {}/{} | frozen chains ≤ {}",
            r.kernel,
            r.len,
            fmt(w.tau_max),
            w.tau_over_l,
            w.status,
            fmt(w.tau_energy),
            w.resolved_count,
            w.estimated + 1,
            fmt(g.tau_max),
            g.tau_over_l,
            g.status,
            fmt(g.tau_energy),
            g.windows_found,
            g.estimated,
            g.resolved_count,
            g.estimated + 1,
            r.frozen_chains_max
        )
    })
    .collect()
}

/// C(α) on the geometric grid, refined once and re-measured (part 4's first half).
pub fn heat_phase(
    model: &IsingModel,
    coloring: &Coloring,
    p: &Params,
    seed: u64,
    tag: &str,
    progress: &dyn Progress,
) -> Result<HeatOut, ReproError> {
    let a_min = p.top.alpha_tops.iter().copied().fold(1.0, f64::min);
    let grid0 = Ladder::geometric(p.heat.points, a_min)?;
    progress.start(
        &format!("C(α) {tag}"),
        (p.heat.points * (p.pt_burn_in + p.heat.sweeps)) as u64,
    );
    let pass0 = run_ladder(
        model,
        coloring,
        grid0,
        SwapScheme::PtDeo,
        "heat-grid",
        p.chains,
        seed ^ SALT_HEAT,
        p.pt_burn_in,
        p.heat.sweeps,
        progress,
        |_| {},
    )?;
    // Refine: midpoints where √C changes by more than 25 % between neighbours.
    let (pts, added) = refine_midpoints(&pass0.alphas, &pass0.specific_heat, 0.25)?;
    let grid1 = Ladder::new(pts)?;
    let extra = if added == 0 { 0 } else { grid1.len() };
    progress.extend((extra * (p.pt_burn_in + p.heat.sweeps)) as u64);
    let pass1 = if added == 0 {
        pass0.clone()
    } else {
        run_ladder(
            model,
            coloring,
            grid1,
            SwapScheme::PtDeo,
            "heat-grid-refined",
            p.chains,
            seed ^ SALT_HEAT ^ 1,
            p.pt_burn_in,
            p.heat.sweeps,
            progress,
            |_| {},
        )?
    };
    progress.finish();
    Ok(HeatOut {
        pass0,
        pass1,
        added,
    })
}

/// Λ and R\* at every α_top of the grid, from the refined C(α).
/// Λ and R\* pairs `(α_top, ·)`.
pub type LengthTable = (Vec<(f64, f64)>, Vec<(f64, usize)>);

/// Λ and R\* at every α_top of `tops` from a C(α) profile.
pub fn length_table(prof: &CProfile, tops: &[f64]) -> Result<LengthTable, ReproError> {
    let mut lambda_at = Vec::new();
    let mut r_star_at = Vec::new();
    for &a in tops {
        let l = prof.lambda_at(a)?;
        lambda_at.push((a, l));
        r_star_at.push((a, r_star(l)?));
    }
    Ok((lambda_at, r_star_at))
}

/// The projected cost of a study, phase by phase, at measured rates.
#[derive(Clone, Debug, Serialize)]
pub struct CostPlan {
    /// Spins of the model.
    pub spins: usize,
    /// Measured plain-Gibbs spin updates per second (short timing run).
    pub gibbs_rate: f64,
    /// Measured PT spin updates per second (short timing run, R = 4).
    pub pt_rate: f64,
    /// R\* assumed for the equal-length phase.
    pub assumed_r_star: usize,
    /// (phase, projected seconds).
    pub phases: Vec<(String, f64)>,
    /// Sum over phases and checkpoints.
    pub total_seconds: f64,
}

/// Measures the engines' rates on `model` (a few sweeps on their own seeds; no study stream is
/// touched) and projects every phase.
pub fn plan_cost(
    model: &IsingModel,
    coloring: &Coloring,
    p: &Params,
    extras: usize,
    assumed_r_star: usize,
) -> Result<CostPlan, ReproError> {
    let n = model.n_spins() as f64;
    let c = p.chains as f64;
    // Engines are built and warmed up (5 sweeps) before the clock starts.
    let sweeps = 30usize;
    let mut s = ConditionedSampler::new(model, coloring, KernelKind::BlkSym, p.chains, 0x7157)?;
    let mut batch = ChainBatch::uniform(p.chains, model.n_spins(), 0x7157);
    s.sweep(&mut batch, 5)?;
    let t0 = Instant::now();
    s.sweep(&mut batch, sweeps)?;
    let gibbs_rate = c * sweeps as f64 * n / t0.elapsed().as_secs_f64().max(1e-9);
    let mut pt = FastPt::new(
        model,
        coloring,
        KernelKind::BlkSym,
        Ladder::geometric(4, 0.5)?,
        SwapScheme::PtDeo,
        p.chains,
        0x7157,
    )?;
    for _ in 0..5 {
        pt.step(true)?;
    }
    let t0 = Instant::now();
    for _ in 0..sweeps {
        pt.step(true)?;
    }
    let pt_rate = 4.0 * c * sweeps as f64 * n / t0.elapsed().as_secs_f64().max(1e-9);
    let g = |sw: f64| sw * c * n / gibbs_rate;
    let q = |rung_sweeps: f64| rung_sweeps * c * n / pt_rate;
    let max_len = p.tau.lengths.last().copied().unwrap_or(0) as f64;
    let tau1 = g(p.tau.warmup as f64 + max_len);
    let heat = q(2.0 * p.heat.points as f64 * (p.pt_burn_in + p.heat.sweeps) as f64);
    let phases = vec![
        ("tau-blk-sym".to_string(), tau1),
        ("tau-blk-alt".to_string(), tau1),
        (
            "uniform-ladders".to_string(),
            q(p.ladder.rungs.iter().sum::<usize>() as f64
                * (p.pt_burn_in + p.ladder.sweeps) as f64),
        ),
        (
            "geometric-r4".to_string(),
            q(4.0 * (p.pt_burn_in + p.ladder.sweeps) as f64),
        ),
        (
            "alpha-top".to_string(),
            g(p.top.alpha_tops.len() as f64 * (p.top.warmup + p.top.window) as f64),
        ),
        ("specific-heat (≤ 2 passes)".to_string(), heat),
        (
            "equal-length".to_string(),
            q(2.0 * assumed_r_star as f64 * (p.pt_burn_in + p.eq_sweeps) as f64),
        ),
        (
            "stale-weights".to_string(),
            g(4.0 * GIBBS_CHAIN_FACTOR as f64 * (p.pt_burn_in + p.gibbs_sweeps) as f64),
        ),
        (
            format!("{extras} extra checkpoint(s): τ BLK-SYM + C(α)"),
            extras as f64 * (tau1 + heat),
        ),
    ];
    let total_seconds = phases.iter().map(|x| x.1).sum();
    Ok(CostPlan {
        spins: model.n_spins(),
        gibbs_rate,
        pt_rate,
        assumed_r_star,
        phases,
        total_seconds,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A uniform-ladder phase stored before the two ladder-set outputs were one type (with
    /// `r8_moments` and `r8_count`, as in the committed paper run) still loads, and so does an
    /// equal-length one (`moments`, `count`).
    #[test]
    fn ladder_sets_load_both_stored_field_names() {
        let committed = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/reproductions/dtm-paper/phases/uniform-ladders.json"
        ));
        let stored: serde_json::Value = serde_json::from_str(committed).unwrap();
        let uni: LadderSet = serde_json::from_value(stored["value"].clone()).unwrap();
        assert!(!uni.rows.is_empty() && uni.count > 0.0);
        let r8: Vec<f64> = serde_json::from_value(stored["value"]["r8_moments"].clone()).unwrap();
        assert_eq!(uni.moments, r8);
        let old: LadderSet =
            serde_json::from_str(r#"{"rows": [], "r8_moments": [2.0, 4.0], "r8_count": 2.0}"#)
                .unwrap();
        assert_eq!(old.mean_moments(), vec![1.0, 2.0]);
        let eq: LadderSet =
            serde_json::from_str(r#"{"rows": [], "moments": [3.0], "count": 0.0}"#).unwrap();
        assert_eq!(eq.mean_moments(), vec![3.0]);
    }
}
