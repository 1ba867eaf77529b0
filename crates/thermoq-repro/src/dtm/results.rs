//! The study's `results.json`: typed structs whose field names are the file's keys
//! ([`DtmResults`], built by [`DtmStudy::results`]).

use super::params::{BUDGET, GIBBS_CHAIN_FACTOR, Params, TAU_TARGET};
use super::phases::CostPlan;
use super::study::{DtmStudy, PhaseRecord, StudyRows};
use super::targets::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;
use thermoq_snr::tau::{TauRow, TauStat, TauStatus};
use thermoq_train::dtm::DtmRunConfig;

/// One estimator's τ summary in `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct TauBrief {
    /// τ_max over the gradient subset.
    pub tau_max: f64,
    /// τ_max / L.
    #[serde(rename = "tau_over_L")]
    pub tau_over_l: f64,
    /// Its status.
    pub status: TauStatus,
    /// Observables with a Sokal window.
    pub windows_found: usize,
    /// Observables passing the doubling rule.
    pub resolved_count: usize,
}

impl From<&TauStat> for TauBrief {
    fn from(t: &TauStat) -> Self {
        Self {
            tau_max: t.tau_max,
            tau_over_l: t.tau_over_l,
            status: t.status,
            windows_found: t.windows_found,
            resolved_count: t.resolved_count,
        }
    }
}

/// Both estimators at one window.
#[derive(Clone, Debug, Serialize)]
pub struct TauPair {
    /// Per-chain centred, chain-averaged ACF.
    pub within: TauBrief,
    /// Global-mean pooled autocovariance.
    pub global: TauBrief,
}

/// τ by window L (keyed by L as text).
pub type TauByLength = BTreeMap<String, TauPair>;

fn by_length<'a>(rows: impl Iterator<Item = &'a TauRow>) -> TauByLength {
    rows.map(|r| {
        (
            r.len.to_string(),
            TauPair {
                within: (&r.within).into(),
                global: (&r.global).into(),
            },
        )
    })
    .collect()
}

/// τ at one α_top.
#[derive(Clone, Debug, Serialize)]
pub struct TopBrief {
    /// τ_max.
    pub tau_max: f64,
    /// Its status.
    pub status: TauStatus,
}

/// The R = 4 geometric ladder in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct GeometricBrief {
    /// Its hot end.
    pub alpha_top: f64,
    /// Largest swap acceptance over its edges.
    pub max_acceptance: f64,
    /// Round trips per chain.
    pub round_trips_per_chain: f64,
}

/// One checkpoint in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointBrief {
    /// Label.
    pub label: String,
    /// Epochs.
    pub epochs: usize,
    /// File.
    pub path: String,
    /// BLK-SYM τ by L.
    #[serde(rename = "tau_over_L_blk_sym")]
    pub tau_over_l_blk_sym: TauByLength,
    /// R\* by α_top.
    pub r_star_at: BTreeMap<String, usize>,
    /// Λ by α_top.
    pub lambda_at: BTreeMap<String, f64>,
    /// R\* at the study's α_top.
    pub r_star_at_study_alpha_top: Option<usize>,
}

/// A target's verdict in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct TargetBrief {
    /// Target number.
    pub target: u32,
    /// Verdict.
    pub verdict: Verdict,
}

/// Round trips of the equal-length ladder in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct RoundTripBrief {
    /// Round trips per sweep per chain, PT-DEO.
    pub deo_round_trip_rate: f64,
    /// 1/(2 + 2Λ_rej).
    pub deo_predicted_rate: f64,
    /// Λ_rej of the ladder.
    pub deo_lambda_rej: f64,
    /// Round trips per sweep per chain, PT-SYM.
    pub sym_round_trip_rate: f64,
}

/// The stale-weights cosines in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct CosineBrief {
    /// The R1 gate's cosine.
    pub cosine_r1_pt_vs_gibbs: f64,
    /// The R1 program on the initial weights.
    pub cosine_r1_pt_stale_vs_gibbs: f64,
    /// Equal-length cold rung vs Gibbs.
    pub cosine_pt_vs_gibbs: f64,
    /// Gibbs vs Gibbs, another seed.
    pub cosine_gibbs_vs_gibbs: f64,
    /// Equal-length cold rung vs Gibbs on the initial weights.
    pub cosine_pt_vs_stale_gibbs: f64,
}

/// The headline numbers.
#[derive(Clone, Debug, Serialize)]
pub struct DtmSummary {
    /// Per kernel and L.
    #[serde(rename = "tau_over_L")]
    pub tau_over_l: BTreeMap<String, TauByLength>,
    /// What the τ entries mean.
    #[serde(rename = "tau_over_L_note")]
    pub tau_over_l_note: &'static str,
    /// R\*.
    pub r_star: usize,
    /// The chosen α_top.
    pub alpha_top: f64,
    /// Whether α_top met the τ target.
    pub alpha_top_met_target: bool,
    /// How α_top is chosen.
    pub alpha_top_rule: &'static str,
    /// Λ(α_top).
    pub lambda: f64,
    /// The rung budget.
    pub budget: usize,
    /// R\* > budget.
    pub over_budget: bool,
    /// The τ target.
    pub tau_target: f64,
    /// τ by α_top.
    pub tau_alpha_top: BTreeMap<String, TopBrief>,
    /// The R = 4 geometric ladder.
    pub geometric_r4: GeometricBrief,
    /// The equal-length ladder's round trips.
    #[serde(flatten)]
    pub round_trips: RoundTripBrief,
    /// The stale-weights cosines.
    #[serde(flatten)]
    pub cosines: CosineBrief,
    /// Per checkpoint.
    pub per_checkpoint: Vec<CheckpointBrief>,
    /// Verdicts.
    pub targets: Vec<TargetBrief>,
    /// Wall seconds of the writing process.
    pub wall_seconds: f64,
    /// Compute seconds over phases.
    pub compute_seconds: f64,
}

/// The model in `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ModelBrief {
    /// Spins.
    pub spins: usize,
    /// Edges.
    pub edges: usize,
    /// β.
    pub beta: f64,
    /// Colour classes.
    pub colour_classes: usize,
}

/// The observable subset in `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ObservablesBrief {
    /// What they are.
    pub what: &'static str,
    /// How many.
    pub count: usize,
    /// Edge observables.
    pub edges: usize,
    /// Spin observables.
    pub spins: usize,
    /// The τ estimator.
    pub estimator: &'static str,
}

impl ObservablesBrief {
    /// `count` observables (plus the energy), `edges` of them on edges.
    pub fn new(count: usize, edges: usize) -> Self {
        Self {
            what: "a fixed random subset (uniform without replacement, seeded) of all gradient observables f_ij = -x_i x_j (edges) and f_i = -x_i (spins), plus the energy",
            count,
            edges,
            spins: count - edges,
            estimator: "Sokal window (c = 5): within-chain (chain-averaged own-mean ACF) and global-mean pooled autocovariance, first L recorded sweeps after the warm-up; every tau carries a status",
        }
    }
}

/// The stale-weights check in `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct StaleBrief {
    /// The gate.
    pub gate: &'static str,
    /// R1 cosine.
    pub cosine_r1_pt_vs_gibbs: f64,
    /// R1 program on the initial weights.
    pub cosine_r1_pt_on_initial_weights_vs_gibbs: f64,
    /// Noise floor.
    pub cosine_gibbs_vs_gibbs_other_seed: f64,
    /// Equal-length cold rung vs Gibbs.
    pub cosine_pt_vs_gibbs: f64,
    /// Max |Δ| of the moments.
    pub max_abs_diff: f64,
    /// Equal-length cold rung vs Gibbs on the initial weights.
    pub cosine_pt_vs_initial_weights_gibbs: f64,
    /// |θ_trained − θ_init|.
    pub weight_change_l2: f64,
    /// Which PT.
    pub pt_ladder: &'static str,
    /// Which Gibbs.
    pub gibbs: String,
    /// Uniform R = 8 cold rung vs Gibbs.
    pub cosine_uniform_r8_pt_sym_vs_gibbs: f64,
    /// Uniform R = 8 vs equal-length PT.
    pub cosine_uniform_r8_vs_equal_length_pt: f64,
    /// Which moments.
    pub moments: &'static str,
}

/// The projection to the paper preset.
#[derive(Clone, Debug, Serialize)]
pub struct PaperProjection {
    /// Spins of the paper model.
    pub spins: f64,
    /// R\* assumed.
    pub assumed_r_star: u64,
    /// Seconds at this run's rate.
    pub projected_seconds_at_this_rate: f64,
    /// How to read it.
    pub note: &'static str,
}

/// Everything `results.json` records.
#[derive(Clone, Debug, Serialize)]
pub struct DtmResults {
    /// `dtm`.
    pub experiment: &'static str,
    /// Preset name.
    pub preset: String,
    /// Master seed.
    pub seed: u64,
    /// Revision of the writing code.
    pub git_revision: String,
    /// Checkpoint file.
    pub checkpoint: String,
    /// Its epochs.
    pub checkpoint_epochs: usize,
    /// Its training configuration.
    pub config: DtmRunConfig,
    /// The model.
    pub model: ModelBrief,
    /// The sizes.
    pub params: Params,
    /// The observable subset.
    pub observables: ObservablesBrief,
    /// Headline numbers.
    pub summary: DtmSummary,
    /// The tables of the parts (`targets`, `tau_vs_l`, … as top-level keys).
    #[serde(flatten)]
    pub rows: StudyRows,
    /// The stale-weights check.
    pub stale_weights: StaleBrief,
    /// Phase records.
    pub phases: Vec<PhaseRecord>,
    /// (phase, seconds).
    pub timings_seconds: Vec<(String, f64)>,
    /// Spin updates.
    pub spin_updates: f64,
    /// Spin updates per compute second.
    pub updates_per_second: f64,
    /// The cost plan.
    pub plan: CostPlan,
    /// Projection to the paper preset.
    pub paper_projection: PaperProjection,
}

impl DtmStudy {
    /// The headline numbers.
    pub fn summary(&self) -> DtmSummary {
        let tau_over_l = ["blk-sym", "blk-alt"]
            .into_iter()
            .map(|k| {
                (
                    k.to_string(),
                    by_length(self.rows.tau_vs_l.iter().filter(|r| r.kernel == k)),
                )
            })
            .collect();
        let (deo, sym) = (&self.rows.equal_length[0], &self.rows.equal_length[1]);
        let alpha_top = self.alpha_top;
        let per_checkpoint = self
            .rows
            .checkpoints
            .iter()
            .map(|c| CheckpointBrief {
                label: c.label.clone(),
                epochs: c.epochs,
                path: c.path.clone(),
                tau_over_l_blk_sym: by_length(c.tau.iter()),
                r_star_at: c
                    .r_star_at
                    .iter()
                    .map(|(a, r)| (a.to_string(), *r))
                    .collect(),
                lambda_at: c
                    .lambda_at
                    .iter()
                    .map(|(a, l)| (a.to_string(), *l))
                    .collect(),
                r_star_at_study_alpha_top: c
                    .r_star_at
                    .iter()
                    .find(|x| (x.0 - alpha_top).abs() < 1e-12)
                    .map(|x| x.1),
            })
            .collect();
        DtmSummary {
            tau_over_l,
            tau_over_l_note: "per kernel and window L: within = per-chain centred, chain-averaged ACF (comparable to the preprint's per-chain Sokal); global = global-mean pooled autocovariance. status: resolved = passes the doubling rule between L/2 and L for every observable; lower_bound = windows found but the rule not met (tau >= tau_max); no_window = the observable holding the maximum had no Sokal window, tau_max is the estimator's truncated sum (for tau/L near 1: tau >= L)",
            r_star: self.rs,
            alpha_top,
            alpha_top_met_target: self.chosen,
            alpha_top_rule: "largest alpha_top whose tau_max is resolved and <= tau_target; else the hottest alpha_top of the grid",
            lambda: self.lambda,
            budget: BUDGET,
            over_budget: self.rs > BUDGET,
            tau_target: TAU_TARGET,
            tau_alpha_top: self
                .rows
                .tau_alpha_top
                .iter()
                .map(|r| {
                    (
                        r.alpha_top.to_string(),
                        TopBrief {
                            tau_max: r.tau_max,
                            status: r.status,
                        },
                    )
                })
                .collect(),
            geometric_r4: GeometricBrief {
                alpha_top: self.params.ladder.alpha_top,
                max_acceptance: self.rows.geometric_r4.max_acceptance(),
                round_trips_per_chain: self.rows.geometric_r4.round_trips_per_chain,
            },
            round_trips: RoundTripBrief {
                deo_round_trip_rate: deo.round_trip_rate,
                deo_predicted_rate: deo.deo_predicted_rate,
                deo_lambda_rej: deo.lambda_rej,
                sym_round_trip_rate: sym.round_trip_rate,
            },
            cosines: CosineBrief {
                cosine_r1_pt_vs_gibbs: self.stale.r1.cosine_trained,
                cosine_r1_pt_stale_vs_gibbs: self.stale.r1.cosine_initial,
                cosine_pt_vs_gibbs: self.stale.cosine_pt_vs_gibbs,
                cosine_gibbs_vs_gibbs: self.stale.cosine_gibbs_vs_gibbs,
                cosine_pt_vs_stale_gibbs: self.stale.cosine_pt_vs_initial_weights_gibbs,
            },
            per_checkpoint,
            targets: self
                .rows
                .targets
                .iter()
                .map(|t| TargetBrief {
                    target: t.id,
                    verdict: t.verdict,
                })
                .collect(),
            wall_seconds: self.cost.wall_seconds,
            compute_seconds: self.cost.compute_seconds,
        }
    }

    /// `results.json`, stamped with `git_revision`.
    pub fn results(&self, git_revision: String) -> DtmResults {
        let p = &self.params;
        let s = &self.stale;
        DtmResults {
            experiment: "dtm",
            preset: self.preset.clone(),
            seed: self.seed,
            git_revision,
            checkpoint: self.checkpoint.display().to_string(),
            checkpoint_epochs: self.epochs,
            config: self.config.clone(),
            model: self.model.clone(),
            params: p.clone(),
            observables: self.observables.clone(),
            summary: self.summary(),
            rows: self.rows.clone(),
            stale_weights: StaleBrief {
                gate: "cosine_r1_pt_vs_gibbs > 0.99",
                cosine_r1_pt_vs_gibbs: s.r1.cosine_trained,
                cosine_r1_pt_on_initial_weights_vs_gibbs: s.r1.cosine_initial,
                cosine_gibbs_vs_gibbs_other_seed: s.cosine_gibbs_vs_gibbs,
                cosine_pt_vs_gibbs: s.cosine_pt_vs_gibbs,
                max_abs_diff: s.max_abs_diff,
                cosine_pt_vs_initial_weights_gibbs: s.cosine_pt_vs_initial_weights_gibbs,
                weight_change_l2: s.r1.weight_change_l2,
                pt_ladder: "equal-length R* ladder over [alpha_top, 1], PT-DEO, cold rung",
                gibbs: format!(
                    "BLK-SYM, {} chains from uniform starts, {} burn-in + {} sweeps",
                    GIBBS_CHAIN_FACTOR * p.chains,
                    p.pt_burn_in,
                    p.gibbs_sweeps
                ),
                cosine_uniform_r8_pt_sym_vs_gibbs: s.cosine_uniform_r8_vs_gibbs,
                cosine_uniform_r8_vs_equal_length_pt: s.cosine_uniform_r8_vs_equal_length_pt,
                moments: "<x_i> for all spins then <x_i x_j> on all edges",
            },
            phases: self.phases.clone(),
            timings_seconds: self
                .phases
                .iter()
                .map(|r| (r.name.clone(), r.seconds))
                .collect(),
            spin_updates: self.cost.spin_updates,
            updates_per_second: self.cost.rate,
            plan: self.plan.clone(),
            paper_projection: PaperProjection {
                spins: 3600.0,
                assumed_r_star: 136,
                projected_seconds_at_this_rate: self.cost.paper_projection_seconds,
                note: "at this run's overall rate; plan.json of a paper run projects phase by phase at rates measured on its own model",
            },
        }
    }
}
