//! The whole study on one checkpoint (plus τ-vs-L and R\* on extra checkpoints): loading,
//! the cost plan, every part in order with per-phase resume through a [`PhaseStore`], and the
//! typed results ([`DtmStudy`], [`DtmResults`]).

use super::params::{
    BUDGET, CheckpointSpec, GIBBS_CHAIN_FACTOR, Params, SALT_EQ, SALT_GEO, SALT_GIBBS, SALT_LADDER,
    SALT_TOP, TAU_TARGET,
};
use super::phases::{
    CheckpointRow, CostPlan, HeatOut, HeatProfile, LadderRow, LadderRun, LadderSet, Obs, Progress,
    StaleOut, TopRow, fmt, heat_phase, length_table, observable_subset, plan_cost, record,
    run_ladder, run_ladder_set, tau_phase, tau_row_lines,
};
use super::results::{ModelBrief, ObservablesBrief};
use super::targets::{TargetInputs, TargetRow, targets};
use crate::{Preset, ReproError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thermoq_core::Coloring;
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::KernelKind;
use thermoq_samplers::ladder_design::HeatProfile as CProfile;
use thermoq_samplers::pt::{Ladder, SwapScheme, r_star};
use thermoq_snr::tau::{TauRow, tau_table};
use thermoq_train::dtm::stale::{MomentRun, cosine, gibbs_moments, r1_check};
use thermoq_train::dtm::{DtmRun, DtmRunConfig};

/// Where a phase's result came from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// Phase name (`phases/<name>.json`).
    pub name: String,
    /// Revision of the code that computed it.
    pub revision: String,
    /// Seconds it took when computed.
    pub seconds: f64,
    /// Whether this process loaded it instead of computing it.
    pub reused: bool,
}

/// A phase's result as a [`PhaseStore`] keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredPhase {
    /// The phase's output.
    pub value: Value,
    /// Revision of the code that computed it.
    pub revision: String,
    /// Seconds it took.
    pub seconds: f64,
}

/// Per-phase results that survive the process: a rerun loads a phase whose key (parameters,
/// seed, checkpoint fingerprint) matches instead of computing it, so a killed study loses at most
/// the phase in progress. `cargo xtask repro dtm` keeps them as `phases/<name>.json`. The
/// defaults keep nothing ([`NoStore`]).
pub trait PhaseStore {
    /// The revision recorded for phases computed now.
    fn revision(&self) -> String {
        String::new()
    }
    /// The stored result of `name` if it was computed for `key` (and is acceptable to reuse).
    fn load(&self, _name: &str, _key: &Value) -> Option<StoredPhase> {
        None
    }
    /// Stores `phase`, the result of `name` computed for `key`.
    fn save(&self, _name: &str, _key: &Value, _phase: &StoredPhase) -> Result<(), ReproError> {
        Ok(())
    }
}

/// A [`PhaseStore`] that keeps nothing: every phase is computed.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStore;

impl PhaseStore for NoStore {}

/// The phases of one study: loads or computes each, recording where it came from.
struct Phases<'a, S: PhaseStore> {
    store: &'a S,
    records: RefCell<Vec<PhaseRecord>>,
}

impl<S: PhaseStore> Phases<'_, S> {
    fn get<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        key: &Value,
        compute: impl FnOnce() -> Result<T, ReproError>,
    ) -> Result<T, ReproError> {
        if let Some(hit) = self.store.load(name, key) {
            // Read from the stored tree in place (no copy of the whole value).
            let value = T::deserialize(&hit.value)?;
            self.record(name, &hit, true);
            return Ok(value);
        }
        let t0 = Instant::now();
        let value = compute()?;
        let phase = StoredPhase {
            value: serde_json::to_value(&value)?,
            revision: self.store.revision(),
            seconds: t0.elapsed().as_secs_f64(),
        };
        self.store.save(name, key, &phase)?;
        self.record(name, &phase, false);
        Ok(value)
    }

    fn record(&self, name: &str, phase: &StoredPhase, reused: bool) {
        self.records.borrow_mut().push(PhaseRecord {
            name: name.into(),
            revision: phase.revision.clone(),
            seconds: phase.seconds,
            reused,
        });
    }
}

/// FNV-1a 64 of a file's bytes with its length: the identity of a checkpoint in phase keys.
pub fn fingerprint(path: &Path) -> Result<String, ReproError> {
    let bytes = std::fs::read(path)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{:016x}-{}", h, bytes.len()))
}

/// A loaded checkpoint: the T = 1 layer-0 model of a DTM run.
pub struct Loaded {
    /// The training run.
    pub run: DtmRun,
    /// Layer 0's learned model.
    pub model: IsingModel,
    /// Its colouring.
    pub coloring: Coloring,
    /// [`fingerprint`] of the file.
    pub fingerprint: String,
}

impl Loaded {
    /// Loads `path` and checks that layer 0 is a T = 1 model (no input couplings).
    pub fn load(path: &Path) -> Result<Self, ReproError> {
        let bad = |why: String| ReproError::Checkpoint {
            path: path.to_path_buf(),
            why,
        };
        let run = DtmRun::load(path).map_err(|e| bad(e.to_string()))?;
        let layer = run
            .layers()
            .first()
            .ok_or_else(|| bad("the checkpoint has no layers".into()))?;
        let (ji, jl) = layer.input_couplings();
        if ji != 0.0 || jl != 0.0 {
            return Err(bad(format!(
                "layer 0 has input couplings ({ji}, {jl}); this study needs a T = 1 model (unconditional joint law)"
            )));
        }
        let model = layer.learned().clone();
        let coloring = layer.coloring().clone();
        Ok(Self {
            fingerprint: fingerprint(path)?,
            run,
            model,
            coloring,
        })
    }
}

/// A study ready to run: the checkpoints are loaded and checked, the observables drawn and the
/// cost projected (write [`Prepared::plan`] before [`Prepared::run`] for a dry run).
pub struct Prepared {
    params: Params,
    preset: String,
    seed: u64,
    ck: PathBuf,
    main: Loaded,
    extras: Vec<(CheckpointSpec, Loaded)>,
    obs: Vec<Obs>,
    started: Instant,
    /// The projected cost.
    pub plan: CostPlan,
}

/// Loads checkpoint `ck` and the `extras` (skipping any that is the main checkpoint; all must
/// have its grid), draws the observable subset and measures the cost plan.
pub fn prepare(
    p: &Params,
    preset: &str,
    seed: u64,
    ck: &Path,
    extras: &[CheckpointSpec],
    progress: &dyn Progress,
) -> Result<Prepared, ReproError> {
    let started = Instant::now();
    let main = Loaded::load(ck)?;
    let model = &main.model;
    let n = model.n_spins();
    let obs = observable_subset(model, p.n_obs, seed);
    let n_edges = model.graph().n_edges();
    progress.note(&format!(
        "dtm: checkpoint {} ({} epochs, grid {}), N = {n} spins, {n_edges} edges, β = {}; {} gradient observables + energy; {} extra checkpoint(s)",
        ck.display(),
        main.run.epochs_done(),
        main.run.config().grid,
        model.beta(),
        obs.len(),
        extras.len()
    ));
    let mut extra_loaded = Vec::new();
    for e in extras {
        let l = Loaded::load(&e.path)?;
        if l.fingerprint == main.fingerprint {
            progress.note(&format!(
                "  {} ({}) is the main checkpoint; skipped",
                e.label,
                e.path.display()
            ));
            continue;
        }
        if l.model.n_spins() != n || l.model.graph().n_edges() != n_edges {
            return Err(ReproError::Checkpoint {
                path: e.path.clone(),
                why: format!(
                    "{}: {} spins / {} edges, expected the main checkpoint's {n} / {n_edges} (same grid)",
                    e.label,
                    l.model.n_spins(),
                    l.model.graph().n_edges()
                ),
            });
        }
        extra_loaded.push((e.clone(), l));
    }
    let plan = plan_cost(model, &main.coloring, p, extra_loaded.len(), 136)?;
    progress.note(&format!(
        "  projected cost: {:.0} s ({:.2} h) at {:.2e} (Gibbs) / {:.2e} (PT) spin updates/s; {}",
        plan.total_seconds,
        plan.total_seconds / 3600.0,
        plan.gibbs_rate,
        plan.pt_rate,
        plan.phases
            .iter()
            .map(|(k, v)| format!("{k} {v:.0} s"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(Prepared {
        params: p.clone(),
        preset: preset.into(),
        seed,
        ck: ck.to_path_buf(),
        main,
        extras: extra_loaded,
        obs,
        started,
        plan,
    })
}

/// Everything the study measured.
#[derive(Clone, Debug)]
pub struct DtmStudy {
    /// The sizes.
    pub params: Params,
    /// Preset name.
    pub preset: String,
    /// Master seed.
    pub seed: u64,
    /// The main checkpoint.
    pub checkpoint: PathBuf,
    /// Its epochs.
    pub epochs: usize,
    /// Its training configuration.
    pub config: DtmRunConfig,
    /// The model.
    pub model: ModelBrief,
    /// The observable subset.
    pub observables: ObservablesBrief,
    /// The tables of the parts.
    pub rows: StudyRows,
    /// Whether some α_top met the τ target (else `alpha_top` is the hottest of the grid).
    pub chosen: bool,
    /// The chosen α_top.
    pub alpha_top: f64,
    /// Λ(α_top).
    pub lambda: f64,
    /// R\*.
    pub rs: usize,
    /// The stale-weights check.
    pub stale: StaleOut,
    /// Where each phase came from.
    pub phases: Vec<PhaseRecord>,
    /// What the study cost.
    pub cost: StudyCost,
    /// The cost plan.
    pub plan: CostPlan,
}

/// The study's tables, one per part (`results.json` records them under the renamed keys).
#[derive(Clone, Debug, Serialize)]
pub struct StudyRows {
    /// τ vs L, both kernels.
    pub tau_vs_l: Vec<TauRow>,
    /// Uniform ladders.
    pub uniform_ladders: Vec<LadderRow>,
    /// The R = 4 geometric ladder.
    pub geometric_r4: LadderRow,
    /// τ(α_top).
    #[serde(rename = "alpha_top")]
    pub tau_alpha_top: Vec<TopRow>,
    /// C(α) profile, Λ and R\* per α_top.
    pub specific_heat: HeatProfile,
    /// The first (unrefined) C(α) pass.
    pub heat_pass0: LadderRow,
    /// Equal-length ladder, PT-DEO then PT-SYM.
    pub equal_length: Vec<LadderRow>,
    /// τ vs L and R\* per checkpoint, by epochs.
    pub checkpoints: Vec<CheckpointRow>,
    /// The target table.
    pub targets: Vec<TargetRow>,
}

/// What the study cost.
#[derive(Clone, Debug)]
pub struct StudyCost {
    /// Wall seconds from [`prepare`] to the end of the last part.
    pub wall_seconds: f64,
    /// Seconds of computation (summed over phases, reused ones at their recorded time).
    pub compute_seconds: f64,
    /// Spin updates of the whole study.
    pub spin_updates: f64,
    /// Spin updates per compute second.
    pub rate: f64,
    /// Projected seconds of the paper preset at `rate`.
    pub paper_projection_seconds: f64,
}

impl Prepared {
    /// Runs every part, loading finished phases from `store` and saving new ones; `steps_per_epoch`
    /// gives the checkpoint's optimizer steps per epoch and training-set size when known.
    #[allow(clippy::too_many_lines)]
    pub fn run<S: PhaseStore>(
        self,
        store: &S,
        progress: &dyn Progress,
        steps_per_epoch: impl FnOnce(&DtmRun) -> Option<(usize, usize)>,
    ) -> Result<DtmStudy, ReproError> {
        let (p, seed, obs) = (&self.params, self.seed, &self.obs);
        let main = &self.main;
        let (run, model, coloring) = (&main.run, &main.model, &main.coloring);
        let beta = model.beta();
        let n = model.n_spins();
        let phases = Phases {
            store,
            records: RefCell::new(Vec::new()),
        };
        let key = serde_json::json!({"params": p, "seed": seed, "checkpoint": main.fingerprint});

        // ---- Part 1: τ vs L.
        let mut tau_rows = Vec::new();
        for (kind, name) in [
            (KernelKind::BlkSym, "blk-sym"),
            (KernelKind::BlkAlt, "blk-alt"),
        ] {
            let rows = phases.get(&format!("tau-{name}"), &key, || {
                tau_phase(model, coloring, kind, name, p, seed, obs, "", progress)
            })?;
            tau_row_lines(&rows, "")
                .iter()
                .for_each(|l| progress.note(l));
            tau_rows.extend(rows);
        }

        // ---- Part 2: uniform ladders under PT-SYM (+ stale-weights moments on R = 8).
        let uni = phases.get("uniform-ladders", &key, || {
            let runs = p.ladder.rungs.iter().map(|&r| {
                Ok(LadderRun {
                    message: format!("R = {r}"),
                    ladder: Ladder::uniform(r, p.ladder.alpha_top)?,
                    scheme: SwapScheme::PtSym,
                    seed: seed ^ SALT_LADDER ^ r as u64,
                    record: r == 8,
                })
            });
            let runs = runs.collect::<Result<_, ReproError>>()?;
            let (what, sweeps) = ("uniform ladders", p.ladder.sweeps);
            run_ladder_set(model, coloring, p, what, "uniform", sweeps, runs, progress)
        })?;
        for row in &uni.rows {
            progress.note(&format!(
                "  R = {:>2}: cold {:.4}  hot {:.4}  worst {:.4} (edge {})  round trips/chain {:.2}",
                row.rungs,
                row.cold_edge,
                row.hot_edge,
                row.worst_edge,
                row.worst_edge_index,
                row.round_trips_per_chain
            ));
        }
        let ladder_rows = uni.rows.clone();

        // ---- Part 2b: the R = 4 geometric ladder of exp15-recheck (target #21), PT-SYM.
        let geo = phases.get("geometric-r4", &key, || {
            progress.start(
                "R = 4 geometric",
                (4 * (p.pt_burn_in + p.ladder.sweeps)) as u64,
            );
            let row = run_ladder(
                model,
                coloring,
                Ladder::geometric(4, p.ladder.alpha_top)?,
                SwapScheme::PtSym,
                "geometric",
                p.chains,
                seed ^ SALT_GEO,
                p.pt_burn_in,
                p.ladder.sweeps,
                progress,
                |_| {},
            )?;
            progress.finish();
            Ok(row)
        })?;
        progress.note(&format!(
            "  R = 4 geometric over [{}, 1]: acceptance {:?}, max {:.4}, round trips/chain {:.2}",
            p.ladder.alpha_top,
            geo.acceptance,
            geo.max_acceptance(),
            geo.round_trips_per_chain
        ));

        // ---- Part 3: τ(α_top).
        let top_rows: Vec<TopRow> = phases.get("alpha-top", &key, || {
            progress.start(
                "τ(α_top)",
                (p.top.alpha_tops.len() * (p.top.warmup + p.top.window)) as u64,
            );
            let mut out = Vec::new();
            for (k, &a) in p.top.alpha_tops.iter().enumerate() {
                progress.message(&format!("α_top = {a}"));
                let t = record(
                    model,
                    coloring,
                    KernelKind::BlkSym,
                    a * beta,
                    p.chains,
                    seed ^ SALT_TOP ^ k as u64,
                    obs,
                    p.top.warmup,
                    p.top.window,
                    progress,
                )?;
                let rows = tau_table(&t, "blk-sym", &[p.top.window / 2, p.top.window]);
                out.push(TopRow::new(a, &rows[1].within, &rows[1].global));
            }
            progress.finish();
            Ok(out)
        })?;
        for row in &top_rows {
            progress.note(&format!(
                "  α_top = {:<5}: τ_max = {} (within {}, global {})  τ_E = {}  {}",
                row.alpha_top,
                fmt(row.tau_max),
                fmt(row.tau_within),
                fmt(row.tau_global),
                fmt(row.tau_energy),
                row.status
            ));
        }
        // The frontier: the largest α_top whose τ_max is a *resolved* value ≤ the target (a
        // bound below the target says nothing).
        let chosen = top_rows
            .iter()
            .filter(|r| r.status.is_resolved() && r.tau_max <= TAU_TARGET)
            .map(|r| r.alpha_top)
            .fold(f64::NAN, |m, a| if m.is_nan() || a > m { a } else { m });
        let alpha_top = if chosen.is_finite() {
            chosen
        } else {
            p.top.alpha_tops.iter().copied().fold(1.0, f64::min)
        };

        // ---- Part 4: C(α), Λ, R*, equal-length ladder under PT-DEO and PT-SYM.
        let heat: HeatOut = phases.get("specific-heat", &key, || {
            heat_phase(model, coloring, p, seed, "", progress)
        })?;
        let (pass1, added) = (&heat.pass1, heat.added);
        // C(α) = β² Var(E) from the run; Λ = β ∫ √C dα is the preprint's exp19 formula with C
        // in these units only when β = 1 (both presets): SCIENCE II.8 writes Λ = ∫ √C dα.
        let prof = CProfile::new(pass1.alphas.clone(), pass1.specific_heat.clone())?;
        let (heat_a, heat_c) = (prof.alphas.clone(), prof.c.clone());
        let (lambda_at, r_star_at) = length_table(&prof, &p.top.alpha_tops)?;
        let lambda = prof.lambda_at(alpha_top)?;
        let rs = r_star(lambda)?.max(2);
        progress.note(&format!(
            "  C(α): {} points ({added} refined); α_top = {alpha_top}: Λ = {lambda:.3}, R* = {rs} (budget {BUDGET}: {})",
            heat_a.len(),
            if rs > BUDGET { "over" } else { "within" }
        ));
        let heat_profile = HeatProfile {
            alphas: heat_a.clone(),
            c: heat_c,
            refined_points: added,
            lambda_at: lambda_at.clone(),
            r_star_at: r_star_at.clone(),
        };

        let eq = phases.get("equal-length", &key, || {
            let mut runs = Vec::new();
            for scheme in [SwapScheme::PtDeo, SwapScheme::PtSym] {
                runs.push(LadderRun {
                    message: scheme.name().to_string(),
                    ladder: prof.equal_length_ladder(alpha_top, rs)?,
                    scheme,
                    seed: seed ^ SALT_EQ,
                    record: scheme == SwapScheme::PtDeo,
                });
            }
            let what = "equal-length";
            run_ladder_set(model, coloring, p, what, what, p.eq_sweeps, runs, progress)
        })?;
        for row in &eq.rows {
            progress.note(&format!(
                "  equal-length R = {rs} {}: acceptance min {:.3} mean {:.3}; round trips/sweep/chain {:.5} (predicted DEO {:.5}, Λ_rej {:.2})",
                row.scheme,
                row.worst_edge,
                row.mean_acceptance(),
                row.round_trip_rate,
                row.deo_predicted_rate,
                row.lambda_rej
            ));
        }
        let eq_rows = eq.rows.clone();

        // ---- Part 5: stale weights.
        let stale = phases.get("stale-weights", &key, || {
            stale_phase(run, model, coloring, p, seed, &uni, &eq)
        })?;
        progress.note(&format!(
            "  stale-weights gate: cos(R1 PT, Gibbs trained) = {:.6}, cos(R1 PT on initial weights, Gibbs trained) = {:.4}; \
             cos(Gibbs, Gibbs other seed) = {:.4}; cos(PT cold rung, Gibbs trained) = {:.6} (max |Δ| {:.4}); \
             cos(PT, Gibbs on initial weights) = {:.4}; |θ_trained − θ_init| = {:.3}; \
             diagnostics: cos(uniform R=8 PT over [0.5,1], Gibbs) = {:.4}, cos(uniform R=8 PT, equal-length PT) = {:.4}",
            stale.r1.cosine_trained,
            stale.r1.cosine_initial,
            stale.cosine_gibbs_vs_gibbs,
            stale.cosine_pt_vs_gibbs,
            stale.max_abs_diff,
            stale.cosine_pt_vs_initial_weights_gibbs,
            stale.r1.weight_change_l2,
            stale.cosine_uniform_r8_vs_gibbs,
            stale.cosine_uniform_r8_vs_equal_length_pt
        ));

        // ---- Part 6: τ vs L (BLK-SYM) and R* on the other checkpoints.
        let mut checkpoints = vec![CheckpointRow {
            label: "main".into(),
            path: self.ck.display().to_string(),
            epochs: run.epochs_done(),
            tau: tau_rows
                .iter()
                .filter(|r| r.kernel == "blk-sym")
                .cloned()
                .collect(),
            lambda_at,
            r_star_at,
            heat_points: heat_a.len(),
        }];
        for (spec, l) in &self.extras {
            let k = serde_json::json!({"params": p, "seed": seed, "checkpoint": l.fingerprint});
            let tag = format!("{} ", spec.label);
            let tau = phases.get(
                &format!("checkpoint-{}-tau-blk-sym", spec.label),
                &k,
                || {
                    tau_phase(
                        &l.model,
                        &l.coloring,
                        KernelKind::BlkSym,
                        "blk-sym",
                        p,
                        seed,
                        obs,
                        &tag,
                        progress,
                    )
                },
            )?;
            tau_row_lines(&tau, &tag)
                .iter()
                .for_each(|line| progress.note(line));
            let h: HeatOut = phases.get(
                &format!("checkpoint-{}-specific-heat", spec.label),
                &k,
                || heat_phase(&l.model, &l.coloring, p, seed, &tag, progress),
            )?;
            let prof = CProfile::new(h.pass1.alphas.clone(), h.pass1.specific_heat.clone())?;
            let (la, ra) = length_table(&prof, &p.top.alpha_tops)?;
            progress.note(&format!(
                "  {tag}({} epochs): R*(α_top) = {}",
                l.run.epochs_done(),
                ra.iter()
                    .map(|(a, r)| format!("{a}: {r}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            checkpoints.push(CheckpointRow {
                label: spec.label.clone(),
                path: spec.path.display().to_string(),
                epochs: l.run.epochs_done(),
                tau,
                lambda_at: la,
                r_star_at: ra,
                heat_points: h.pass1.alphas.len(),
            });
        }
        checkpoints.sort_by_key(|c| c.epochs);

        // ---- Totals and the target table.
        let wall_seconds = self.started.elapsed().as_secs_f64();
        let records = phases.records.borrow().clone();
        let compute_seconds: f64 = records.iter().map(|r| r.seconds).sum();
        let extra_updates: f64 = self
            .extras
            .iter()
            .map(|_| {
                (p.chains * (p.tau.warmup + p.tau.lengths.last().copied().unwrap_or(0))) as f64
            })
            .sum::<f64>()
            * n as f64;
        let spin_updates = p.sweeps_total(rs, heat.heat_rungs()) * n as f64 + extra_updates;
        let rate = spin_updates / compute_seconds.max(1e-9);
        let paper = Params::of(Preset::Paper);
        let paper_projection_seconds =
            paper.sweeps_total(136, 2 * paper.heat.points + 20) * PAPER_SPINS / rate;
        let targets = targets(&TargetInputs {
            p,
            tau_rows: &tau_rows,
            ladder_rows: &ladder_rows,
            geo: &geo,
            top_rows: &top_rows,
            chosen: chosen.is_finite(),
            alpha_top,
            lambda,
            rs,
            stale: &stale,
            checkpoints: &checkpoints,
            steps_per_epoch: steps_per_epoch(run),
            batch: run.config().batch,
        });
        Ok(DtmStudy {
            params: self.params.clone(),
            preset: self.preset.clone(),
            seed,
            checkpoint: self.ck.clone(),
            epochs: run.epochs_done(),
            config: run.config().clone(),
            model: ModelBrief {
                spins: n,
                edges: model.graph().n_edges(),
                beta,
                colour_classes: coloring.n_colors(),
            },
            observables: ObservablesBrief::new(
                obs.len(),
                obs.iter().filter(|o| o.1.is_some()).count(),
            ),
            rows: StudyRows {
                tau_vs_l: tau_rows,
                uniform_ladders: ladder_rows,
                geometric_r4: geo,
                tau_alpha_top: top_rows,
                specific_heat: heat_profile,
                heat_pass0: heat.pass0,
                equal_length: eq_rows,
                checkpoints,
                targets,
            },
            chosen: chosen.is_finite(),
            alpha_top,
            lambda,
            rs,
            stale,
            phases: records,
            cost: StudyCost {
                wall_seconds,
                compute_seconds,
                spin_updates,
                rate,
                paper_projection_seconds,
            },
            plan: self.plan,
        })
    }
}

/// Spins of the preprint's paper-scale model, for the projection.
const PAPER_SPINS: f64 = 3600.0;

/// Part 5: the R1 gate and the cold-rung moments against plain Gibbs.
fn stale_phase(
    run: &DtmRun,
    model: &IsingModel,
    coloring: &Coloring,
    p: &Params,
    seed: u64,
    uni: &LadderSet,
    eq: &LadderSet,
) -> Result<StaleOut, ReproError> {
    let (pt_moments, eq_moments) = (uni.mean_moments(), eq.mean_moments());
    let moment_run = MomentRun {
        chains: GIBBS_CHAIN_FACTOR * p.chains,
        seed: seed ^ SALT_GIBBS,
        burn_in: p.pt_burn_in,
        sweeps: p.gibbs_sweeps,
    };
    let gibbs = gibbs_moments(model, coloring, &moment_run)?;
    let init_run = DtmRun::new(run.config().clone())?;
    let init_model = init_run
        .layers()
        .first()
        .ok_or(ReproError::Missing {
            what: "layer 0 of the initial weights",
            why: "a fresh run of the checkpoint's configuration has layers",
        })?
        .learned()
        .clone();
    let stale_gibbs = gibbs_moments(&init_model, coloring, &moment_run)?;
    // The gate (the preprint's "R1" check): PT with a single rung at α = 1, built through the PT
    // code path from a model, against plain Gibbs built directly from the trained checkpoint,
    // same chains, seeds and starts.
    let r1 = r1_check(model, &init_model, coloring, &gibbs, &moment_run)?;
    // Noise floor of the full-ladder comparison: plain Gibbs against plain Gibbs, other seed.
    let other_seed = MomentRun {
        seed: seed ^ SALT_GIBBS ^ 0x5eed,
        ..moment_run
    };
    let gibbs_b = gibbs_moments(model, coloring, &other_seed)?;
    Ok(StaleOut {
        r1,
        cosine_pt_vs_gibbs: cosine(&eq_moments, &gibbs),
        cosine_pt_vs_initial_weights_gibbs: cosine(&eq_moments, &stale_gibbs),
        cosine_uniform_r8_vs_gibbs: cosine(&pt_moments, &gibbs),
        cosine_uniform_r8_vs_equal_length_pt: cosine(&pt_moments, &eq_moments),
        cosine_gibbs_vs_gibbs: cosine(&gibbs, &gibbs_b),
        max_abs_diff: eq_moments
            .iter()
            .zip(&gibbs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max),
    })
}
