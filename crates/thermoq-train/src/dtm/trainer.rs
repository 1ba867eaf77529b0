//! One training step of a DTM layer on the reference sampler (SCIENCE.md §3.2, DTM Eq. 14 form), no ACP.
//!
//! For training pairs `(x_prev, x_t)` (visible vectors, image then label; see
//! `ForwardProcess::training_pair`), the gradient of the learned parameters `θ_k` of a
//! [`DtmLayer`] is
//!
//! ```text
//! g_a = E_pairs[ E[f_a | x_t, x_prev clamped] − E[f_a | x_t clamped] ]
//! ```
//!
//! * **positive phase** — [`DtmLayer::clamped`]: hidden nodes only, sampled by chromatic block
//!   Gibbs over the two hidden colours (upper, lower), each sample embedded back into the grid;
//! * **negative phase** — [`DtmLayer::conditional_model`]: all four blocks free, sampled by
//!   `BLK-SYM` on the layer's 4-block colouring.
//!
//! Both samplers are built inside [`DtmTrainer::step`] from the layer's current parameters.
//! [`DtmTrainer::denoise_error`] is the loss proxy: the fraction of image pixels where a sample of
//! the conditional `x_{t−1} | x_t` disagrees with the clamped target `x_prev`.

use crate::TrainError;
use crate::cd::{STEP_SALT, StepReport, Trainable};
use crate::optim::Optimizer;
use rand::Rng;
use thermoq_core::{Coloring, Graph, Spin, rng::chain_rng};
use thermoq_models::dtm::{ClampedLayer, DtmError, DtmLayer};
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::observe::{MomentObserver, Observer, SpinMoments};
use thermoq_samplers::{BatchSampler, ChainBatch, GibbsKernel, KernelKind};

/// Sampling settings of a DTM step.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DtmConfig {
    /// Chains per training pair, in each phase.
    pub chains_per_pair: usize,
    /// Sweeps discarded before recording.
    pub burn_in: usize,
    /// Recorded sweeps per chain (≥ 1).
    pub sweeps: usize,
    /// Master seed (step `s` uses stream `s` of `seed ^ STEP_SALT`).
    pub seed: u64,
}

fn dtm(e: DtmError) -> TrainError {
    TrainError::Dtm(e)
}

impl Trainable for DtmLayer {
    fn theta(&self) -> Vec<f64> {
        self.params()
    }
    fn set_theta(&mut self, theta: &[f64]) -> Result<(), TrainError> {
        self.set_params(theta).map_err(dtm)
    }
}

/// Trains one [`DtmLayer`] by contrastive steps.
#[derive(Clone, Debug)]
pub struct DtmTrainer {
    layer: DtmLayer,
    optimizer: Optimizer,
    config: DtmConfig,
    step: u64,
}

/// Per-chain accumulator of full-grid moments for the clamped positive phase.
struct Embedded<'a> {
    clamped: &'a ClampedLayer,
    graph: &'a Graph,
    x: Vec<Spin>,
    sums: SpinMoments,
}

impl Observer for Embedded<'_> {
    fn observe(&mut self, _sweep: usize, z: &[Spin]) {
        if self.clamped.embed(z, &mut self.x).is_err() {
            return; // lengths are fixed by construction; never happens
        }
        self.sums.add(&self.x, self.graph.edges());
    }
    fn merge(&mut self, o: Self) {
        self.sums.merge(&o.sums);
    }
}

impl DtmTrainer {
    /// A trainer for `layer`.
    pub fn new(
        layer: DtmLayer,
        optimizer: Optimizer,
        config: DtmConfig,
    ) -> Result<Self, TrainError> {
        for (field, v) in [
            ("chains_per_pair", config.chains_per_pair),
            ("sweeps", config.sweeps),
        ] {
            if v == 0 {
                return Err(TrainError::Invalid {
                    field: field.into(),
                    message: "is 0, expected at least 1".into(),
                });
            }
        }
        Ok(Self {
            layer,
            optimizer,
            config,
            step: 0,
        })
    }

    /// The layer with its current parameters.
    pub fn layer(&self) -> &DtmLayer {
        &self.layer
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The estimated gradient for `pairs` (`(x_prev, x_t)` visible vectors).
    pub fn gradient(
        &self,
        pairs: &[(Vec<Spin>, Vec<Spin>)],
        seed: u64,
    ) -> Result<Vec<f64>, TrainError> {
        if pairs.is_empty() {
            return Err(TrainError::Invalid {
                field: "pairs".into(),
                message: "is empty, expected at least one training pair".into(),
            });
        }
        let graph = self.layer.graph();
        let n = graph.n();
        let m = graph.n_edges();
        let c = self.config.chains_per_pair;
        let mut rng = chain_rng(seed, 0);
        let mut pos = vec![0.0; m + n];
        let mut neg = vec![0.0; m + n];
        for (x_prev, x_t) in pairs {
            // Positive phase: x_t and x_prev clamped, hidden sampled.
            let cl = self.layer.clamped(x_t, x_prev).map_err(dtm)?;
            let o = blk_sym_chains(cl.model(), cl.coloring(), c, &mut rng, |s, batch| {
                s.run(batch, self.config.burn_in, self.config.sweeps, |_| {
                    Embedded {
                        clamped: &cl,
                        graph,
                        x: vec![1; n],
                        sums: SpinMoments::new(n, m),
                    }
                })
            })?;
            for (p, s) in pos.iter_mut().zip(o.sums.m2().iter().chain(&o.sums.m1())) {
                *p += s;
            }
            // Negative phase: only x_t clamped.
            let model = self.layer.conditional_model(x_t).map_err(dtm)?;
            let mo = blk_sym_chains(&model, self.layer.coloring(), c, &mut rng, |s, batch| {
                s.run(batch, self.config.burn_in, self.config.sweeps, |_| {
                    MomentObserver::new(&model)
                })
            })?
            .moments();
            for (q, s) in neg.iter_mut().zip(mo.m2_edges.iter().chain(&mo.m1)) {
                *q += s;
            }
        }
        // f = −x x (couplings), −x (biases): g = E_pos[f] − E_neg[f] = −(pos − neg).
        let p = pairs.len() as f64;
        Ok(pos.iter().zip(&neg).map(|(a, b)| -(a - b) / p).collect())
    }

    /// One optimizer step on `pairs`; samplers are built from the current parameters.
    pub fn step(&mut self, pairs: &[(Vec<Spin>, Vec<Spin>)]) -> Result<StepReport, TrainError> {
        let seed = chain_rng(self.config.seed ^ STEP_SALT, self.step).next_u64();
        let g = self.gradient(pairs, seed)?;
        let report = StepReport::descend(self.step, &mut self.optimizer, &mut self.layer, &g)?;
        self.step += 1;
        Ok(report)
    }

    /// Loss proxy: mean fraction of image pixels where a sample of `x_{t−1} | x_t` (after
    /// `burn_in + sweeps` sweeps from a uniform start, `chains_per_pair` chains) differs from
    /// `x_prev`.
    pub fn denoise_error(
        &self,
        pairs: &[(Vec<Spin>, Vec<Spin>)],
        seed: u64,
    ) -> Result<f64, TrainError> {
        let layout = self.layer.layout();
        let n_image = layout.spec().n_image;
        let c = self.config.chains_per_pair;
        let mut rng = chain_rng(seed, 1);
        let mut wrong = 0u64;
        let mut total = 0u64;
        for (x_prev, x_t) in pairs {
            let model = self.layer.conditional_model(x_t).map_err(dtm)?;
            blk_sym_chains(&model, self.layer.coloring(), c, &mut rng, |s, batch| {
                s.sweep(batch, self.config.burn_in + self.config.sweeps)?;
                for ch in 0..c {
                    let v = layout.gather_visible(batch.chain(ch)).map_err(dtm)?;
                    wrong += v[..n_image]
                        .iter()
                        .zip(&x_prev[..n_image])
                        .filter(|(a, b)| a != b)
                        .count() as u64;
                    total += n_image as u64;
                }
                Ok::<(), TrainError>(())
            })?;
        }
        Ok(wrong as f64 / total.max(1) as f64)
    }
}

/// Runs `f` on `chains` BLK-SYM chains of `model` (on `coloring`) from a uniform start, the
/// start and the sampler's streams both seeded by the next word of `rng`.
fn blk_sym_chains<T, E>(
    model: &IsingModel,
    coloring: &Coloring,
    chains: usize,
    rng: &mut impl Rng,
    f: impl FnOnce(&mut BatchSampler<'_, IsingModel, GibbsKernel>, &mut ChainBatch) -> Result<T, E>,
) -> Result<T, TrainError>
where
    TrainError: From<E>,
{
    let k = GibbsKernel::new(KernelKind::BlkSym, model.graph(), Some(coloring.clone()))?;
    let s = rng.next_u64();
    let mut batch = ChainBatch::uniform(chains, model.n_spins(), s);
    Ok(f(&mut BatchSampler::new(model, &k, chains, s), &mut batch)?)
}
