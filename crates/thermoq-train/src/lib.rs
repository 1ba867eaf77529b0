//! # thermoq-train — training energy-based models on thermodynamic samplers
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! The learning rule of SCIENCE.md II.4: for a Boltzmann law `π_θ ∝ exp(−β E_θ)` with gradient
//! observables `f_a = ∂E/∂θ_a` (`f_ij = −x_i x_j`, `f_i = −x_i`),
//!
//! ```text
//! g_a = E_data[f_a] − E_π[f_a],     θ ← θ − η g      (∇_θ KL(data‖π_θ) = β g)
//! ```
//!
//! * [`optim`] — [`Sgd`], [`Adam`] (b1 0.9, b2 0.999, ε 1e-8) over a flat parameter vector and
//!   the cosine learning-rate schedule ([`LrSchedule`]).
//! * [`cd`] — [`CdTrainer`]: CD-k and persistent CD for an [`thermoq_models::IsingModel`] with
//!   optional hidden spins; the negative-phase sampler is rebuilt from the current parameters
//!   every step.
//! * [`exact`] — enumerated oracles: exact gradient, `KL(data‖model)`, exact descent steps.
//! * [`dtm`] — denoising thermodynamic models on MNIST: [`dtm::DtmRun`] trains every layer over
//!   epochs on the conditioned p-bit array with the adaptive correlation penalty, per-epoch
//!   diagnostics, a gradient-SNR probe on its own streams and atomic checkpoints (bit-identical
//!   resume); annealed class-conditional generation and a PNG grid; [`DtmTrainer`] is the
//!   single-layer reference step on the slow `BatchSampler`.
//! * [`checkpoint`] — [`Checkpoint`]: the trainer's full state as JSON, written atomically;
//!   resuming is bit-identical to not stopping.
//!
//! ```
//! use thermoq_core::Graph;
//! use thermoq_models::IsingModel;
//! use thermoq_train::{exact, Adam, LrSchedule, Optimizer};
//! let mut model = IsingModel::new(Graph::complete(3), vec![0.0; 3], vec![0.0; 3], 1.0)?;
//! // data law: all mass on (+,+,+) and (−,−,−)
//! let mut p = vec![0.0; 8];
//! p[0] = 0.5;
//! p[7] = 0.5;
//! let d = exact::data_means(&model, &p)?;
//! let mut opt = Optimizer::Adam(Adam::new(LrSchedule::cosine(0.1, 0.2, 100)?)?);
//! let kl0 = exact::kl_divergence(&model, &p)?;
//! for _ in 0..100 {
//!     exact::exact_step(&mut model, &d, &mut opt)?;
//! }
//! assert!(exact::kl_divergence(&model, &p)? < 0.5 * kl0);
//! # Ok::<(), thermoq_train::TrainError>(())
//! ```
//!
//! The command that trains a DTM end to end is `cargo xtask train dtm --preset quick|paper`
//! (see `docs/training.md`).

pub mod cd;
pub mod checkpoint;
pub mod dtm;
pub mod error;
pub mod exact;
pub mod optim;

pub use cd::{CdConfig, CdTrainer, Dataset, PositiveData, StepReport};
pub use checkpoint::Checkpoint;
pub use dtm::{DtmConfig, DtmTrainer};
pub use error::TrainError;
pub use optim::{Adam, AdamParams, LrSchedule, Optimizer, Sgd};
