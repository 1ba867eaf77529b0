//! The stale-weights check ("R1", SCIENCE.md §2.10, §5): does a parallel-tempering program built
//! from a trained model sample the trained model?
//!
//! The preprint's PT builder once held the *initial* weights while the checkpoint held the
//! trained ones; its R1 check caught it by comparing the negative-phase moments (⟨x_i⟩ and
//! ⟨x_i x_j⟩ on every edge) of a one-rung PT program at α = 1 with plain Gibbs built directly from
//! the checkpoint. [`r1_check`] is that comparison on the fast engines, same chains, seeds and
//! uniform starts on both sides, so a PT program that holds the trained weights reproduces the
//! Gibbs moments to rounding (cosine 1) and one that holds other weights does not.

use serde::{Deserialize, Serialize};
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::fast::conditioned::ConditionedSampler;
use thermoq_samplers::observe::{MomentObserver, Observer};
use thermoq_samplers::pt::{FastPt, Ladder, SwapScheme};
use thermoq_samplers::{ChainBatch, KernelKind};

use crate::error::TrainError;

/// Cosine a passing R1 check must exceed.
pub const MIN_R1_COSINE: f64 = 0.99;

/// Length of a moment vector of `model`: spins, then edges.
pub fn moment_len(model: &IsingModel) -> usize {
    model.n_spins() + model.graph().n_edges()
}

/// Adds ⟨x_i⟩ then ⟨x_i x_j⟩ (edge order) of the state `x` to `acc` (length [`moment_len`]).
pub fn add_moments(model: &IsingModel, x: &[Spin], acc: &mut [f64]) {
    let n = model.n_spins();
    for (a, &s) in acc.iter_mut().zip(x) {
        *a += f64::from(s);
    }
    for (k, (i, j)) in model.graph().edges().enumerate() {
        acc[n + k] += f64::from(x[i] * x[j]);
    }
}

/// Cosine similarity of two vectors (NaN when either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    d / (na * nb)
}

/// How both sides of the comparison run: `chains` chains from uniform starts (seeded by `seed`),
/// `burn_in` discarded sweeps, then `sweeps` recorded sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MomentRun {
    /// Chains.
    pub chains: usize,
    /// Seed of the starts and the chains' streams.
    pub seed: u64,
    /// Sweeps discarded before recording.
    pub burn_in: usize,
    /// Recorded sweeps.
    pub sweeps: usize,
}

/// Moments of plain BLK-SYM Gibbs on `model` at its β, run as `run` says.
pub fn gibbs_moments(
    model: &IsingModel,
    coloring: &Coloring,
    run: &MomentRun,
) -> Result<Vec<f64>, TrainError> {
    let MomentRun { chains, seed, .. } = *run;
    let mut s = ConditionedSampler::new(model, coloring, KernelKind::BlkSym, chains, seed)?;
    let mut batch = ChainBatch::uniform(chains, model.n_spins(), seed);
    let mut all = MomentObserver::new(model);
    for o in s.run_per_chain(&mut batch, run.burn_in, run.sweeps, 1, |_| {
        MomentObserver::new(model)
    })? {
        all.merge(o);
    }
    let m = all.moments();
    Ok(m.m1.into_iter().chain(m.m2_edges).collect())
}

/// Moments (of `moments_of`'s graph) of a one-rung PT program at α = 1 built from `pt_model`
/// through the PT code path ([`FastPt`], BLK-SYM local sweeps), run as `run` says (the same
/// chains and seed convention as [`gibbs_moments`]).
pub fn one_rung_pt_moments(
    pt_model: &IsingModel,
    moments_of: &IsingModel,
    coloring: &Coloring,
    run: &MomentRun,
) -> Result<Vec<f64>, TrainError> {
    let mut pt = FastPt::new(
        pt_model,
        coloring,
        KernelKind::BlkSym,
        Ladder::new(vec![1.0])?,
        SwapScheme::PtDeo,
        run.chains,
        run.seed,
    )?;
    let mut acc = vec![0.0; moment_len(moments_of)];
    let mut count = 0.0;
    pt.run(run.burn_in, run.sweeps, |_, pt| {
        for c in 0..pt.n_chains() {
            add_moments(moments_of, pt.state(c, 0), &mut acc);
            count += 1.0;
        }
    })?;
    acc.iter_mut().for_each(|a| *a /= count);
    Ok(acc)
}

/// Deserializes an `f64` written by serde_json, where NaN and ±∞ were written as `null`.
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The outcome of [`r1_check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct R1Check {
    /// cos(one-rung PT on the trained weights, Gibbs on the trained weights).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_trained: f64,
    /// cos(one-rung PT on the initial weights, Gibbs on the trained weights): the preprint's bug.
    #[serde(deserialize_with = "f64_or_nan")]
    pub cosine_initial: f64,
    /// ‖θ_trained − θ_initial‖₂ over couplings and biases.
    #[serde(deserialize_with = "f64_or_nan")]
    pub weight_change_l2: f64,
    /// `cosine_trained > MIN_R1_COSINE`.
    pub passed: bool,
}

/// The R1 check: one-rung PT on `trained` (and, for scale, on `initial`) against the Gibbs
/// moments `gibbs` of `trained` (from [`gibbs_moments`] with the same `run`).
pub fn r1_check(
    trained: &IsingModel,
    initial: &IsingModel,
    coloring: &Coloring,
    gibbs: &[f64],
    run: &MomentRun,
) -> Result<R1Check, TrainError> {
    if initial.graph().n_edges() != trained.graph().n_edges()
        || initial.n_spins() != trained.n_spins()
    {
        return Err(TrainError::Invalid {
            field: "initial".into(),
            message: "has another graph than the trained model; expected the same layer".into(),
        });
    }
    if gibbs.len() != moment_len(trained) {
        return Err(TrainError::Invalid {
            field: "gibbs".into(),
            message: format!(
                "has {} moments, expected {} (spins then edges)",
                gibbs.len(),
                moment_len(trained)
            ),
        });
    }
    let pt = |m: &IsingModel| one_rung_pt_moments(m, trained, coloring, run);
    let cosine_trained = cosine(&pt(trained)?, gibbs);
    let cosine_initial = cosine(&pt(initial)?, gibbs);
    let weight_change_l2 = trained
        .couplings()
        .iter()
        .zip(initial.couplings())
        .chain(trained.biases().iter().zip(initial.biases()))
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    Ok(R1Check {
        cosine_trained,
        cosine_initial,
        weight_change_l2,
        passed: cosine_trained > MIN_R1_COSINE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use thermoq_models::builders;

    #[test]
    fn cosine_basics() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-15);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-15);
        assert!(cosine(&[0.0, 0.0], &[1.0, 0.0]).is_nan());
    }

    /// On a small periodic 4×4 lattice (two colours), one-rung PT on the same weights reproduces
    /// Gibbs (cosine 1 to rounding: same kernel, same streams), and PT on other weights does not.
    #[test]
    fn r1_detects_stale_weights() {
        let trained = builders::lattice_2d(4, 4, 0.4, 0.2, 1.0).unwrap();
        let initial = builders::lattice_2d(4, 4, -0.4, -0.3, 1.0).unwrap();
        let coloring = Coloring::greedy(trained.graph());
        let run = MomentRun {
            chains: 16,
            seed: 7,
            burn_in: 50,
            sweeps: 400,
        };
        let gibbs = gibbs_moments(&trained, &coloring, &run).unwrap();
        let r = r1_check(&trained, &initial, &coloring, &gibbs, &run).unwrap();
        assert!(r.passed, "{r:?}");
        assert!(r.cosine_trained > 1.0 - 1e-9, "{r:?}");
        assert!(r.cosine_initial < 0.9, "{r:?}");
        assert!(r.weight_change_l2 > 1.0);
    }

    #[test]
    fn mismatched_inputs_are_typed_errors() {
        let a = builders::lattice_2d(4, 4, 0.5, 0.0, 1.0).unwrap();
        let b = builders::lattice_2d(4, 6, 0.5, 0.0, 1.0).unwrap();
        let col = Coloring::greedy(a.graph());
        let g = vec![0.0; moment_len(&a)];
        let run = MomentRun {
            chains: 2,
            seed: 0,
            burn_in: 1,
            sweeps: 1,
        };
        assert!(r1_check(&a, &b, &col, &g, &run).is_err());
        assert!(r1_check(&a, &a, &col, &g[1..], &run).is_err());
    }
}
