//! The reversibility–mixing wall on a trained DTM (SCIENCE.md §2.4, §2.10, II.2, II.7, II.8):
//! the study behind `cargo xtask repro dtm`, as a library.
//!
//! The model is layer 0 of a trained DTM checkpoint: `layer.learned()` at its β (T = 1, input
//! couplings 0) on its 4-block colouring, every block free (the unconditional joint law over
//! image, label and hidden spins). Five parts, all on the fast conditioned block-Gibbs engine,
//! every random stream derived from the seed:
//!
//! 1. **τ̂ vs window L.** `chains` chains of `BLK-SYM` (reversible) and of `BLK-ALT`, warm-up
//!    `tau_warmup` sweeps, then one recorded trajectory of `max L` sweeps; τ̂ of each of a fixed
//!    random subset of the gradient observables (f_ij = −x_i x_j on edges, f_i = −x_i; drawn
//!    uniformly without replacement from all of them with the seed) and of the energy, by Sokal's
//!    window (c = 5) on the autocovariance pooled over chains around the global mean (so chains
//!    stuck apart count as slow) of the first L recorded sweeps, for L doubling. The τ̂ of a
//!    length is resolved when *every* observable passes the doubling rule
//!    (`thermoq_snr::tau::is_resolved`: |Δτ̂|/τ̂ < 0.15, L ≥ 5τ̂, self-consistent windows, relative
//!    SE ≤ 0.3) between L/2 and L; τ_max(L) is the largest τ̂ over the gradient subset.
//! 2. **Uniform-Δα ladders** over α ∈ [0.5, 1] for R ∈ {4, 6, 8, 12, 16, 24} under PT-SYM
//!    (reversible: ½(LS + SL), one random adjacent swap per sweep, BLK-SYM local sweep): mean swap
//!    acceptance probability per edge pooled over chains, cold edge (α = 1 side), hot edge
//!    (α = 0.5 side), worst edge, round trips per chain.
//! 3. **τ(α_top)**: single-replica BLK-SYM chains at α_top·β for α_top in the preprint's grid, flat
//!    window; τ_max over the same observables; the largest α_top (cheapest ladder) with
//!    τ ≤ [`TAU_TARGET`] — the preprint's 0.02.
//! 4. **C(α), Λ, R\*, PT-DEO.** C(α) = β² Var(E) per rung of a PT-DEO run over a geometric grid from
//!    min α_top to 1, refined once (midpoints where √C changes by more than 25 % between
//!    neighbours) and re-measured on the union grid; Λ(α_top) = β ∫ √C dα by the trapezoid rule
//!    (`thermodynamic_length`; β = 1 for our presets, so the β factor is the identity on C's
//!    definition), R\* = 1 + round(Λ/δ\*), δ\* = 1.683, against [`BUDGET`]. Then the
//!    equal-length ladder with R\* rungs under PT-DEO (non-reversible) and, for contrast, PT-SYM:
//!    measured round trips per sweep against 1/(2 + 2Λ_rej) (Syed et al. 2019).
//! 5. **Stale-weights check**: the gate is the preprint's R1 check — a one-rung PT program at α = 1
//!    built through the PT code path vs plain BLK-SYM Gibbs built from the checkpoint (same
//!    chains, seeds and starts), moments ⟨x_i⟩, ⟨x_i x_j⟩ on all edges: cosine must exceed 0.99;
//!    the same PT program on the initial weights is reported for scale. The full equal-length
//!    ladder's cold rung against Gibbs is reported as a diagnostic beside its noise floor (Gibbs
//!    vs Gibbs with another seed), which on a multimodal model is set by the modes.
//!
//! Then τ vs L (BLK-SYM) and R\* on any extra checkpoints, and the SCIENCE.md §4 target table
//! #16–#25 ([`targets`]).
//!
//! Use: [`prepare`] (load, draw the observables, project the cost), then [`Prepared::run`] with a
//! [`PhaseStore`] (per-phase resume; [`NoStore`] keeps nothing) and a [`Progress`] ([`Silent`]
//! reports nothing) → [`DtmStudy`]; [`DtmStudy::results`] is `results.json`. Files, bars, CSV,
//! figures and report prose are the caller's.

pub mod params;
pub mod phases;
pub mod results;
pub mod study;
pub mod targets;

pub use params::{
    BUDGET, CheckpointSpec, GIBBS_CHAIN_FACTOR, Params, TAU_TARGET, extra_checkpoints,
};
pub use phases::{
    CheckpointRow, CostPlan, HeatProfile, LadderRow, Progress, Silent, StaleOut, TopRow, fmt,
};
pub use results::DtmResults;
pub use study::{DtmStudy, NoStore, PhaseRecord, PhaseStore, Prepared, StoredPhase, prepare};
pub use targets::{TargetRow, Verdict};
