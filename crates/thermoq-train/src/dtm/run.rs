//! [`DtmRun`]: a whole DTM training run — every layer, every epoch — on the conditioned p-bit
//! array ([`ConditionedSampler`]), with the adaptive correlation penalty, per-epoch diagnostics,
//! a gradient-SNR probe on its own random streams, and checkpoints.
//!
//! One optimizer step of layer `k` on a batch of `B` clean examples `x0`:
//!
//! 1. training pairs `(x_prev, x_t)` by the forward process (stream of the step's seed);
//! 2. **negative phase** — `B` chains, chain `b` conditioned on its own input `x_t^b` (per-chain
//!    field `J_k x_t^b` on the visible nodes), all four blocks free;
//! 3. **positive phase** — `B` chains with the visible nodes clamped to `x_prev^b`, the two hidden
//!    blocks free;
//! 4. both phases: `warmup` sweeps from a uniform start, then `samples` states `sweeps_per_sample`
//!    sweeps apart; per-chain means of `x_i` and `x_i x_j` (every edge);
//! 5. the gradient (DTM Eq. 14 form with ACP; `f_ij = −x_i x_j`, `f_i = −x_i`)
//!
//!    ```text
//!    g_ij = −β (⟨x_i x_j⟩_pos − ⟨x_i x_j⟩_neg + cp·(⟨x_i⟩⟨x_j⟩ − ⟨x_i x_j⟩)_neg)
//!    g_i  = −β (⟨x_i⟩_pos − ⟨x_i⟩_neg)
//!    ```
//!
//!    with `⟨x_i⟩⟨x_j⟩` the product of each chain's own means, averaged over chains; one Adam step.
//!
//! Samplers are built from the layer's current parameters at every step (never cached), which is
//! what keeps a sampler from running stale weights (the preprint's 0.0099 bug).
//!
//! **Diagnostics per step** (averaged over the epoch's steps in [`LayerEpoch`]):
//! * `moment_gap` — RMS over parameters of `⟨f⟩_pos − ⟨f⟩_neg` (the unpenalized gradient);
//! * `denoise_error` — fraction of image pixels where the last negative-phase state differs from
//!   `x_prev` (for `T = 1` this compares a free sample with a random data digit);
//! * `autocorr` — lag-`sweeps_per_sample` autocorrelation of a fixed random projection of the
//!   negative-phase image, each chain centred on its own mean, pooled over chains (the
//!   dtm-replication diagnostic; the ACP input);
//! * `change_rate` — fraction of free spins that differ between consecutive recorded states (the
//!   Gibbs analogue of an acceptance rate).
//!
//! **Determinism.** Step `s` of epoch `e` for layer `k` draws everything from streams of
//! `seed ^ STEP_SALT` indexed by `(e, s, k)`; the epoch's shuffle from `seed ^ SHUFFLE_SALT`; the
//! probe from `seed ^ PROBE_SALT`. Nothing carries random state across steps, so a run resumed
//! from an epoch checkpoint is bit-identical to one that never stopped, and probing never changes
//! training.

use super::config::{DtmRunConfig, invalid};
use super::data::DtmData;
use crate::optim::{Adam, LrSchedule, Optimizer};
use crate::{
    TrainError,
    error::{check_finite, check_len},
};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use thermoq_core::Spin;
use thermoq_core::format::write_atomic;
use thermoq_core::rng::chain_rng;
use thermoq_models::dtm::{Block, DtmLayer, DtmLayout, ForwardProcess, TorusGrid};
use thermoq_samplers::ChainBatch;
use thermoq_samplers::fast::conditioned::{
    BlockObserver, BlockView, ConditionedSampler, LANES, LaneMoments,
};
use thermoq_samplers::fast::{Engine, Generator};

const STEP_SALT: u64 = 0x4454_4d5f_7374_6570;
const SHUFFLE_SALT: u64 = 0x4454_4d5f_7368_7566;
const PROBE_SALT: u64 = 0x4454_4d5f_7072_6f62;
const INIT_SALT: u64 = 0x4454_4d5f_696e_6974;
const PROJ_SALT: u64 = 0x4454_4d5f_7072_6f6a;

/// Field that clamps a spin through a per-chain bias: with learned fields well below 20, a spin
/// held at +1 never flips (`σ(2φ)·2^24` rounds to `2^24`) and one held at −1 flips only when the
/// 24-bit comparison word is 0, probability `2^-24` per update.
pub const CLAMP_FIELD: f64 = 20.0;

/// The result of [`DtmRun::inpaint`]: `n` test digits, their bottom halves painted by layer 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Inpainting {
    /// Fraction of bottom-half pixels (rows `side/2 ..`) that differ from the digit.
    pub error: f64,
    /// The image pixels after the run, digit after digit (`n · side²`, row-major).
    pub images: Vec<Spin>,
    /// The test digits' image pixels, in the same layout.
    pub targets: Vec<Spin>,
    /// The test digits' class indices (positions in `config.digits`).
    pub classes: Vec<u8>,
    /// Image side.
    pub side: usize,
}

/// A training pair `(x_prev, x_t)` of visible vectors.
type Pair = (Vec<Spin>, Vec<Spin>);

/// The checkpoint format tag.
pub const DTM_CHECKPOINT_FORMAT: &str = "thermoq-dtm-checkpoint-v1";

/// Adaptive correlation penalty state of one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcpState {
    /// Current penalty `cp`.
    pub cp: f64,
    /// Autocorrelation measured in the previous epoch.
    pub last_autocorr: Option<f64>,
}

impl AcpState {
    /// The once-per-epoch update of SCIENCE.md §3.2 from the epoch's autocorrelation `a`.
    pub fn update(&mut self, a: f64, threshold: f64, cp_min: f64) {
        let cp = if a < threshold {
            self.cp * (0.6 + 0.2 * a / threshold)
        } else if self.last_autocorr.is_some_and(|prev| a > prev) {
            self.cp * if a < 1.8 * threshold { 1.2 } else { 1.5 }
        } else {
            0.95 * self.cp
        };
        self.cp = cp.max(cp_min);
        self.last_autocorr = Some(a);
    }
}

/// Diagnostics of one optimizer step of one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// RMS of `⟨f⟩_pos − ⟨f⟩_neg` over parameters.
    pub moment_gap: f64,
    /// Norm of the gradient actually applied (with ACP and β).
    pub grad_norm: f64,
    /// Fraction of image pixels of the last negative state that differ from `x_prev`.
    pub denoise_error: f64,
    /// Lag-`sweeps_per_sample` autocorrelation of the projected negative-phase image.
    pub autocorr: f64,
    /// Fraction of free spins changed between consecutive recorded negative-phase states.
    pub change_rate: f64,
}

/// One layer's averages over an epoch, plus the end-of-epoch penalty and probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerEpoch {
    /// Mean `moment_gap` over the epoch's steps.
    pub moment_gap: f64,
    /// Mean applied gradient norm.
    pub grad_norm: f64,
    /// Mean denoising error.
    pub denoise_error: f64,
    /// Mean autocorrelation (the ACP input).
    pub autocorr: f64,
    /// Mean change rate.
    pub change_rate: f64,
    /// Penalty used during the epoch.
    pub cp: f64,
    /// Gradient-SNR probe after the epoch, if it ran.
    pub probe: Option<QProbe>,
    /// Held-out inpainting error after the epoch (see [`DtmRun::inpaint_error`]).
    #[serde(default)]
    pub inpaint_error: Option<f64>,
}

/// Result of the gradient-SNR probe: `R` independent gradient estimates on one fixed set of
/// training pairs, `ḡ` their mean and `V = (1/(R−1)) Σ_r ‖ĝ_r − ḡ‖²` their spread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QProbe {
    /// `Q̂ = max(‖ḡ‖² − V/R, 0) / V` — the squared SNR of one estimate, with `‖g‖²` debiased.
    pub q: f64,
    /// `‖ḡ‖²`.
    pub mean_norm2: f64,
    /// `V`, the per-estimate mean squared deviation (variance only: the bias of the finite
    /// warm-up is not separable from `g` here).
    pub spread: f64,
    /// Replicates `R`.
    pub replicates: usize,
}

impl QProbe {
    /// The probe's estimator from `R ≥ 2` replicate gradient estimates of equal length:
    /// `ḡ`, `V = (1/(R−1)) Σ_r ‖ĝ_r − ḡ‖²` and `Q̂ = max(‖ḡ‖² − V/R, 0) / V`
    /// (`E‖ḡ‖² = ‖E ĝ‖² + V/R`, hence the debiasing). Errors name `probe` when there are fewer
    /// than two replicates, their lengths differ, or they are identical (`V = 0`: Q̂ would be
    /// infinite, which JSON cannot hold).
    pub fn from_replicates(gs: &[Vec<f64>]) -> Result<Self, TrainError> {
        if gs.len() < 2 {
            return Err(invalid(
                "probe",
                format!("{} replicates, expected at least 2", gs.len()),
            ));
        }
        let dim = gs[0].len();
        if let Some(r) = gs.iter().position(|g| g.len() != dim) {
            return Err(invalid(
                "probe",
                format!("replicate {r} has {} entries, expected {dim}", gs[r].len()),
            ));
        }
        let rr = gs.len() as f64;
        let mean: Vec<f64> = (0..dim)
            .map(|a| gs.iter().map(|g| g[a]).sum::<f64>() / rr)
            .collect();
        let spread = gs
            .iter()
            .map(|g| {
                g.iter()
                    .zip(&mean)
                    .map(|(x, m)| (x - m) * (x - m))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (rr - 1.0);
        let mean_norm2 = mean.iter().map(|m| m * m).sum::<f64>();
        if spread.is_nan() || spread <= 0.0 {
            return Err(invalid(
                "probe",
                format!(
                    "the {} replicate gradients are identical (spread 0)",
                    gs.len()
                ),
            ));
        }
        let q = (mean_norm2 - spread / rr).max(0.0) / spread;
        Ok(Self {
            q,
            mean_norm2,
            spread,
            replicates: gs.len(),
        })
    }
}

/// One epoch of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Learning rate at the epoch's first step.
    pub lr: f64,
    /// Per-layer averages.
    pub layers: Vec<LayerEpoch>,
    /// Spin updates performed by training (probe excluded).
    pub updates: u64,
    /// Wall seconds of the epoch (training + probe). Not part of the bit-identity contract.
    pub seconds: f64,
}

/// What [`DtmRun::train`] reports after every step.
#[derive(Clone, Debug)]
pub struct StepEvent<'a> {
    /// Epoch.
    pub epoch: usize,
    /// Step within the epoch.
    pub step: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Layer.
    pub layer: usize,
    /// The step's diagnostics.
    pub stats: &'a StepStats,
}

/// A DTM training run: configuration, layers, optimizers, penalty states and history.
#[derive(Clone, Debug)]
pub struct DtmRun {
    config: DtmRunConfig,
    process: ForwardProcess,
    layers: Vec<DtmLayer>,
    optimizers: Vec<Optimizer>,
    acp: Vec<AcpState>,
    history: Vec<EpochRecord>,
    projection: Vec<f64>,
}

/// Everything needed to continue a run, as written after every epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DtmCheckpoint {
    /// [`DTM_CHECKPOINT_FORMAT`].
    pub format: String,
    /// The run's configuration.
    pub config: DtmRunConfig,
    /// Learned parameters per layer (couplings in edge order, then biases).
    pub params: Vec<Vec<f64>>,
    /// Optimizer state per layer.
    pub optimizers: Vec<Optimizer>,
    /// Penalty state per layer.
    pub acp: Vec<AcpState>,
    /// Finished epochs.
    pub history: Vec<EpochRecord>,
}

/// What one phase records of a block of [`LANES`] chains after each draw, in the sampler's
/// lanes layout: exact moments, the projected image series and the change counts.
struct BlockStats<'a> {
    image_nodes: &'a [u32],
    /// Random projection of the image (empty: no series, as in the positive phase).
    projection: &'a [f64],
    /// Count spins that changed between consecutive recorded states (negative phase).
    track_changes: bool,
    sums: LaneMoments,
    /// Per draw, each lane's projection `Σ r_v x_v` (in `f64`, image order, as per chain).
    series: Vec<[f64; LANES]>,
    changed: [u64; LANES],
    compared: u64,
    last: Vec<[f32; LANES]>,
    lanes: usize,
    record_ns: u64,
}

impl BlockObserver for BlockStats<'_> {
    fn observe(&mut self, _draw: usize, x: &BlockView<'_>) {
        let t0 = std::time::Instant::now();
        self.lanes = x.lanes();
        self.sums.add(x);
        if !self.projection.is_empty() {
            let mut p = [0.0f64; LANES];
            for (&i, &r) in self.image_nodes.iter().zip(self.projection) {
                for (p, &v) in p.iter_mut().zip(x.row(i as usize)) {
                    *p += r * f64::from(v);
                }
            }
            self.series.push(p);
        }
        if self.track_changes {
            let n = x.n_spins();
            if self.last.is_empty() {
                self.last = (0..n).map(|i| *x.row(i)).collect();
            } else {
                let mut ch = [0u32; LANES];
                for (i, last) in self.last.iter_mut().enumerate() {
                    let row = x.row(i);
                    for l in 0..LANES {
                        ch[l] += u32::from(row[l] != last[l]);
                    }
                    *last = *row;
                }
                for (c, d) in self.changed.iter_mut().zip(ch) {
                    *c += u64::from(d);
                }
                self.compared += n as u64;
            }
        }
        self.record_ns += t0.elapsed().as_nanos() as u64;
    }
}

/// The colour classes of the non-empty `blocks` of `layout`, in that order (what a sampler frees).
pub(crate) fn block_classes(layout: &DtmLayout, blocks: &[Block]) -> Vec<usize> {
    blocks
        .iter()
        .filter(|&&b| !layout.block(b).is_empty())
        .filter_map(|&b| layout.block_color(b).map(|c| c as usize))
        .collect()
}

/// Pooled lag-1 autocorrelation of per-chain series, each centred on its own mean.
fn pooled_autocorr(series: &[&[f64]]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for s in series {
        let m = s.iter().sum::<f64>() / s.len().max(1) as f64;
        for w in s.windows(2) {
            num += (w[0] - m) * (w[1] - m);
        }
        den += s.iter().map(|v| (v - m) * (v - m)).sum::<f64>();
    }
    if den > 0.0 { num / den } else { 1.0 }
}

/// The gradient and the phase statistics of one estimate.
struct Estimate {
    grad: Vec<f64>,
    stats: StepStats,
    updates: u64,
    cost: StepCost,
}

/// Where the time of optimizer steps goes ([`DtmRun::measure_step_costs`]): wall seconds per
/// part, summed over the measured steps' layers and divided by the number of steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepCost {
    /// Whole step (all layers).
    pub seconds: f64,
    /// Spin updates per step.
    pub updates: u64,
    /// Training pairs (forward noise) and per-chain input fields.
    pub data: f64,
    /// Negative phase: sampler set-up, sweeps and the recording of states.
    pub negative: f64,
    /// Positive phase (clamped visible nodes): set-up, sweeps and recording.
    pub positive: f64,
    /// Thread-seconds spent recording states (moments, projection, change counts) inside the
    /// two phases — part of `negative + positive`, summed over worker threads.
    pub record_cpu: f64,
    /// Moments into the gradient and the step's diagnostics.
    pub gradient: f64,
    /// The Adam update and writing the parameters back.
    pub optimizer: f64,
}

impl StepCost {
    fn add(&mut self, o: &Self) {
        self.updates += o.updates;
        for (a, b) in [
            (&mut self.seconds, o.seconds),
            (&mut self.data, o.data),
            (&mut self.negative, o.negative),
            (&mut self.positive, o.positive),
            (&mut self.record_cpu, o.record_cpu),
            (&mut self.gradient, o.gradient),
            (&mut self.optimizer, o.optimizer),
        ] {
            *a += b;
        }
    }

    fn per_step(mut self, steps: usize) -> Self {
        let k = steps.max(1) as f64;
        for a in [
            &mut self.seconds,
            &mut self.data,
            &mut self.negative,
            &mut self.positive,
            &mut self.record_cpu,
            &mut self.gradient,
            &mut self.optimizer,
        ] {
            *a /= k;
        }
        self.updates /= steps.max(1) as u64;
        self
    }
}

impl DtmRun {
    /// A fresh run: layers placed and initialized from `config.seed`.
    pub fn new(config: DtmRunConfig) -> Result<Self, TrainError> {
        config.validate()?;
        let process = config.process()?;
        let grid = TorusGrid::new(&config.grid.preset())?;
        let spec = config.visible();
        let mut layers = Vec::with_capacity(config.steps);
        for k in 0..config.steps {
            let layout = DtmLayout::new(grid.clone(), spec, config.seed.wrapping_add(k as u64))?;
            let mut layer = DtmLayer::new(Arc::new(layout), &process, k, config.beta)?;
            let mut theta = vec![0.0; layer.n_params()];
            let m = layer.graph().n_edges();
            if config.init_std > 0.0 {
                let normal = Normal::new(0.0, config.init_std)
                    .map_err(|e| invalid("init_std", e.to_string()))?;
                let mut r = chain_rng(config.seed ^ INIT_SALT, k as u64);
                for t in &mut theta[..m] {
                    *t = normal.sample(&mut r);
                }
            }
            layer.set_params(&theta)?;
            layers.push(layer);
        }
        let optimizers = (0..config.steps)
            .map(|_| -> Result<Optimizer, TrainError> {
                Ok(Optimizer::Adam(Adam::new(LrSchedule::constant(
                    config.lr,
                )?)?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let acp = (0..config.steps)
            .map(|_| AcpState {
                cp: config.acp.as_ref().map_or(0.0, |a| a.cp_init),
                last_autocorr: None,
            })
            .collect();
        let n_image = config.n_image();
        let mut r = chain_rng(config.seed ^ PROJ_SALT, 0);
        let scale = 1.0 / (n_image as f64).sqrt();
        let projection = (0..n_image)
            .map(|_| if r.random::<bool>() { scale } else { -scale })
            .collect();
        Ok(Self {
            config,
            process,
            layers,
            optimizers,
            acp,
            history: Vec::new(),
            projection,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DtmRunConfig {
        &self.config
    }

    /// The layers with their current parameters.
    pub fn layers(&self) -> &[DtmLayer] {
        &self.layers
    }

    /// The forward process.
    pub fn process(&self) -> &ForwardProcess {
        &self.process
    }

    /// Finished epochs.
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// Epochs finished so far.
    pub fn epochs_done(&self) -> usize {
        self.history.len()
    }

    /// Changes how many epochs [`DtmRun::train`] runs to (at least the epochs already done);
    /// nothing else of the configuration changes, so the learning-rate schedule is unchanged.
    pub fn set_epochs(&mut self, epochs: usize) -> Result<(), TrainError> {
        if epochs < self.history.len() {
            return Err(invalid(
                "epochs",
                format!(
                    "is {epochs}, fewer than the {} epochs already done",
                    self.history.len()
                ),
            ));
        }
        self.config.epochs = epochs;
        Ok(())
    }

    /// Penalty states.
    pub fn acp(&self) -> &[AcpState] {
        &self.acp
    }

    /// Optimizer steps per epoch for `n_train` training examples (the last partial batch is
    /// dropped).
    pub fn steps_per_epoch(&self, n_train: usize) -> usize {
        n_train / self.config.batch
    }

    /// Learning rate of optimizer step `t`: [`LrSchedule::cosine`] over `lr_decay_epochs` epochs
    /// of `steps_per_epoch` steps (then flat at `lr·lr_alpha`).
    pub fn lr_at(&self, t: u64, steps_per_epoch: usize) -> Result<f64, TrainError> {
        let horizon = (self.config.lr_decay_epochs * steps_per_epoch).max(1) as u64;
        Ok(LrSchedule::cosine(self.config.lr, self.config.lr_alpha, horizon)?.at(t))
    }

    /// A sampler of layer `k` built from its *current* parameters, all four blocks free, at the
    /// training β. Every phase, probe and generation builds its samplers through this. With 16
    /// chains or more it runs on the lanes engine with xoshiro128+ comparison words (the fast
    /// generator, checked against ChaCha8 and exact enumeration in `thermoq-samplers`' tests).
    pub fn sampler(
        &self,
        k: usize,
        chains: usize,
        seed: u64,
    ) -> Result<ConditionedSampler, TrainError> {
        let layer = self.layer(k)?;
        let mut s = ConditionedSampler::new(
            layer.learned(),
            layer.coloring(),
            self.config.kernel_kind(),
            chains,
            seed,
        )?;
        if s.engine() == Engine::Lanes {
            s.set_generator(Generator::Xoshiro128Plus)?;
        }
        Ok(s)
    }

    fn layer(&self, k: usize) -> Result<&DtmLayer, TrainError> {
        self.layers.get(k).ok_or_else(|| {
            invalid(
                "layer",
                format!("is {k}, expected below T = {}", self.layers.len()),
            )
        })
    }

    /// Per-chain input fields for inputs `x_ts`, or `None` when the layer's input couplings are 0.
    pub(crate) fn fields(
        &self,
        k: usize,
        x_ts: &[&[Spin]],
    ) -> Result<Option<Vec<f64>>, TrainError> {
        let layer = self.layer(k)?;
        let (ji, jl) = layer.input_couplings();
        if ji == 0.0 && jl == 0.0 {
            return Ok(None);
        }
        let mut f = Vec::with_capacity(x_ts.len() * layer.graph().n());
        for x in x_ts {
            f.extend(layer.input_field(x)?);
        }
        Ok(Some(f))
    }

    /// One gradient estimate of layer `k` on `pairs` (`(x_prev, x_t)`), all randomness from `seed`.
    fn estimate(&self, k: usize, pairs: &[Pair], seed: u64) -> Result<Estimate, TrainError> {
        let cfg = &self.config;
        let layer = self.layer(k)?;
        let layout = layer.layout();
        let graph = layer.graph();
        let n = graph.n();
        let b = pairs.len();
        let edges: Vec<(u32, u32)> = graph.edges().map(|(i, j)| (i as u32, j as u32)).collect();
        let image = layout.block(Block::Image);
        let t_data = std::time::Instant::now();
        let x_ts: Vec<&[Spin]> = pairs.iter().map(|p| p.1.as_slice()).collect();
        let fields = self.fields(k, &x_ts)?;
        let mut cost = StepCost {
            data: t_data.elapsed().as_secs_f64(),
            ..StepCost::default()
        };
        let t_neg = std::time::Instant::now();
        let mut seeds = chain_rng(seed, 1);
        let neg_seed = seeds.random::<u64>();
        let pos_seed = seeds.random::<u64>();

        let edges: Arc<[(u32, u32)]> = edges.into();
        let sums = LaneMoments::new(n, edges.clone())?;
        let make = |projection, track_changes| BlockStats {
            image_nodes: image,
            projection,
            track_changes,
            sums: sums.clone(),
            series: Vec::with_capacity(cfg.samples),
            changed: [0; LANES],
            compared: 0,
            last: Vec::new(),
            lanes: 0,
            record_ns: 0,
        };

        // Negative phase.
        let mut neg = self.sampler(k, b, neg_seed)?;
        neg.set_fields(fields.as_deref())?;
        let mut nb = ChainBatch::uniform(b, n, neg_seed);
        let neg_obs = neg.run_per_block(
            &mut nb,
            cfg.warmup,
            cfg.samples,
            cfg.sweeps_per_sample,
            |_| make(&self.projection, true),
        )?;

        cost.negative = t_neg.elapsed().as_secs_f64();
        let t_pos = std::time::Instant::now();
        // Positive phase: visible clamped to x_prev, the hidden blocks free.
        let mut pos = self.sampler(k, b, pos_seed)?;
        pos.set_fields(fields.as_deref())?;
        pos.set_free_classes(&block_classes(
            layout,
            &[Block::UpperHidden, Block::LowerHidden],
        ))?;
        let mut pb = ChainBatch::uniform(b, n, pos_seed);
        for (c, (x_prev, _)) in pairs.iter().enumerate() {
            layout.scatter_visible(x_prev, pb.chain_mut(c))?;
        }
        let pos_obs = pos.run_per_block(
            &mut pb,
            cfg.warmup,
            cfg.samples,
            cfg.sweeps_per_sample,
            |_| make(&[], false),
        )?;
        cost.positive = t_pos.elapsed().as_secs_f64();
        cost.record_cpu = pos_obs
            .iter()
            .chain(&neg_obs)
            .map(|o| o.record_ns as f64 * 1e-9)
            .sum();
        let t_grad = std::time::Instant::now();

        // Moments: each parameter's sum runs over the chains in chain order (blocks in order,
        // lanes in order), the per-chain sums being exact integers.
        let m = edges.len();
        let inv_b = 1.0 / b as f64;
        let mut pos_f = vec![0.0; m + n];
        let mut neg_f = vec![0.0; m + n];
        let mut mm = vec![0.0; m];
        let mut sx = vec![[0.0f64; LANES]; n];
        for o in &pos_obs {
            let w = inv_b / o.sums.count() as f64;
            for (e, a) in pos_f[..m].iter_mut().enumerate() {
                for &s in &o.sums.lanes_xx(e)[..o.lanes] {
                    *a += w * s as f64;
                }
            }
            for (i, a) in pos_f[m..].iter_mut().enumerate() {
                for &s in &o.sums.lanes_x(i)[..o.lanes] {
                    *a += w * s as f64;
                }
            }
        }
        for o in &neg_obs {
            let count = o.sums.count() as f64;
            let w = inv_b / count;
            for (i, (a, r)) in neg_f[m..].iter_mut().zip(&mut sx).enumerate() {
                *r = o.sums.lanes_x(i).map(|s| s as f64);
                for &s in &r[..o.lanes] {
                    *a += w * s;
                }
            }
            for (e, ((a, q), &(i, j))) in neg_f[..m]
                .iter_mut()
                .zip(&mut mm)
                .zip(edges.iter())
                .enumerate()
            {
                for &s in &o.sums.lanes_xx(e)[..o.lanes] {
                    *a += w * s as f64;
                }
                let (si, sj) = (&sx[i as usize], &sx[j as usize]);
                for l in 0..o.lanes {
                    *q += inv_b * (si[l] / count) * (sj[l] / count);
                }
            }
        }
        let cp = self.acp[k].cp;
        let beta = cfg.beta;
        let mut grad = vec![0.0; m + n];
        let mut gap2 = 0.0;
        for a in 0..m + n {
            let d = pos_f[a] - neg_f[a];
            gap2 += d * d;
            let pen = if a < m { cp * (mm[a] - neg_f[a]) } else { 0.0 };
            grad[a] = -beta * (d + pen);
        }
        check_finite("gradient", &grad)?;
        let n_image = layout.spec().n_image;
        let mut wrong = 0usize;
        for (c, (x_prev, _)) in pairs.iter().enumerate() {
            // The batch holds each chain's last recorded state.
            let last = nb.chain(c);
            wrong += image
                .iter()
                .zip(&x_prev[..n_image])
                .filter(|&(&i, &v)| last[i as usize] != v)
                .count();
        }
        let series: Vec<Vec<f64>> = neg_obs
            .iter()
            .flat_map(|o| (0..o.lanes).map(|l| o.series.iter().map(|p| p[l]).collect()))
            .collect();
        let series: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
        let (ch, cmp) = neg_obs.iter().fold((0u64, 0u64), |(a, b), o| {
            (
                a + o.changed[..o.lanes].iter().sum::<u64>(),
                b + o.compared * o.lanes as u64,
            )
        });
        let sweeps = (cfg.warmup + cfg.samples * cfg.sweeps_per_sample) as u64;
        let updates =
            b as u64 * sweeps * (neg.updates_per_sweep() + pos.updates_per_sweep()) as u64;
        cost.gradient = t_grad.elapsed().as_secs_f64();
        cost.updates = updates;
        Ok(Estimate {
            cost,
            stats: StepStats {
                moment_gap: (gap2 / (m + n) as f64).sqrt(),
                grad_norm: grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
                denoise_error: wrong as f64 / (b * n_image).max(1) as f64,
                autocorr: pooled_autocorr(&series),
                change_rate: ch as f64 / cmp.max(1) as f64,
            },
            grad,
            updates,
        })
    }

    /// Training pairs for layer `k` from clean visible vectors, noise drawn from `rng`.
    fn pairs<R: Rng>(
        &self,
        k: usize,
        x0: &[&[Spin]],
        rng: &mut R,
    ) -> Result<Vec<Pair>, TrainError> {
        let n_image = self.config.n_image();
        x0.iter()
            .map(|x| Ok(self.process.training_pair(k, x, n_image, rng)?))
            .collect()
    }

    /// Trains until `config.epochs` epochs are done (continuing after those already in the
    /// history). `on_step` sees every step; `on_epoch` runs after each epoch (write checkpoints
    /// there) and may stop the run.
    pub fn train(
        &mut self,
        data: &DtmData,
        mut on_step: impl FnMut(&StepEvent<'_>),
        mut on_epoch: impl FnMut(&DtmRun) -> Result<ControlFlow<()>, TrainError>,
    ) -> Result<(), TrainError> {
        let train = data.train_len(self.config.max_train);
        let spe = self.steps_per_epoch(train);
        if spe == 0 {
            return Err(invalid(
                "batch",
                format!(
                    "is {}, larger than the {train} training examples",
                    self.config.batch
                ),
            ));
        }
        while self.history.len() < self.config.epochs {
            let epoch = self.history.len();
            let t0 = std::time::Instant::now();
            let mut order: Vec<usize> = (0..train).collect();
            order.shuffle(&mut chain_rng(
                self.config.seed ^ SHUFFLE_SALT,
                epoch as u64,
            ));
            let t_first = (epoch * spe) as u64;
            let lr0 = self.lr_at(t_first, spe)?;
            let t_layers = self.layers.len();
            let mut sums = vec![[0.0f64; 5]; t_layers];
            let mut updates = 0u64;
            for s in 0..spe {
                let batch: Vec<&[Spin]> = order[s * self.config.batch..(s + 1) * self.config.batch]
                    .iter()
                    .map(|&i| data.train_visible(i))
                    .collect();
                let t = t_first + s as u64;
                for (k, acc) in sums.iter_mut().enumerate() {
                    let est = self.step_layer(k, &batch, t, spe)?;
                    let st = &est.stats;
                    for (a, v) in acc.iter_mut().zip([
                        st.moment_gap,
                        st.grad_norm,
                        st.denoise_error,
                        st.autocorr,
                        st.change_rate,
                    ]) {
                        *a += v / spe as f64;
                    }
                    updates += est.updates;
                    on_step(&StepEvent {
                        epoch,
                        step: s,
                        steps_per_epoch: spe,
                        layer: k,
                        stats: st,
                    });
                }
            }
            let mut layers = Vec::with_capacity(t_layers);
            for (k, acc) in sums.iter().enumerate() {
                let cp = self.acp[k].cp;
                if let Some(a) = &self.config.acp {
                    self.acp[k].update(acc[3], a.threshold, a.cp_min);
                }
                layers.push(LayerEpoch {
                    moment_gap: acc[0],
                    grad_norm: acc[1],
                    denoise_error: acc[2],
                    autocorr: acc[3],
                    change_rate: acc[4],
                    cp,
                    probe: None,
                    inpaint_error: None,
                });
            }
            if let Some(p) = self.config.probe.clone() {
                let last = epoch + 1 == self.config.epochs;
                if (epoch + 1).is_multiple_of(p.every) || last {
                    for (k, l) in layers.iter_mut().enumerate() {
                        l.probe = Some(self.probe(k, data, epoch as u64)?);
                    }
                }
            }
            if self.config.inpaint_test > 0 && data.test_len() > 0 {
                layers[0].inpaint_error = Some(self.inpaint_error(data, self.config.inpaint_test)?);
            }
            self.history.push(EpochRecord {
                epoch,
                lr: lr0,
                layers,
                updates,
                seconds: t0.elapsed().as_secs_f64(),
            });
            if on_epoch(self)?.is_break() {
                break;
            }
        }
        Ok(())
    }

    /// One optimizer step of layer `k` at global step `t` on the clean examples `batch`.
    fn step_layer(
        &mut self,
        k: usize,
        batch: &[&[Spin]],
        t: u64,
        spe: usize,
    ) -> Result<Estimate, TrainError> {
        let t_layers = self.layers.len() as u64;
        let idx = (t * t_layers + k as u64) * 2;
        let t0 = std::time::Instant::now();
        let mut noise = chain_rng(self.config.seed ^ STEP_SALT, idx);
        let pairs = self.pairs(k, batch, &mut noise)?;
        let seed = chain_rng(self.config.seed ^ STEP_SALT, idx + 1).random::<u64>();
        let t_pairs = t0.elapsed().as_secs_f64();
        let mut est = self.estimate(k, &pairs, seed)?;
        let t_opt = std::time::Instant::now();
        let lr = self.lr_at(t, spe)?;
        let mut theta = self.layers[k].params();
        self.optimizers[k].step_with_lr(&mut theta, &est.grad, lr)?;
        check_finite("parameters", &theta)?;
        self.layers[k].set_params(&theta)?;
        est.cost.optimizer = t_opt.elapsed().as_secs_f64();
        est.cost.data += t_pairs;
        est.cost.seconds = t0.elapsed().as_secs_f64();
        Ok(est)
    }

    /// Times `steps` optimizer steps (every layer) of a copy of this run on the first batches of
    /// `data`, for cost planning: returns `(seconds per step, spin updates per step)`. The run
    /// itself is not changed.
    pub fn measure_steps(&self, data: &DtmData, steps: usize) -> Result<(f64, u64), TrainError> {
        let c = self.measure_step_costs(data, steps)?;
        Ok((c.seconds, c.updates))
    }

    /// [`DtmRun::measure_steps`] with the time of each part of a step ([`StepCost`], per step).
    pub fn measure_step_costs(&self, data: &DtmData, steps: usize) -> Result<StepCost, TrainError> {
        let train = data.train_len(self.config.max_train);
        let spe = self.steps_per_epoch(train);
        if spe == 0 || steps == 0 {
            return Err(invalid(
                "steps",
                "need at least one step and one full batch of training data".into(),
            ));
        }
        let mut copy = self.clone();
        let b = self.config.batch;
        let t0 = std::time::Instant::now();
        let mut cost = StepCost::default();
        for s in 0..steps {
            let s = s % spe;
            let batch: Vec<&[Spin]> = (s * b..(s + 1) * b)
                .map(|i| data.train_visible(i))
                .collect();
            for k in 0..copy.layers.len() {
                cost.add(&copy.step_layer(k, &batch, s as u64, spe)?.cost);
            }
        }
        cost.seconds = t0.elapsed().as_secs_f64();
        Ok(cost.per_step(steps))
    }

    /// The gradient-SNR probe of layer `k` at probe index `idx`: `R` independent estimates on the
    /// first `probe.batch` training examples, all from the probe's own streams. Reads the current
    /// parameters, changes nothing.
    pub fn probe(&self, k: usize, data: &DtmData, idx: u64) -> Result<QProbe, TrainError> {
        let p = self
            .config
            .probe
            .clone()
            .ok_or_else(|| invalid("probe", "is not configured".into()))?;
        let nb = p.batch.min(data.train_len(self.config.max_train));
        let x0: Vec<&[Spin]> = (0..nb).map(|i| data.train_visible(i)).collect();
        let base = chain_rng(self.config.seed ^ PROBE_SALT, idx * 1024 + k as u64).random::<u64>();
        let pairs = self.pairs(k, &x0, &mut chain_rng(base, 0))?;
        let mut gs = Vec::with_capacity(p.replicates);
        for r in 0..p.replicates {
            let seed = chain_rng(base, 1 + r as u64).random::<u64>();
            gs.push(self.estimate(k, &pairs, seed)?.grad);
        }
        QProbe::from_replicates(&gs).map_err(|e| match e {
            TrainError::Invalid { message, .. } => {
                invalid("probe", format!("layer {k}: {message}"))
            }
            other => other,
        })
    }

    /// Held-out inpainting error of layer 0 (the denoising loss proxy that works for any `T`,
    /// including `T = 1` where the input carries no information): for the first `n` test digits,
    /// the label and the top half of the image are clamped (per-chain fields of ±[`CLAMP_FIELD`]) and the model, started from noise, is
    /// run `generation.sweeps` sweeps at the training β; the error is the fraction of bottom-half
    /// pixels that differ from the digit. The input term `J_0 x_t` is left out (no input is
    /// given). Same streams every call (probe salt), so it never changes training and two calls
    /// on the same parameters agree. [`DtmRun::inpaint`] returns the images as well.
    pub fn inpaint_error(&self, data: &DtmData, n: usize) -> Result<f64, TrainError> {
        Ok(self.inpaint(data, n)?.error)
    }

    /// The per-digit terms of [`Self::inpaint_error`]: for each of the first `n` test digits
    /// (capped at the test split), `(wrong, total)` bottom-half pixels, from the same single run.
    /// Their pooled ratio is `inpaint_error`; the per-digit scatter gives its standard error.
    pub fn inpaint_counts(
        &self,
        data: &DtmData,
        n: usize,
    ) -> Result<Vec<(usize, usize)>, TrainError> {
        let r = self.inpaint(data, n)?;
        let n_image = r.side * r.side;
        let bottom = (r.side / 2) * r.side..n_image;
        Ok(r.images
            .chunks_exact(n_image)
            .zip(r.targets.chunks_exact(n_image))
            .map(|(x, x0)| {
                let wrong = bottom.clone().filter(|&v| x[v] != x0[v]).count();
                (wrong, bottom.len())
            })
            .collect())
    }

    /// The inpainting check of [`DtmRun::inpaint_error`] with its images: for each of the first
    /// `n` test digits (capped at the test split), the visible image pixels after the run, the
    /// digit itself and its class, and the error over all bottom halves.
    pub fn inpaint(&self, data: &DtmData, n: usize) -> Result<Inpainting, TrainError> {
        let n = n.min(data.test_len());
        if n == 0 {
            return Err(invalid("inpaint_test", "no test digits to inpaint".into()));
        }
        let layer = self.layer(0)?;
        let layout = layer.layout();
        let nn = layer.graph().n();
        let n_image = self.config.n_image();
        let side = data.side();
        let vis = layout.visible_nodes();
        let seed = chain_rng(self.config.seed ^ PROBE_SALT, u64::MAX).random::<u64>();
        let mut s = self.sampler(0, n, seed)?;
        let mut f = vec![0.0; n * nn];
        for i in 0..n {
            let x0 = data.test_visible(i);
            for (v, &node) in vis.iter().enumerate() {
                let clamp = v >= n_image || (v / side) < side / 2;
                if clamp {
                    f[i * nn + node as usize] = CLAMP_FIELD * f64::from(x0[v]);
                }
            }
        }
        s.set_fields(Some(&f))?;
        let mut batch = ChainBatch::uniform(n, nn, seed);
        s.sweep(&mut batch, self.config.generation.sweeps)?;
        let (mut wrong, mut total) = (0usize, 0usize);
        let mut images = Vec::with_capacity(n * n_image);
        let mut targets = Vec::with_capacity(n * n_image);
        let mut classes = Vec::with_capacity(n);
        for i in 0..n {
            let x0 = data.test_visible(i);
            let x = batch.chain(i);
            for v in (side / 2) * side..n_image {
                total += 1;
                if x[vis[v] as usize] != x0[v] {
                    wrong += 1;
                }
            }
            images.extend(vis[..n_image].iter().map(|&node| x[node as usize]));
            targets.extend_from_slice(&x0[..n_image]);
            classes.push(data.test_class(i));
        }
        Ok(Inpainting {
            error: wrong as f64 / total.max(1) as f64,
            images,
            targets,
            classes,
            side,
        })
    }

    /// The run's state as a checkpoint.
    pub fn checkpoint(&self) -> DtmCheckpoint {
        DtmCheckpoint {
            format: DTM_CHECKPOINT_FORMAT.into(),
            config: self.config.clone(),
            params: self.layers.iter().map(DtmLayer::params).collect(),
            optimizers: self.optimizers.clone(),
            acp: self.acp.clone(),
            history: self.history.clone(),
        }
    }

    /// Rebuilds a run from a checkpoint, validating every field.
    pub fn from_checkpoint(c: DtmCheckpoint) -> Result<Self, TrainError> {
        if c.format != DTM_CHECKPOINT_FORMAT {
            return Err(invalid(
                "format",
                format!("is {:?}, expected {DTM_CHECKPOINT_FORMAT:?}", c.format),
            ));
        }
        let mut run = Self::new(c.config)?;
        let t = run.layers.len();
        for (field, len) in [
            ("params", c.params.len()),
            ("optimizers", c.optimizers.len()),
            ("acp", c.acp.len()),
        ] {
            if len != t {
                return Err(TrainError::Length {
                    field: field.into(),
                    found: len,
                    expected: t,
                });
            }
        }
        for (k, theta) in c.params.iter().enumerate() {
            check_len(
                &format!("params[{k}]"),
                theta.len(),
                run.layers[k].n_params(),
            )?;
            check_finite(&format!("params[{k}]"), theta)?;
            run.layers[k].set_params(theta)?;
        }
        for (k, o) in c.optimizers.iter().enumerate() {
            crate::checkpoint::validate_optimizer(
                &format!("optimizers[{k}]"),
                o,
                run.layers[k].n_params(),
            )?;
        }
        // A correlation-penalty weight read from the file: finite and ≥ 0.
        let check_cp = |field: String, cp: f64| {
            if cp.is_finite() && cp >= 0.0 {
                Ok(())
            } else {
                Err(invalid(
                    &field,
                    format!("is {cp}, expected a finite correlation-penalty weight ≥ 0"),
                ))
            }
        };
        for (k, a) in c.acp.iter().enumerate() {
            check_cp(format!("acp[{k}].cp"), a.cp)?;
            if let Some(r) = a.last_autocorr
                && !r.is_finite()
            {
                return Err(invalid(
                    &format!("acp[{k}].last_autocorr"),
                    format!("is {r}, expected a finite number"),
                ));
            }
        }
        for (e, rec) in c.history.iter().enumerate() {
            if rec.epoch != e {
                return Err(invalid(
                    &format!("history[{e}].epoch"),
                    format!("is {}, expected {e} (epochs in order from 0)", rec.epoch),
                ));
            }
            check_len(&format!("history[{e}].layers"), rec.layers.len(), t)?;
            for (k, l) in rec.layers.iter().enumerate() {
                check_cp(format!("history[{e}].layers[{k}].cp"), l.cp)?;
            }
        }
        if c.history.len() > run.config.epochs {
            return Err(invalid(
                "history",
                format!(
                    "has {} epochs, more than the configured {}",
                    c.history.len(),
                    run.config.epochs
                ),
            ));
        }
        run.optimizers = c.optimizers;
        run.acp = c.acp;
        run.history = c.history;
        Ok(run)
    }

    /// Writes the checkpoint atomically (JSON).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let bytes = serde_json::to_vec(&self.checkpoint()).map_err(|source| TrainError::Json {
            path: path.display().to_string(),
            source,
        })?;
        write_atomic(path, &bytes).map_err(|e| TrainError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// Loads and validates a checkpoint file.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let c: DtmCheckpoint =
            serde_json::from_slice(&bytes).map_err(|source| TrainError::Json {
                path: path.display().to_string(),
                source,
            })?;
        Self::from_checkpoint(c)
    }
}
