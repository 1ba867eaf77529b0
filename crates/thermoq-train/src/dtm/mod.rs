//! Denoising thermodynamic models: training, generation and checkpoints (SCIENCE.md §3).
//!
//! * [`config`] — [`DtmRunConfig`] with the `quick` and `paper` presets, the adaptive
//!   correlation penalty ([`AcpConfig`]), generation and probe settings; validated field by field.
//! * [`data`] — [`DtmData`]: MNIST digits as visible vectors (image, then the repeated one-hot
//!   label), with the fixed train/test split.
//! * [`run`] — [`DtmRun`]: the full driver over epochs and layers on the conditioned p-bit array
//!   (`thermoq_samplers::fast::conditioned`), ACP, per-epoch diagnostics, the gradient-SNR probe
//!   on its own streams, atomic checkpoints with bit-identical resume.
//! * [`generate`] — annealed class-conditional generation, a nearest-centroid check of the
//!   generated digits, and a PNG grid writer.
//! * [`eval`] — [`GenerationEval`]: centroid accuracy and ink of generated digits, and the
//!   all-background inpainting baseline.
//! * [`stale`] — the preprint's R1 stale-weights check: one-rung PT vs plain Gibbs moments.
//! * [`trainer`] — [`DtmTrainer`]: one layer's contrastive step on the reference
//!   `BatchSampler`, one sampler per training pair; kept as a slow, simple cross-check.

pub mod config;
pub mod data;
pub mod eval;
pub mod generate;
pub mod run;
pub mod stale;
pub mod trainer;

pub use config::{AcpConfig, DtmDataset, DtmKernel, DtmRunConfig, GenerationConfig, ProbeConfig};
pub use data::DtmData;
pub use eval::{GenerationEval, ink, inpaint_background_baseline};
pub use generate::{CentroidClassifier, encode_png_gray, png_grid};
pub use run::{
    AcpState, DtmCheckpoint, DtmRun, EpochRecord, Inpainting, LayerEpoch, QProbe, StepCost,
    StepEvent, StepStats,
};
pub use trainer::{DtmConfig, DtmTrainer};
