//! Sampled τ̂_max over a model's gradient observables, and a long-run reference gradient.
//!
//! [`sample_observables`] runs `C` chains with the samplers' batch run loop
//! ([`thermoq_samplers::BatchSampler::run`] with a [`TraceObserver`]), then estimates, per
//! gradient observable `f_a`, the pooled-Sokal τ̂_a ([`crate::tau::sokal_pooled`]), the mean (from
//! the samplers' one moments accumulator, [`thermoq_samplers::observe::SpinMoments`]) and the
//! τ-corrected squared standard error `Var_a τ̂_a / (C L)`, with `Var_a = 1 − mean_a²` (every
//! `f_a` is ±1). The largest τ̂_a is reported together
//! with a [`TauStatus`], so that a capped estimate can never pass for a measurement:
//!
//! * [`TauStatus::NoWindow`] — some observable's Sokal window was never self-consistent (the
//!   estimator summed to the end of the series);
//! * [`TauStatus::LowerBound`] — some chain never moved an observable (τ̂ is set to the run length
//!   L, which only says τ ≳ L), or a window was found but the Sokal relative standard error
//!   exceeds [`crate::tau::MAX_REL_STD_ERR`];
//! * [`TauStatus::Resolved`] — every observable's window was found with a small standard error.
//!
//! One run length cannot apply the doubling rule ([`crate::tau::doubling_run`]); this single-length
//! classification is the strictest test available without rerunning.
//!
//! [`ReferenceGradient`] turns the sampled means into `g_ref = E_data f − Ê f` with its own squared
//! error `Σ_a SE_a²`, the reference a Monte Carlo `Q_op` is measured against when `π` cannot be
//! enumerated.

use crate::SnrError;
use crate::tau::{ChainSet, MAX_REL_STD_ERR, sokal_pooled};
use serde::{Deserialize, Serialize};
use thermoq_core::Spin;
use thermoq_models::{EnergyModel, ObservableSet};
use thermoq_samplers::observe::TraceObserver;
use thermoq_samplers::{BatchSampler, ChainBatch, Kernel};

/// The one status type of every τ̂ (`"resolved" | "lower_bound" | "no_window"`), shared with
/// the pooled estimators of [`crate::tau`].
pub use crate::tau::TauStatus;

/// A τ̂ with its status.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TauHat {
    /// The estimate (or bound), in sweeps.
    pub tau_hat: f64,
    /// Whether it is a measurement.
    pub status: TauStatus,
}

impl TauHat {
    /// The value when resolved, `None` for a bound.
    pub fn value(&self) -> Option<f64> {
        self.status.is_resolved().then_some(self.tau_hat)
    }
}

/// What [`sample_observables`] measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampledObservables {
    /// τ̂_max over the observables, with the worst status among them.
    pub tau: TauHat,
    /// Whether every (non-frozen) observable's Sokal window was found.
    pub window_found: bool,
    /// Sample mean of each observable over all chains and sweeps.
    pub means: Vec<f64>,
    /// τ-corrected squared standard error of each mean, `Var_a τ̂_a / (C L)` (0 for a frozen
    /// observable; τ̂_a = L when some chain never moved it).
    pub se2: Vec<f64>,
}

/// Runs one chain per start state for `burn_in + sweeps` sweeps (chain `c` on RNG stream `c` of
/// `seed`), records the observables `set` after each of the last `sweeps` sweeps and estimates
/// τ̂ per observable (see the module docs).
pub fn sample_observables<M, K>(
    model: &M,
    kernel: &K,
    set: ObservableSet,
    starts: &[Vec<Spin>],
    burn_in: usize,
    sweeps: usize,
    seed: u64,
) -> Result<SampledObservables, SnrError>
where
    M: EnergyModel + ?Sized + Sync,
    K: Kernel<M> + Sync,
{
    let first = starts.first().ok_or(SnrError::NoChains)?;
    let mut batch = ChainBatch::from_state(starts.len(), first);
    for (c, x) in starts.iter().enumerate() {
        if x.len() != model.n_spins() {
            return Err(SnrError::Shape {
                what: "start state",
                found: x.len(),
                expected: model.n_spins(),
            });
        }
        batch.chain_mut(c).copy_from_slice(x);
    }
    let rec = BatchSampler::new(model, kernel, starts.len(), seed).run(
        &mut batch,
        burn_in,
        sweeps,
        |_| TraceObserver::new(model, set),
    )?;
    let means = rec.sums.observable_means(set);
    let (mut tmax, mut found) = (0.0f64, true);
    let mut status = TauStatus::Resolved;
    let mut se2 = Vec::with_capacity(means.len());
    for (trace, &mean) in rec.traces.iter().zip(&means) {
        let ch: Vec<&[f64]> = trace.chunks(sweeps.max(1)).collect();
        let total = (ch.len() * sweeps) as f64;
        // every f_a is ±1, so E f_a² = 1 and Var f_a = 1 − mean²
        let var = 1.0 - mean * mean;
        if var < 1e-14 {
            // a frozen observable (every sample equal): no autocorrelation to estimate
            se2.push(0.0);
            continue;
        }
        match sokal_pooled(&ChainSet::new(&ch)?) {
            Ok(t) => {
                tmax = tmax.max(t.tau);
                found &= t.window_found;
                let s = if !t.window_found {
                    TauStatus::NoWindow
                } else if t.std_err / t.tau > MAX_REL_STD_ERR {
                    TauStatus::LowerBound
                } else {
                    TauStatus::Resolved
                };
                status = status.max(s);
                se2.push(var * t.tau / total);
            }
            // Some chain never moved this observable (stuck in one mode for the whole run):
            // τ is at least the run length, and the estimate is not resolved.
            Err(SnrError::ZeroVariance { .. }) => {
                tmax = tmax.max(sweeps as f64);
                found = false;
                status = status.max(TauStatus::LowerBound);
                se2.push(var * sweeps as f64 / total);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(SampledObservables {
        tau: TauHat {
            tau_hat: tmax,
            status,
        },
        window_found: found,
        means,
        se2,
    })
}

/// A long-run Monte Carlo reference gradient `g_ref = E_data f − Ê f` and its own squared error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceGradient {
    /// `g_ref`.
    pub g: Vec<f64>,
    /// `‖g_ref‖²`.
    pub norm2: f64,
    /// `Σ_a SE_a²` (τ-corrected).
    pub err2: f64,
}

impl ReferenceGradient {
    /// From the data means (one per observable) and a sampled run of the model.
    pub fn new(data_means: &[f64], run: &SampledObservables) -> Result<Self, SnrError> {
        if data_means.len() != run.means.len() {
            return Err(SnrError::Shape {
                what: "data means",
                found: data_means.len(),
                expected: run.means.len(),
            });
        }
        let g: Vec<f64> = data_means
            .iter()
            .zip(&run.means)
            .map(|(d, m)| d - m)
            .collect();
        Ok(Self {
            norm2: g.iter().map(|v| v * v).sum(),
            err2: run.se2.iter().sum(),
            g,
        })
    }

    /// `err2 / norm2`.
    pub fn rel_err2(&self) -> f64 {
        self.err2 / self.norm2
    }
}
