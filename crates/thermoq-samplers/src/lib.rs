//! # thermoq-samplers — Gibbs kernels, p-bit cells and the batched p-bit array
//!
//! Every kernel of SCIENCE.md II.2 is described once, as a [`Plan`]: an expression over
//! single-site updates (`Site`), parallel colour-class updates (`Block`), sequences (`Seq`),
//! uniform mixtures (`Mix`) and repetitions (`Repeat`). The *same* plan is
//!
//! * run stochastically, one sweep at a time, on a chain ([`Kernel::sweep`]), and
//! * applied exactly to distributions and functions on all `2^N` states ([`exact`]), which is how
//!   `thermoq-spectral` builds transition operators —
//!
//! so the sampler and its exact operator cannot disagree. A single-site update resamples spin `i`
//! to `+1` with probability [`Kernel::prob_up`]: the heat-bath (p-bit) rule `σ(2βφ_i)` or the
//! Metropolis flip rule, and for heat-bath cells the optional hardware non-idealities of a [`Pbit`]
//! array (per-cell gain and offset spread, finite random-number bit depth).
//!
//! | name | plan (one sweep) | reversible |
//! |---|---|---|
//! | `RS1` | `Repeat(Mix(Site 0..N), N)` | yes |
//! | `SS1` | `Seq(Site 0, …, Site N−1)` | no |
//! | `MH1` | `Repeat(Mix(Site 0..N), N)`, Metropolis rule | yes |
//! | `BLK-ALT` | `Seq(Block c1, …, Block ck)` | no |
//! | `BLK-SYM` | `Mix(Seq(c1..ck), Seq(ck..c1))` | yes |
//! | `BLK-RS` | `Repeat(Mix(Block c1..ck), k)` | yes |
//!
//! [`batch`] holds the p-bit array: many chains in structure-of-arrays form, one RNG stream per
//! chain, spread over threads with rayon. [`observe`] records per-sweep moments, energies and
//! observable traces. [`fast`] runs the block kernels at full speed (threshold tables on lattices,
//! batched GEMMs for RBMs, buffered per-chain ChaCha8 streams).
//!
//! ```
//! use thermoq_models::{builders, EnergyModel};
//! use thermoq_samplers::{GibbsKernel, Kernel, KernelKind};
//! let model = builders::curie_weiss(6, 0.5);
//! let k = GibbsKernel::new(KernelKind::BlkSym, model.graph(), None).unwrap();
//! let row = k.transition_row(&model, 0).unwrap();
//! assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! let mut x = vec![1i8; 6];
//! let mut rng = thermoq_core::rng::chain_rng(1, 0);
//! k.sweep(&model, &mut x, &mut rng);
//! ```

pub mod batch;
pub mod error;
pub mod exact;
pub mod fast;
pub mod kernel;
pub mod ladder_design;
pub mod observe;
pub mod pbit;
pub mod plan;
pub mod pt;

pub use batch::{BatchSampler, ChainBatch};
pub use error::SamplerError;
pub use kernel::{GibbsKernel, Kernel, KernelKind, SiteRule};
pub use pbit::Pbit;
pub use plan::Plan;
