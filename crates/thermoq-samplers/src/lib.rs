//! # thermoq-samplers — Gibbs kernels, p-bit cells and the batched p-bit array
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
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
//! chain, spread over threads with rayon. [`fast`] runs the block kernels at full speed (threshold
//! tables on lattices, batched GEMMs for RBMs, chain-interleaved SIMD lanes, buffered per-chain
//! ChaCha8 streams), walking the same [`ColourSchedule`] the reference kernel's plan is built from.
//! [`pt`] adds parallel tempering.
//!
//! **One way to run chains.** Every sampler — the reference [`BatchSampler`], every fast engine
//! ([`fast::FastSampler`]), the [`fast::conditioned::ConditionedSampler`] and both PT drivers
//! ([`pt::PtChains`], [`pt::FastPt`]) — implements [`ChainSampler`], "a batch of chains that can
//! be advanced one sweep and observed", and one [`Executor`] drives any of them: burn-in,
//! thinning, recorded draws, one [`Observer`] per chain merged in chain order, and an optional
//! progress / stop callback ([`run`] has the details and the sweep-index contract). [`observe`]
//! holds the standard observers (moments, traces).
//!
//! The same code samples a model with the reference sampler and with the fast engine:
//!
//! ```
//! use thermoq_models::{EnergyModel, IsingModel, builders, exact::ExactLaw};
//! use thermoq_samplers::{fast::FastSampler, *};
//! fn mean_energy<S: ChainSampler<State = ChainBatch>>(s: &mut S, m: &IsingModel) -> f64 {
//!     let mut batch = ChainBatch::uniform(s.n_chains(), s.n_spins(), 1);
//!     let run = Executor::new(4000).burn_in(100).run(s, &mut batch, |_| MomentObserver::new(m));
//!     run.unwrap().observed.moments().energy_mean
//! }
//! let m = builders::random_sparse(8, 0.5, 0.5, 0.2, 1.0, 2);
//! let k = GibbsKernel::new(KernelKind::BlkSym, m.graph(), None).unwrap();
//! let exact = ExactLaw::new(&m).unwrap().energy_mean();
//! let reference = mean_energy(&mut BatchSampler::new(&m, &k, 8, 3), &m);
//! let fast = mean_energy(&mut FastSampler::new(&m, KernelKind::BlkSym, None, 8, 3).unwrap(), &m);
//! // 32,000 draws each: ±0.1 is more than 5 standard errors here.
//! assert!((reference - exact).abs() < 0.1 && (fast - exact).abs() < 0.1);
//! ```
//!
//! Exact use of one kernel (the plan applied to a chain and to all `2^N` states):
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
pub mod run;
pub mod schedule;

pub use batch::{BatchSampler, ChainBatch};
pub use error::SamplerError;
pub use kernel::{GibbsKernel, Kernel, KernelKind, SiteRule};
pub use observe::{ChainMoments, MomentObserver, Moments, Observer, SpinMoments, TraceObserver};
pub use pbit::Pbit;
pub use plan::Plan;
pub use run::{ChainSampler, Executor, Progress, Run, Segment};
pub use schedule::ColourSchedule;
