//! Fast engines for the chromatic block kernels (the p-bit array at full speed).
//!
//! [`FastSampler`] runs the same kernels as [`GibbsKernel`](crate::GibbsKernel) —
//! `BLK-ALT` (colour classes in fixed order), `BLK-SYM` (forward or reversed order by a fair coin
//! per chain and sweep), `BLK-RS` (`k` uniformly chosen classes per sweep) — on a [`ChainBatch`],
//! with chain `c` drawing every random number from stream `c` of the run's seed
//! (`thermoq_core::rng::chain_rng(seed, c)`, buffered). Results are therefore independent of the
//! thread count. The engines, picked automatically ([`Engine::Auto`]) or forced:
//!
//! | engine | models | per update | bit depth |
//! |---|---|---|---|
//! | [`Engine::Lattice`] | periodic 2D lattice, uniform `J`, `h`, checkerboard colouring | 5-entry threshold table, lazy 32-bit compare (≈ 8.1 random bits) | 32 |
//! | [`Engine::Sparse`] | any `IsingModel`, any proper colouring | CSR field in `f64`, sigmoid, 32-bit compare | 32 |
//! | [`Engine::SparseF32`] | same | CSR field in `f32`, polynomial sigmoid, 24-bit compare | 24 |
//! | [`Engine::Lanes`] | same | 16 chains per SIMD row (`x[node][lane]`, `f32`), field by FMAs over lanes, division-free 24-bit compare `u·(1+e^{−z}) < 2^24`; words from ChaCha8 or, opt-in, per-chain `xoshiro128+` ([`Generator`]) | 24 |
//! | [`Engine::Dense`] | [`Rbm`], visible/hidden colouring | one `f32` GEMM per half-sweep for all chains, polynomial sigmoid | 24 |
//!
//! "Bit depth `b`" means the realised up-probability is `round(p·2^b)/2^b` (the lattice engine's
//! law is exactly the reference kernel's with [`Pbit::with_bits(32)`](crate::Pbit::with_bits)).
//! The engines draw their random numbers differently from the reference
//! [`BatchSampler`](crate::BatchSampler), so samples are not bit-identical to it; they are the
//! same Markov kernel, which `tests/fast_paths.rs` checks against exact enumeration.
//!
//! Every engine walks the kernel's [`ColourSchedule`] (the order the reference kernel's plan is
//! built from) and [`FastSampler`] implements [`ChainSampler`], so the
//! [`Executor`](crate::Executor) runs it like any other sampler; `FastSampler::run` and
//! `FastSampler::sweep` are thin wrappers over it.
//!
//! ```
//! use thermoq_models::builders;
//! use thermoq_samplers::{ChainBatch, KernelKind, fast::{Engine, FastSampler}};
//! let model = builders::lattice_2d(8, 8, 0.4, 0.0, 1.0).unwrap();
//! let mut s = FastSampler::new(&model, KernelKind::BlkAlt, None, 4, 7).unwrap();
//! assert_eq!(s.engine(), Engine::Lattice);
//! let mut batch = ChainBatch::uniform(4, 64, 1);
//! s.sweep(&mut batch, 10).unwrap();
//! ```

mod ceiling;
mod chacha;
pub mod conditioned;
mod dense;
mod lanes;
mod lattice;
mod sparse;
mod stream;

use crate::observe::Observer;
use crate::run::{BatchChains, CheckedRun, per_chain, slots};
use crate::schedule::ScheduleRng;
use crate::{ColourSchedule, KernelKind, SamplerError, Segment};
pub use ceiling::{probe_dtm_loop, probe_lattice_loop};
pub use chacha::fill as fill_chacha8;
/// Chains per GEMM of the dense engine: a group is cut into blocks of this many chains, one
/// sequential GEMM each (the bench's blocked GEMM bound times the same split).
pub use dense::CHAIN_BLOCK as DENSE_CHAIN_BLOCK;
use dense::{DenseEngine, Layer};
use lanes::LanesEngine;
pub use lanes::probe_xoshiro_words;
pub(crate) use lanes::{W as LANES_W, c2_of as lanes_c2};
pub use stream::probe_xoshiro_bytes;

/// Whether AVX2 was detected at run time (the lattice and sparse engines' explicit kernels).
pub(crate) fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
use lattice::LatticeEngine;
use sparse::SparseEngine;
use stream::RandBuf;
use thermoq_core::rng::chain_rng;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel, Rbm};

/// A model the fast engines accept.
#[derive(Clone, Copy, Debug)]
pub enum FastModel<'a> {
    /// Any Ising model (sparse or lattice engine).
    Ising(&'a IsingModel),
    /// An RBM (dense GEMM engine, or the sparse engine on its Ising form).
    Rbm(&'a Rbm),
}

impl<'a> From<&'a IsingModel> for FastModel<'a> {
    fn from(m: &'a IsingModel) -> Self {
        Self::Ising(m)
    }
}

impl<'a> From<&'a Rbm> for FastModel<'a> {
    fn from(m: &'a Rbm) -> Self {
        Self::Rbm(m)
    }
}

impl<'a> FastModel<'a> {
    /// The model as an Ising model (an RBM's complete-bipartite form).
    pub fn ising(&self) -> &'a IsingModel {
        match *self {
            Self::Ising(m) => m,
            Self::Rbm(r) => r.as_ising(),
        }
    }
}

/// Which fast engine to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// Pick the fastest applicable engine: `Dense` for an RBM with its layer colouring,
    /// `Lattice` for a checkerboard-coloured uniform periodic lattice, otherwise `Lanes` with at
    /// least 16 chains (one full lane block; on the 60_12 DTM layer with 64 chains it is ≈ 6×
    /// `sparse-f32`) and `Sparse` with fewer.
    Auto,
    /// CSR neighbour lists, `f64` fields.
    Sparse,
    /// CSR neighbour lists, `f32` fields.
    SparseF32,
    /// Checkerboard threshold-table engine.
    Lattice,
    /// Batched GEMM engine for RBMs.
    Dense,
    /// Chain-interleaved sparse engine: blocks of 16 chains, one SIMD lane per chain, `f32`
    /// fields (any Ising model and proper colouring; `sparse-f32` fields, 24-bit compare).
    Lanes,
}

thermoq_core::enum_names!(Engine {
    Auto => "auto",
    Sparse => "sparse",
    SparseF32 => "sparse-f32",
    Lattice => "lattice",
    Dense => "dense",
    Lanes => "lanes",
});

impl Engine {
    /// Random-number bit depth of the engine's comparison (see the module docs).
    pub fn bit_depth(self) -> u32 {
        match self {
            Self::Dense | Self::SparseF32 | Self::Lanes => 24,
            _ => 32,
        }
    }
}

/// Where an engine's comparison words come from. Every chain owns its stream either way, so
/// samples never depend on the thread count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Generator {
    /// The reference: chain `c`'s ChaCha8 stream `chain_rng(seed, c)`, 3 bytes per comparison.
    /// The engines compute its blocks sixteen at a time with AVX-512 where the CPU has it (the
    /// same bytes as `rand_chacha`; see [`fill_chacha8`]): on such a CPU it is about as fast as
    /// `xoshiro128+` on the lattice and dense engines (`docs/performance.md`, session 12).
    #[default]
    ChaCha8,
    /// `xoshiro128+` (Blackman & Vigna), one 128-bit state per chain seeded from the first 16
    /// bytes its ChaCha8 stream gives after construction, stepped 8 chains per AVX2 vector; a
    /// comparison uses the top 24 bits of one output (the weak low bits are dropped). Schedule
    /// choices (`BLK-SYM` coins, `BLK-RS` picks) still come from ChaCha8. [`Engine::Lanes`]
    /// and [`Engine::Lattice`]: the lattice engine gives each chain eight states (seeded from the
    /// next 128 bytes of its ChaCha8 stream), stepped as one AVX2 vector, and reads each output's
    /// top three bytes as three comparison bytes of its lazy 32-bit compare (same law as with
    /// ChaCha8); [`Engine::Dense`] takes the same per-chain byte source, four bytes per unit, and
    /// compares their top 24 bits as it does ChaCha8's. `tests/fast_paths.rs` checks all three
    /// against exact enumeration and ChaCha8.
    Xoshiro128Plus,
}

impl Generator {
    /// The generator called `name` (`chacha8`, or `xoshiro128+` also spelt `xoshiro128plus`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "xoshiro128plus" => Some(Self::Xoshiro128Plus),
            _ => Self::from_name(name),
        }
    }
}

thermoq_core::enum_names!(Generator {
    ChaCha8 => "chacha8",
    Xoshiro128Plus => "xoshiro128+",
});

/// What the lattice and dense engines' `drive` runs on: every chain's spins (`n` each), the
/// chains' ChaCha8 streams and observer slots, the colour schedule, the segment and its length
/// in sweeps.
pub(crate) struct DriveArgs<'a, 'o, O> {
    pub(crate) xs: &'a mut [Spin],
    pub(crate) n: usize,
    pub(crate) rngs: &'a mut [RandBuf],
    pub(crate) slots: &'a mut [Option<&'o mut O>],
    pub(crate) sched: &'a ColourSchedule,
    pub(crate) seg: &'a Segment,
    pub(crate) total: usize,
}

enum Imp {
    Sparse(SparseEngine<f64>),
    SparseF32(SparseEngine<f32>),
    Lattice(LatticeEngine),
    Dense(DenseEngine),
    Lanes(LanesEngine),
}

/// Fast chromatic block Gibbs over a batch of chains; mirrors [`BatchSampler`](crate::BatchSampler).
pub struct FastSampler<'a> {
    model: FastModel<'a>,
    kind: KernelKind,
    /// The colour order of one sweep (shared with the reference kernel's plan).
    sched: ColourSchedule,
    engine: Engine,
    imp: Imp,
    rngs: Vec<RandBuf>,
}

fn invalid(field: &str, message: String) -> SamplerError {
    SamplerError::Invalid {
        field: field.into(),
        message,
    }
}

impl<'a> FastSampler<'a> {
    /// A sampler for `n_chains` chains with the fastest applicable engine. `coloring` is validated
    /// against the model's graph; `None` means the RBM's visible/hidden colouring for an RBM and
    /// DSATUR otherwise (as [`GibbsKernel`](crate::GibbsKernel)).
    pub fn new(
        model: impl Into<FastModel<'a>>,
        kind: KernelKind,
        coloring: Option<Coloring>,
        n_chains: usize,
        seed: u64,
    ) -> Result<Self, SamplerError> {
        Self::with_engine(model, kind, coloring, n_chains, seed, Engine::Auto)
    }

    /// As [`FastSampler::new`] with a forced engine; an engine that does not apply to the model,
    /// kernel or colouring is an error naming why.
    pub fn with_engine(
        model: impl Into<FastModel<'a>>,
        kind: KernelKind,
        coloring: Option<Coloring>,
        n_chains: usize,
        seed: u64,
        engine: Engine,
    ) -> Result<Self, SamplerError> {
        let model = model.into();
        if !kind.is_block() {
            return Err(invalid(
                "kernel",
                format!(
                    "is {kind}; the fast engines run blk-alt, blk-sym and blk-rs (use BatchSampler)"
                ),
            ));
        }
        if n_chains == 0 {
            return Err(invalid("chains", "is 0, expected at least 1".into()));
        }
        let ising = model.ising();
        let g = ising.graph();
        let coloring = match (coloring, model) {
            (Some(c), _) => Coloring::from_colors(g, c.colors().to_vec())?,
            (None, FastModel::Rbm(r)) => Coloring::from_colors(g, r.two_block_colors())?,
            (None, FastModel::Ising(_)) => Coloring::dsatur(g),
        };
        let n_classes = coloring.n_colors();
        let dense_layers = || -> Option<[Layer; 2]> {
            let FastModel::Rbm(r) = model else {
                return None;
            };
            if n_classes != 2 {
                return None;
            }
            let m = r.n_visible();
            let cv = coloring.color(0);
            let ok = (0..g.n()).all(|i| (coloring.color(i) == cv) == (i < m));
            ok.then(|| {
                let mut l = [Layer::Hidden; 2];
                l[cv as usize] = Layer::Visible;
                l
            })
        };
        let lattice = || -> Option<LatticeEngine> {
            let (lx, ly) = lattice::detect(ising)?;
            let par = lattice::checkerboard_parities(&coloring, lx, ly)?;
            (lx / 2 <= LatticeEngine::MAX_HALF_WIDTH)
                .then(|| LatticeEngine::new(ising, lx, ly, par))
        };
        let (engine, imp) = match engine {
            Engine::Auto => {
                if let Some(l) = dense_layers() {
                    (
                        Engine::Dense,
                        Imp::Dense(DenseEngine::new(dense_rbm(model)?, l)),
                    )
                } else if let Some(e) = lattice() {
                    (Engine::Lattice, Imp::Lattice(e))
                } else if n_chains >= lanes::W {
                    (
                        Engine::Lanes,
                        Imp::Lanes(LanesEngine::new(ising, &coloring, n_chains)),
                    )
                } else {
                    (
                        Engine::Sparse,
                        Imp::Sparse(SparseEngine::new(ising, &coloring)),
                    )
                }
            }
            Engine::Sparse => (engine, Imp::Sparse(SparseEngine::new(ising, &coloring))),
            Engine::SparseF32 => (engine, Imp::SparseF32(SparseEngine::new(ising, &coloring))),
            Engine::Lanes => (
                engine,
                Imp::Lanes(LanesEngine::new(ising, &coloring, n_chains)),
            ),
            Engine::Lattice => match lattice() {
                Some(e) => (engine, Imp::Lattice(e)),
                None => {
                    return Err(invalid(
                        "engine",
                        "lattice needs a periodic 2D lattice with even sides, uniform coupling \
                         and bias, and its checkerboard colouring"
                            .into(),
                    ));
                }
            },
            Engine::Dense => match dense_layers() {
                Some(l) => (engine, Imp::Dense(DenseEngine::new(dense_rbm(model)?, l))),
                None => {
                    return Err(invalid(
                        "engine",
                        "dense needs an Rbm with the visible/hidden two-block colouring".into(),
                    ));
                }
            },
        };
        Ok(Self {
            model,
            kind,
            sched: ColourSchedule::new(kind, n_classes)?,
            engine,
            imp,
            rngs: (0..n_chains as u64)
                .map(|c| RandBuf::new(chain_rng(seed, c)))
                .collect(),
        })
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The kernel.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// Number of chains.
    pub fn n_chains(&self) -> usize {
        self.rngs.len()
    }

    /// Spin updates per sweep per chain (`N`: every kernel here updates `N` spins per sweep on
    /// average; `BLK-RS` exactly `N` only in expectation).
    pub fn updates_per_sweep(&self) -> usize {
        self.model.ising().n_spins()
    }

    /// Draws comparison words from `g` from now on (see [`Generator`]). The lanes, lattice and
    /// dense engines have a choice; any other engine with `g` other than `ChaCha8` is an error.
    /// Switching to `Xoshiro128Plus` seeds its states from the chains' streams at the next run.
    pub fn set_generator(&mut self, g: Generator) -> Result<(), SamplerError> {
        match &mut self.imp {
            Imp::Lanes(e) => {
                e.set_generator(g);
                Ok(())
            }
            Imp::Lattice(e) => {
                e.set_generator(g);
                Ok(())
            }
            Imp::Dense(e) => {
                e.set_generator(g);
                Ok(())
            }
            _ if g == Generator::ChaCha8 => Ok(()),
            _ => Err(invalid(
                "generator",
                format!(
                    "is {}; the {} engine draws from chacha8 only (xoshiro128+ needs the lanes, \
                     lattice or dense engine)",
                    g.name(),
                    self.engine.name()
                ),
            )),
        }
    }

    /// The generator of the comparison words.
    pub fn generator(&self) -> Generator {
        match &self.imp {
            Imp::Lanes(e) => e.generator(),
            Imp::Lattice(e) => e.generator(),
            Imp::Dense(e) => e.generator(),
            _ => Generator::ChaCha8,
        }
    }

    /// Whether the engine runs an AVX2 kernel (lattice and lanes engines on a CPU with AVX2;
    /// tests use it to say when a SIMD-vs-portable comparison cannot run).
    #[doc(hidden)]
    pub fn uses_simd(&self) -> bool {
        match &self.imp {
            Imp::Lattice(e) => e.simd(),
            Imp::Lanes(e) => e.simd(),
            _ => false,
        }
    }

    /// Uses the portable kernel instead of the AVX2 one (lattice and lanes engines; a no-op
    /// otherwise).
    /// Both produce identical samples; this exists so tests can check that.
    #[doc(hidden)]
    pub fn force_portable(&mut self) {
        match &mut self.imp {
            Imp::Lattice(e) => e.set_simd(false),
            Imp::Lanes(e) => e.set_simd(false),
            _ => {}
        }
    }

    crate::run::batch_shortcuts!();
}

/// Chain `c` draws from stream `c` of the seed; the lattice, sparse and lanes engines run each
/// chain's (lanes: each 16-chain block's) segment as one rayon task, the dense engine one GEMM per
/// layer for all chains.
impl BatchChains for FastSampler<'_> {
    fn shape(&self) -> (usize, usize) {
        (self.rngs.len(), self.model.ising().n_spins())
    }

    fn advance<O: Observer>(&mut self, run: CheckedRun<'_, O>) {
        let CheckedRun {
            batch,
            seg,
            total,
            observers,
        } = run;
        let nc = self.rngs.len();
        let sched = &self.sched;
        let n = batch.n_spins();
        if let Imp::Lanes(e) = &mut self.imp {
            e.drive(batch, &mut self.rngs, sched, seg, observers);
            return;
        }
        let mut slots = slots(observers, nc);
        if let Imp::Lattice(_) | Imp::Dense(_) = &self.imp {
            let args = DriveArgs {
                xs: batch.as_mut_slice(),
                n,
                rngs: &mut self.rngs,
                slots: &mut slots,
                sched,
                seg,
                total,
            };
            match &mut self.imp {
                Imp::Lattice(e) => e.drive(args),
                Imp::Dense(e) => e.drive(args),
                _ => unreachable!("matched above"),
            }
            return;
        }
        match &self.imp {
            Imp::Sparse(e) => per_chain(batch, &mut self.rngs, &mut slots, seg, |_, x, rb| {
                sched.visit(rb, |c, rb| e.update_class(x, c, rb));
            }),
            Imp::SparseF32(e) => per_chain(batch, &mut self.rngs, &mut slots, seg, |_, x, rb| {
                sched.visit(rb, |c, rb| e.update_class(x, c, rb));
            }),
            Imp::Lattice(_) | Imp::Lanes(_) | Imp::Dense(_) => unreachable!("handled above"),
        }
    }
}

fn dense_rbm<'a>(model: FastModel<'a>) -> Result<&'a Rbm, SamplerError> {
    match model {
        FastModel::Rbm(r) => Ok(r),
        FastModel::Ising(_) => Err(invalid("engine", "dense needs an Rbm".into())),
    }
}

/// An observer that records nothing (the observer type of runs that only advance chains).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObs;
impl Observer for NoObs {
    fn observe(&mut self, _: usize, _: &[Spin]) {}
    fn merge(&mut self, _: Self) {}
}

/// A chain's buffered stream draws the schedule's choices (`BLK-SYM` coin, `BLK-RS` picks).
impl ScheduleRng for RandBuf {
    #[inline]
    fn next_word(&mut self) -> u32 {
        self.u32()
    }
    #[inline]
    fn pick_index(&mut self, n: usize) -> usize {
        self.pick(n)
    }
}
