//! Contrastive divergence (CD-k) and persistent CD (PCD) for Boltzmann machines.
//!
//! A [`CdTrainer`] owns an [`IsingModel`], an [`Optimizer`] and (for PCD) the persistent chains.
//! One [`CdTrainer::step`] estimates the gradient of SCIENCE.md II.4,
//!
//! ```text
//! g_a = E_data[f_a] − E_π[f_a],     f_ij = −x_i x_j,   f_i = −x_i,
//! ```
//!
//! and hands it to the optimizer (which descends). The two phases:
//!
//! * **positive (data) phase** — if every spin is visible, the exact minibatch means of `f_a`;
//!   if some spins are hidden, each data vector is clamped on the visible spins and the hidden
//!   spins are averaged: *exactly* (`⟨x_j | v⟩ = tanh(β φ_j(v))`) when no two hidden spins are
//!   coupled (RBM-like), otherwise by systematic-scan heat-bath Gibbs over the hidden spins;
//! * **negative (model) phase** — free chains of the configured [`KernelKind`], run by a
//!   [`BatchSampler`] for `burn_in` discarded sweeps, then `sweeps` recorded ones. CD-k starts the
//!   chains at minibatch vectors (hidden spins uniform); PCD carries them over between steps.
//!
//! **Fresh weights.** The kernel and the batch sampler are built inside every step, *from the
//! model as it is after the previous update* — never cached across updates. (The preprint's 0.0099
//! bug was a sampler silently built from the initial weights.) [`CdTrainer::sampler_params`]
//! exposes the parameters the last sampler actually read so tests can assert this.
//!
//! **Determinism.** Step `s` draws everything (minibatch, hidden initial states, sampler seed)
//! from stream `s` of `seed ^ STEP_SALT` (`thermoq_core::rng::chain_rng`), so the trainer's whole
//! random state is `(seed, step, persistent chains)` — exactly what a [`crate::Checkpoint`] stores.

use crate::TrainError;
use crate::error::{check_finite, check_len};
use crate::optim::Optimizer;
use rand::Rng;
use serde::{Deserialize, Serialize};
use thermoq_core::{Spin, rng::chain_rng};
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel};
use thermoq_samplers::observe::MomentObserver;
use thermoq_samplers::{BatchSampler, ChainBatch, GibbsKernel, KernelKind};

/// Salt separating the trainer's per-step streams from chain streams of the same seed.
pub const STEP_SALT: u64 = 0x7472_6169_6e5f_7374;

/// A set of ±1 data vectors of equal length.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    n: usize,
    rows: Vec<Spin>,
}

impl Dataset {
    /// Validates rows: all of length `n ≥ 1`, entries ±1, at least one row.
    pub fn new(n: usize, rows: &[Vec<Spin>]) -> Result<Self, TrainError> {
        if n == 0 || rows.is_empty() {
            return Err(TrainError::Invalid {
                field: "dataset".into(),
                message: format!(
                    "has {} rows of length {n}, expected at least one row of length ≥ 1",
                    rows.len()
                ),
            });
        }
        let mut flat = Vec::with_capacity(n * rows.len());
        for (r, row) in rows.iter().enumerate() {
            check_len(&format!("data row {r}"), row.len(), n)?;
            if let Some(c) = thermoq_core::first_non_spin(row) {
                return Err(TrainError::NotSpin {
                    row: r,
                    col: c,
                    value: row[c],
                });
            }
            flat.extend_from_slice(row);
        }
        Ok(Self { n, rows: flat })
    }

    /// Length of every vector.
    pub fn dim(&self) -> usize {
        self.n
    }
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.rows.len() / self.n
    }
    /// Always `false` (a dataset holds at least one vector).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Vector `k`.
    pub fn row(&self, k: usize) -> &[Spin] {
        &self.rows[k * self.n..(k + 1) * self.n]
    }
}

/// What the positive phase is computed from.
#[derive(Clone, Copy, Debug)]
pub enum PositiveData<'a> {
    /// Data vectors over the visible spins (a minibatch is drawn per step).
    Samples(&'a Dataset),
    /// Exact data means `E_data[f_a]` of all parameters (couplings in edge order, then biases);
    /// only for fully visible models.
    Moments(&'a [f64]),
}

/// Settings of a CD / PCD trainer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CdConfig {
    /// Negative-phase kernel.
    pub kernel: KernelKind,
    /// Number of negative-phase chains.
    pub n_chains: usize,
    /// Sweeps discarded before recording (the `k` of CD-k when not persistent).
    pub burn_in: usize,
    /// Recorded sweeps per chain (≥ 1).
    pub sweeps: usize,
    /// Persistent chains (PCD) instead of restarting at data (CD-k).
    pub persistent: bool,
    /// Minibatch size for [`PositiveData::Samples`]; 0 means the whole dataset every step.
    pub batch_size: usize,
    /// Whether biases are trained (otherwise their gradient is set to 0).
    pub train_biases: bool,
    /// Master seed.
    pub seed: u64,
    /// Steps per epoch (checkpoints are written at epoch boundaries).
    pub steps_per_epoch: u64,
}

impl Default for CdConfig {
    fn default() -> Self {
        Self {
            kernel: KernelKind::Rs1,
            n_chains: 64,
            burn_in: 1,
            sweeps: 4,
            persistent: true,
            batch_size: 0,
            train_biases: true,
            seed: 0,
            steps_per_epoch: 10,
        }
    }
}

impl CdConfig {
    /// Checks the numbers (`n_chains`, `sweeps`, `steps_per_epoch` ≥ 1).
    pub fn check(&self) -> Result<(), TrainError> {
        for (field, v) in [
            ("n_chains", self.n_chains as u64),
            ("sweeps", self.sweeps as u64),
            ("steps_per_epoch", self.steps_per_epoch),
        ] {
            if v == 0 {
                return Err(TrainError::Invalid {
                    field: field.into(),
                    message: "is 0, expected at least 1".into(),
                });
            }
        }
        Ok(())
    }
}

/// What one step measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Index of the step (0-based).
    pub step: u64,
    /// Learning rate used.
    pub lr: f64,
    /// `‖ĝ‖₂` of the estimated gradient.
    pub grad_norm: f64,
}

/// What a trainer updates: a parameter vector (couplings, then biases) read and written whole.
pub(crate) trait Trainable {
    /// The current parameters.
    fn theta(&self) -> Vec<f64>;
    /// Replaces the parameters.
    fn set_theta(&mut self, theta: &[f64]) -> Result<(), TrainError>;
}

impl Trainable for IsingModel {
    fn theta(&self) -> Vec<f64> {
        self.params()
    }
    fn set_theta(&mut self, theta: &[f64]) -> Result<(), TrainError> {
        Ok(self.set_params(theta)?)
    }
}

impl StepReport {
    /// One descent step of `optimizer` on the parameters of `target` with gradient `grad`;
    /// returns the report of step number `step`.
    pub(crate) fn descend(
        step: u64,
        optimizer: &mut Optimizer,
        target: &mut impl Trainable,
        grad: &[f64],
    ) -> Result<Self, TrainError> {
        let lr = optimizer.next_lr();
        let mut theta = target.theta();
        optimizer.step(&mut theta, grad)?;
        target.set_theta(&theta)?;
        Ok(Self {
            step,
            lr,
            grad_norm: grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
        })
    }
}

/// A CD-k / PCD trainer for an [`IsingModel`] whose first spins may be visible and the rest hidden.
#[derive(Clone, Debug)]
pub struct CdTrainer {
    pub(crate) model: IsingModel,
    pub(crate) visible: Vec<usize>,
    pub(crate) config: CdConfig,
    pub(crate) optimizer: Optimizer,
    pub(crate) step: u64,
    pub(crate) epoch: u64,
    pub(crate) chains: Option<ChainBatch>,
    sampler_params: Vec<f64>,
}

impl CdTrainer {
    /// A trainer for `model`; `visible` lists the spins the data describe, in data order (pass
    /// `0..N` for a fully visible model). Visible indices must be distinct and `< N`.
    pub fn new(
        model: IsingModel,
        visible: Vec<usize>,
        config: CdConfig,
        optimizer: Optimizer,
    ) -> Result<Self, TrainError> {
        config.check()?;
        let n = model.n_spins();
        let mut seen = vec![false; n];
        for (k, &i) in visible.iter().enumerate() {
            if i >= n || seen[i] {
                return Err(TrainError::Invalid {
                    field: format!("visible[{k}]"),
                    message: format!("is {i}, expected a distinct spin index below {n}"),
                });
            }
            seen[i] = true;
        }
        if visible.is_empty() {
            return Err(TrainError::Invalid {
                field: "visible".into(),
                message: "is empty, expected at least one visible spin".into(),
            });
        }
        Ok(Self {
            model,
            visible,
            config,
            optimizer,
            step: 0,
            epoch: 0,
            chains: None,
            sampler_params: Vec::new(),
        })
    }

    /// The current model (parameters after the last update).
    pub fn model(&self) -> &IsingModel {
        &self.model
    }
    /// The optimizer and its state.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }
    /// The configuration.
    pub fn config(&self) -> &CdConfig {
        &self.config
    }
    /// Visible spins, in data order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }
    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
    /// Epochs completed.
    pub fn epochs(&self) -> u64 {
        self.epoch
    }
    /// The persistent chains (PCD), once created.
    pub fn chains(&self) -> Option<&ChainBatch> {
        self.chains.as_ref()
    }
    /// The parameters of the model the most recent negative-phase sampler was built from
    /// (empty before the first step).
    pub fn sampler_params(&self) -> &[f64] {
        &self.sampler_params
    }

    fn fully_visible(&self) -> bool {
        self.visible.len() == self.model.n_spins()
    }

    /// One optimizer step: positive phase, negative phase with a sampler built from the current
    /// parameters, update.
    pub fn step(&mut self, data: PositiveData<'_>) -> Result<StepReport, TrainError> {
        let n = self.model.n_spins();
        let np = self.model.n_params();
        let mut rng = chain_rng(self.config.seed ^ STEP_SALT, self.step);

        // Minibatch (data-order rows) for the positive phase and CD-k starts.
        let batch: Vec<Vec<Spin>> = match data {
            PositiveData::Samples(ds) => {
                check_len("data dimension", ds.dim(), self.visible.len())?;
                let b = if self.config.batch_size == 0 {
                    ds.len()
                } else {
                    self.config.batch_size
                };
                if b >= ds.len() && self.config.batch_size == 0 {
                    (0..ds.len()).map(|k| ds.row(k).to_vec()).collect()
                } else {
                    (0..b)
                        .map(|_| ds.row(pick(&mut rng, ds.len())).to_vec())
                        .collect()
                }
            }
            PositiveData::Moments(m) => {
                if !self.fully_visible() {
                    return Err(TrainError::Invalid {
                        field: "data".into(),
                        message: "exact data moments need a fully visible model".into(),
                    });
                }
                check_len("data moments", m.len(), np)?;
                check_finite("data moments", m)?;
                Vec::new()
            }
        };

        // Positive phase: E_data[f_a].
        let pos: Vec<f64> = match data {
            PositiveData::Moments(m) => m.to_vec(),
            PositiveData::Samples(_) => self.positive_phase(&batch, &mut rng),
        };

        // Negative phase: a kernel and sampler built NOW from the current parameters.
        let sampler_seed = rng.next_u64();
        if !self.config.persistent || self.chains.is_none() {
            let mut cb = ChainBatch::uniform(self.config.n_chains, n, sampler_seed);
            if !self.config.persistent && !batch.is_empty() {
                for c in 0..cb.n_chains() {
                    let row = &batch[c % batch.len()];
                    let x = cb.chain_mut(c);
                    for (k, &i) in self.visible.iter().enumerate() {
                        x[i] = row[k];
                    }
                }
            }
            self.chains = Some(cb);
        }
        let model = &self.model;
        self.sampler_params = model.params();
        let kernel = GibbsKernel::new(self.config.kernel, model.graph(), None)?;
        let mut sampler = BatchSampler::new(model, &kernel, self.config.n_chains, sampler_seed);
        let chains = self.chains.as_mut().ok_or_else(|| TrainError::Invalid {
            field: "chains".into(),
            message: "missing after initialisation".into(),
        })?;
        let mom = sampler.run(chains, self.config.burn_in, self.config.sweeps, |_| {
            MomentObserver::new(model)
        })?;
        let neg = mom.moments();
        let m = model.graph().n_edges();
        let mut grad = vec![0.0; np];
        for e in 0..m {
            grad[e] = pos[e] - (-neg.m2_edges[e]);
        }
        for i in 0..n {
            grad[m + i] = if self.config.train_biases {
                pos[m + i] - (-neg.m1[i])
            } else {
                0.0
            };
        }

        let report = StepReport::descend(self.step, &mut self.optimizer, &mut self.model, &grad)?;
        self.step += 1;
        if self.step.is_multiple_of(self.config.steps_per_epoch) {
            self.epoch += 1;
        }
        Ok(report)
    }

    /// Runs whole epochs (`steps_per_epoch` steps each), calling `on_epoch` after every one (e.g.
    /// to write a checkpoint). Stops at the first error.
    pub fn run_epochs(
        &mut self,
        data: PositiveData<'_>,
        epochs: u64,
        mut on_epoch: impl FnMut(&Self) -> Result<(), TrainError>,
    ) -> Result<Vec<StepReport>, TrainError> {
        let mut out = Vec::new();
        for _ in 0..epochs {
            for _ in 0..self.config.steps_per_epoch {
                out.push(self.step(data)?);
            }
            on_epoch(self)?;
        }
        Ok(out)
    }

    /// `E_data[f_a]` over a minibatch, hidden spins clamped-averaged.
    fn positive_phase<R: Rng + ?Sized>(&self, batch: &[Vec<Spin>], rng: &mut R) -> Vec<f64> {
        let model = &self.model;
        let g = model.graph();
        let n = model.n_spins();
        let m = g.n_edges();
        let beta = model.beta();
        let mut is_vis = vec![false; n];
        for &i in &self.visible {
            is_vis[i] = true;
        }
        let hidden: Vec<usize> = (0..n).filter(|&i| !is_vis[i]).collect();
        let coupled_hidden = g.edges().any(|(i, j)| !is_vis[i] && !is_vis[j]);
        let mut acc = vec![0.0; m + n];
        let mut count = 0.0;
        let mut x = vec![1 as Spin; n];
        let mut mean = vec![0.0; n];
        let add = |mean: &[f64], pair: &dyn Fn(usize, usize) -> f64, acc: &mut [f64]| {
            for (e, (i, j)) in g.edges().enumerate() {
                acc[e] -= pair(i, j);
            }
            for i in 0..n {
                acc[m + i] -= mean[i];
            }
        };
        for row in batch {
            for (k, &i) in self.visible.iter().enumerate() {
                x[i] = row[k];
            }
            if !coupled_hidden {
                // Hidden spins are conditionally independent given v: exact means.
                for i in 0..n {
                    mean[i] = if is_vis[i] {
                        f64::from(x[i])
                    } else {
                        (beta * model.local_field(&x, i)).tanh()
                    };
                }
                let pair = |i: usize, j: usize| mean[i] * mean[j];
                add(&mean, &pair, &mut acc);
                count += 1.0;
            } else {
                for &i in &hidden {
                    x[i] = if rng.next_u64() & 1 == 1 { 1 } else { -1 };
                }
                for t in 0..self.config.burn_in + self.config.sweeps {
                    for &i in &hidden {
                        let p = 1.0 / (1.0 + (-2.0 * beta * model.local_field(&x, i)).exp());
                        x[i] = if thermoq_samplers::kernel::uniform53(rng) < p {
                            1
                        } else {
                            -1
                        };
                    }
                    if t >= self.config.burn_in {
                        for i in 0..n {
                            mean[i] = f64::from(x[i]);
                        }
                        let xs = &x;
                        let pair = |i: usize, j: usize| f64::from(xs[i] * xs[j]);
                        add(&mean, &pair, &mut acc);
                        count += 1.0;
                    }
                }
            }
        }
        acc.iter_mut().for_each(|a| *a /= count);
        acc
    }
}

fn pick<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    thermoq_samplers::kernel::pick(rng, n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;
    use crate::optim::{LrSchedule, Sgd};
    use thermoq_core::Graph;

    /// The sampled positive phase (hidden spins coupled to each other) matches the exact
    /// conditional moments by enumeration over the 2³ hidden states.
    ///
    /// Tolerance: 20 000 recorded sweeps of systematic-scan Gibbs on 3 weakly coupled hidden
    /// spins (|J| ≤ 0.4, so τ_int ≲ 3 sweeps); every observable is ±1-valued (SD ≤ 1), so the
    /// standard error is ≤ √(3/20 000) ≈ 0.012; we allow 5 SE = 0.06.
    #[test]
    fn sampled_positive_phase_matches_exact_conditional() {
        let g = Graph::complete(5);
        let j: Vec<f64> = (0..g.n_edges())
            .map(|e| 0.4 * ((e % 5) as f64 / 4.0 - 0.5))
            .collect();
        let h = vec![0.1, -0.2, 0.3, 0.0, -0.1];
        let model = IsingModel::new(g.clone(), j, h, 1.0).unwrap();
        let cfg = CdConfig {
            burn_in: 10,
            sweeps: 20_000,
            ..CdConfig::default()
        };
        let opt = Optimizer::Sgd(Sgd::new(LrSchedule::constant(0.1).unwrap()).unwrap());
        let tr = CdTrainer::new(model.clone(), vec![0, 1], cfg, opt).unwrap();
        let v = [1i8, -1];
        let mut rng = chain_rng(4, 0);
        let pos = tr.positive_phase(&[v.to_vec()], &mut rng);
        // Exact: enumerate hidden spins 2,3,4 with weights exp(−βE).
        let m = g.n_edges();
        let mut exact = vec![0.0; m + 5];
        let mut z = 0.0;
        for s in 0..8u32 {
            let x: Vec<i8> = [v[0], v[1]]
                .into_iter()
                .chain((0..3).map(|k| if (s >> k) & 1 == 1 { 1 } else { -1 }))
                .collect();
            let w = (-model.energy(&x)).exp();
            z += w;
            let mut f = vec![0.0; m + 5];
            model.observables(&x, thermoq_models::ObservableSet::All, &mut f);
            for (a, b) in exact.iter_mut().zip(&f) {
                *a += w * b;
            }
        }
        for (a, (p, e)) in pos.iter().zip(&exact).enumerate() {
            assert!(
                (p - e / z).abs() < 0.06,
                "a={a}: sampled {p}, exact {}",
                e / z
            );
        }
    }
}
