//! A block-Gibbs engine for many *different* conditional laws at once: per-chain input fields,
//! per-chain inverse temperatures and clamped colour classes.
//!
//! DTM training runs one chain per training example, and each chain's law differs: the
//! negative phase adds the input field `J_k x_t` of that example to the visible biases, the
//! positive phase additionally clamps the image and label blocks to the example. Parallel
//! tempering and annealed generation need a different `β` per chain or per sweep.
//! [`ConditionedSampler`] covers all three on one shared sparse graph:
//!
//! * couplings and base biases are shared (`f32`, CSR rows as [`Engine::SparseF32`](super::Engine));
//! * chain `c` sees bias `h_i + e_{c,i}` where `e` is an optional `chains × N` field
//!   ([`ConditionedSampler::set_fields`]);
//! * chain `c` runs at inverse temperature `β_c` ([`ConditionedSampler::set_betas`]);
//! * only the colour classes listed in [`ConditionedSampler::set_free_classes`] are resampled,
//!   the others keep whatever the batch holds (clamping), in `BLK-ALT` order (listed order) or
//!   `BLK-SYM` order (listed or reversed by a fair coin per chain and sweep).
//!
//! Chain `c` draws every random number from stream `c` of the seed, so results do not depend on
//! the thread count. Two engines run the update ([`ConditionedSampler::with_engine`]):
//!
//! * [`Engine::Lanes`](super::Engine) (picked by [`ConditionedSampler::new`] from 16 chains on):
//!   16 chains per SIMD row as in the fast sampler's lanes engine, with per-lane bias rows
//!   `h_i + e_{c,i}` and per-lane `β_c`; field in `f32`, base-2 division-free 24-bit comparison;
//!   comparison words from ChaCha8 or, with [`ConditionedSampler::set_generator`], per-chain
//!   `xoshiro128+` ([`Generator`]);
//! * [`Engine::SparseF32`](super::Engine) (fewer chains, or forced): one chain at a time, field in
//!   `f32`, polynomial sigmoid, 24-bit comparison.
//!
//! Both are the same Markov kernel (`tests/conditioned.rs` checks each against enumeration); they
//! draw their random numbers differently, so their samples differ.

pub use super::lanes::{BlockObserver, BlockView, LaneMoments};
use super::lanes::{LanesEngine, W};
use super::sparse::Csr;
use super::stream::RandBuf;
use super::{Engine, Generator};
use crate::observe::Observer;
use crate::run::{
    BatchChains, ChainSampler, CheckedRun, Executor, Segment, check_run, per_chain, segment_loop,
    slots,
};
use crate::{ChainBatch, ColourSchedule, KernelKind, SamplerError};
use thermoq_core::rng::chain_rng;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};

/// Chains per block of [`ConditionedSampler::run_per_block`] ([`BlockView`] lanes).
pub const LANES: usize = W;

fn invalid(field: &str, message: String) -> SamplerError {
    SamplerError::Invalid {
        field: field.into(),
        message,
    }
}

/// Block Gibbs with per-chain fields, temperatures and clamped classes (see the module docs).
#[derive(Clone)]
pub struct ConditionedSampler {
    /// The sparse engine's rows and scalar update (couplings and base biases in `f32`).
    csr: Csr<f32>,
    fields: Option<Vec<f32>>,
    betas: Vec<f32>,
    free: Vec<usize>,
    kind: KernelKind,
    /// The colour order of one sweep: `kind` over the free classes.
    sched: ColourSchedule,
    rngs: Vec<RandBuf>,
    /// The lanes engine when it runs the update (`None`: the scalar `sparse-f32` update).
    lanes: Option<LanesEngine>,
}

impl std::fmt::Debug for ConditionedSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionedSampler")
            .field("n", &self.csr.n())
            .field("chains", &self.rngs.len())
            .field("free", &self.free)
            .field("kind", &self.kind)
            .field("engine", &self.engine())
            .field("generator", &self.generator())
            .finish_non_exhaustive()
    }
}

impl ConditionedSampler {
    /// A sampler of `model` (couplings, biases, `β` as the default for every chain) on
    /// `coloring`'s classes, all free, for `n_chains` chains; `kind` is `BlkAlt` or `BlkSym`.
    /// The lanes engine runs it from 16 chains on, the scalar `sparse-f32` update below that.
    pub fn new(
        model: &IsingModel,
        coloring: &Coloring,
        kind: KernelKind,
        n_chains: usize,
        seed: u64,
    ) -> Result<Self, SamplerError> {
        Self::with_engine(model, coloring, kind, n_chains, seed, Engine::Auto)
    }

    /// As [`ConditionedSampler::new`] with the engine chosen: `Auto`, `Lanes` or `SparseF32`
    /// (any other is an error naming the field).
    pub fn with_engine(
        model: &IsingModel,
        coloring: &Coloring,
        kind: KernelKind,
        n_chains: usize,
        seed: u64,
        engine: Engine,
    ) -> Result<Self, SamplerError> {
        let lanes = match engine {
            Engine::Auto => n_chains >= W,
            Engine::Lanes => true,
            Engine::SparseF32 => false,
            e => {
                return Err(invalid(
                    "engine",
                    format!(
                        "is {}; the conditioned sampler runs lanes or sparse-f32",
                        e.name()
                    ),
                ));
            }
        };
        if !matches!(kind, KernelKind::BlkAlt | KernelKind::BlkSym) {
            return Err(invalid(
                "kernel",
                format!("is {kind}; the conditioned sampler runs blk-alt and blk-sym"),
            ));
        }
        if n_chains == 0 {
            return Err(invalid("chains", "is 0, expected at least 1".into()));
        }
        let coloring = Coloring::from_colors(model.graph(), coloring.colors().to_vec())?;
        let mut s = Self {
            csr: Csr::new(model, &coloring),
            fields: None,
            betas: vec![model.beta() as f32; n_chains],
            free: (0..coloring.n_colors()).collect(),
            kind,
            sched: ColourSchedule::new(kind, coloring.n_colors())?,
            rngs: (0..n_chains as u64)
                .map(|c| RandBuf::new(chain_rng(seed, c)))
                .collect(),
            lanes: lanes.then(|| LanesEngine::new(model, &coloring, n_chains)),
        };
        s.set_model(model)?;
        Ok(s)
    }

    /// The engine running the update (`Lanes` or `SparseF32`).
    pub fn engine(&self) -> Engine {
        if self.lanes.is_some() {
            Engine::Lanes
        } else {
            Engine::SparseF32
        }
    }

    /// Draws comparison words from `g` from now on ([`Generator`]); `Xoshiro128Plus` needs the
    /// lanes engine, and is seeded from each chain's stream at the next run.
    pub fn set_generator(&mut self, g: Generator) -> Result<(), SamplerError> {
        match &mut self.lanes {
            Some(e) => e.set_generator(g),
            None if g == Generator::ChaCha8 => {}
            None => {
                return Err(invalid(
                    "generator",
                    format!(
                        "is {}; the sparse-f32 engine draws from chacha8 only (xoshiro128+ needs \
                         the lanes engine)",
                        g.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The generator of the comparison words.
    pub fn generator(&self) -> Generator {
        self.lanes
            .as_ref()
            .map_or(Generator::ChaCha8, LanesEngine::generator)
    }

    /// Reads couplings and biases from `model` (same graph); keeps fields, temperatures, free
    /// classes and random streams. Call it after every parameter update.
    pub fn set_model(&mut self, model: &IsingModel) -> Result<(), SamplerError> {
        self.csr
            .set_params(model)
            .map_err(|m| invalid("model", m))?;
        if let Some(e) = &mut self.lanes {
            e.set_params(model);
            e.set_fields(self.fields.as_deref());
        }
        Ok(())
    }

    /// Sets per-chain extra biases (`chains × N`, chain-major), or `None` for none.
    pub fn set_fields(&mut self, fields: Option<&[f64]>) -> Result<(), SamplerError> {
        self.fields = match fields {
            None => None,
            Some(f) => {
                let n = self.csr.n();
                if f.len() != self.rngs.len() * n {
                    return Err(invalid(
                        "fields",
                        format!(
                            "has {} entries, expected chains × spins = {}",
                            f.len(),
                            self.rngs.len() * n
                        ),
                    ));
                }
                if let Some(k) = f.iter().position(|v| !v.is_finite()) {
                    return Err(invalid("fields", format!("entry {k} is not finite")));
                }
                Some(f.iter().map(|&v| v as f32).collect())
            }
        };
        if let Some(e) = &mut self.lanes {
            e.set_fields(self.fields.as_deref());
        }
        Ok(())
    }

    /// Sets each chain's inverse temperature (finite, ≥ 0).
    pub fn set_betas(&mut self, betas: &[f64]) -> Result<(), SamplerError> {
        if betas.len() != self.rngs.len() {
            return Err(invalid(
                "betas",
                format!("has {} entries, expected {}", betas.len(), self.rngs.len()),
            ));
        }
        if let Some(k) = betas.iter().position(|b| !b.is_finite() || *b < 0.0) {
            return Err(invalid(
                "betas",
                format!("entry {k} is {}, expected finite and ≥ 0", betas[k]),
            ));
        }
        self.betas = betas.iter().map(|&b| b as f32).collect();
        if let Some(e) = &mut self.lanes {
            e.set_betas(betas);
        }
        Ok(())
    }

    /// Sets every chain's inverse temperature to `beta`.
    pub fn set_beta(&mut self, beta: f64) -> Result<(), SamplerError> {
        self.set_betas(&vec![beta; self.rngs.len()])
    }

    /// Resamples only these colour classes, in this order (the rest stay clamped).
    pub fn set_free_classes(&mut self, classes: &[usize]) -> Result<(), SamplerError> {
        if classes.is_empty() {
            return Err(invalid("free classes", "is empty".into()));
        }
        let n_classes = self.csr.classes().len();
        if let Some(&c) = classes.iter().find(|&&c| c >= n_classes) {
            return Err(invalid(
                "free classes",
                format!("holds class {c}, expected < {n_classes}"),
            ));
        }
        self.sched = ColourSchedule::with_order(self.kind, classes)?;
        self.free = classes.to_vec();
        Ok(())
    }

    /// The coupling the sampler uses between spins `i` and `j` (`None` if they are not joined).
    pub fn coupling(&self, i: usize, j: usize) -> Option<f32> {
        self.csr.coupling(i, j)
    }

    /// The base bias the sampler uses at spin `i` (before per-chain fields).
    pub fn bias(&self, i: usize) -> Option<f32> {
        self.csr.bias(i)
    }

    /// Number of chains.
    pub fn n_chains(&self) -> usize {
        self.rngs.len()
    }

    /// Spins per chain.
    pub fn n_spins(&self) -> usize {
        self.csr.n()
    }

    /// Spin updates one sweep performs per chain (the free classes' sizes).
    pub fn updates_per_sweep(&self) -> usize {
        let classes = self.csr.classes();
        self.free.iter().map(|&c| classes[c].len()).sum()
    }

    /// One colour class of chain `c`: the sparse engine's scalar update at `β_c`, with chain
    /// `c`'s extra biases.
    #[inline]
    fn update_class(&self, c: usize, x: &mut [Spin], class: usize, rb: &mut RandBuf) {
        let n = self.csr.n();
        let ext = self.fields.as_ref().map(|f| &f[c * n..(c + 1) * n]);
        self.csr
            .update_class(x, class, 2.0 * self.betas[c], ext, rb);
    }

    fn sweep_chain(&self, c: usize, x: &mut [Spin], rb: &mut RandBuf) {
        self.sched
            .visit(rb, |cl, rb| self.update_class(c, x, cl, rb));
    }

    /// Keeps `batch`'s chains inside the lanes engine, in its layout, for
    /// [`ConditionedSampler::sweep_resident`]; `false` (nothing kept) on the scalar engine.
    pub(crate) fn load_resident(&mut self, batch: &ChainBatch) -> bool {
        match &mut self.lanes {
            Some(e) => {
                e.load_resident(batch);
                true
            }
            None => false,
        }
    }

    /// Writes the resident chains back into `batch` (after [`ConditionedSampler::load_resident`]).
    pub(crate) fn store_resident(&self, batch: &mut ChainBatch) {
        if let Some(e) = &self.lanes {
            e.store_resident(batch);
        }
    }

    /// `sweeps` sweeps of the resident chains, the same updates and random numbers as
    /// [`ConditionedSampler::sweep`] on the batch, with no layout conversion; adds each chain's
    /// energy change (`−Σ (x_i' − x_i)·φ_i`, β not included, per-chain fields in `φ`; summed in
    /// `f32` per sweep) to `de[c]`. Lanes engine only (a no-op on the scalar engine).
    pub(crate) fn sweep_resident(&mut self, sweeps: usize, de: &mut [f64]) {
        if let Some(e) = &mut self.lanes {
            e.sweep_resident(&mut self.rngs, &self.sched, sweeps, de);
        }
    }

    /// As [`ConditionedSampler::sweep_resident`], each 16-chain block on its own, calling
    /// `after(&mut ctx[b], view, de, c2)` after each of its sweeps (see
    /// `LanesEngine::sweep_resident_with`; `c2` is `−2β·log₂e` per lane). Per-chain temperatures
    /// changed through `c2` are not seen by [`ConditionedSampler::set_betas`]' copy: set them
    /// again before running another way. Lanes engine only (a no-op on the scalar engine).
    pub(crate) fn sweep_resident_with<T: Send>(
        &mut self,
        sweeps: usize,
        ctx: &mut [T],
        after: impl Fn(&mut T, &super::lanes::BlockView<'_>, &[f32; W], &mut [f32; W]) + Sync,
    ) {
        if let Some(e) = &mut self.lanes {
            e.sweep_resident_with(&mut self.rngs, &self.sched, sweeps, ctx, after);
        }
    }

    /// Advances every chain by `sweeps` sweeps.
    pub fn sweep(&mut self, batch: &mut ChainBatch, sweeps: usize) -> Result<(), SamplerError> {
        ChainSampler::sweep(self, batch, sweeps)
    }

    /// Discards `burn_in` sweeps, then records `samples` states spaced `thin` sweeps apart
    /// (observed after sweeps `burn_in + thin`, `burn_in + 2·thin`, …; the `s`-th under index
    /// `s`, as every [`Observer`] is called) into one observer per chain built by `make(c)`;
    /// returns the observers in chain order (not merged). A wrapper over [`Executor`].
    pub fn run_per_chain<O: Observer>(
        &mut self,
        batch: &mut ChainBatch,
        burn_in: usize,
        samples: usize,
        thin: usize,
        make: impl Fn(usize) -> O + Sync,
    ) -> Result<Vec<O>, SamplerError> {
        Ok(Executor::new(samples)
            .burn_in(burn_in)
            .thin(thin)
            .run_per_chain(self, batch, make)?
            .observed)
    }
}

impl ConditionedSampler {
    /// As [`ConditionedSampler::run_per_chain`], but the states are handed over a block of
    /// [`LANES`] chains at a time in the lanes layout ([`BlockView`]), with no per-chain
    /// conversion: observer `b` (built by `make(b)`) sees chains `b·LANES ..` after each draw.
    /// The same sweeps and random numbers as `run_per_chain` (so the same states), on either
    /// engine (the scalar engine's states are laid out per block after each draw).
    pub fn run_per_block<O: BlockObserver>(
        &mut self,
        batch: &mut ChainBatch,
        burn_in: usize,
        samples: usize,
        thin: usize,
        make: impl Fn(usize) -> O,
    ) -> Result<Vec<O>, SamplerError> {
        let nc = self.rngs.len();
        let seg = Segment {
            burn_in,
            draws: samples,
            thin,
            first: 0,
        };
        check_run::<O>(batch, nc, self.csr.n(), &seg, None)?;
        let mut obs: Vec<O> = (0..nc.div_ceil(W)).map(make).collect();
        if let Some(e) = &mut self.lanes {
            e.drive_blocks(batch, &mut self.rngs, &self.sched, &seg, &mut obs);
            return Ok(obs);
        }
        let n = self.csr.n();
        let observe = |d: usize, batch: &ChainBatch| {
            for (b, o) in obs.iter_mut().enumerate() {
                let chains = &batch.as_slice()[b * W * n..((b + 1) * W).min(nc) * n];
                BlockView::of_chains(chains, n, b * W, |v| o.observe(d, v));
            }
        };
        segment_loop(&seg, batch, Some(observe), |batch, k| {
            self.advance::<super::NoObs>(CheckedRun {
                batch,
                seg: &Segment::sweeps(k),
                total: k,
                observers: None,
            });
        });
        Ok(obs)
    }
}

/// Chain `c` draws from stream `c` of the seed; the lanes engine runs each 16-chain block's
/// segment as one rayon task, the scalar engine each chain's.
impl BatchChains for ConditionedSampler {
    fn shape(&self) -> (usize, usize) {
        (self.rngs.len(), self.csr.n())
    }

    fn advance<O: Observer>(&mut self, run: CheckedRun<'_, O>) {
        if let Some(e) = &mut self.lanes {
            e.drive(
                run.batch,
                &mut self.rngs,
                &self.sched,
                run.seg,
                run.observers,
            );
            return;
        }
        let mut rngs = std::mem::take(&mut self.rngs);
        let mut slots = slots(run.observers, rngs.len());
        let me = &*self;
        per_chain(run.batch, &mut rngs, &mut slots, run.seg, |c, x, rb| {
            me.sweep_chain(c, x, rb)
        });
        self.rngs = rngs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thermoq_models::builders;

    fn model() -> IsingModel {
        builders::random_sparse(12, 0.3, 0.6, 0.3, 1.0, 4)
    }

    /// Runs `f` in a rayon pool of `threads` threads.
    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(f)
    }

    /// A BLK-SYM sampler of `(chains, seed)` on `g` with chain `k` at `β = beta(k)`, field
    /// `field(c·n + i)` on spin `i` of chain `c`, and colour class 0 clamped.
    fn varied(
        m: &IsingModel,
        col: &Coloring,
        (chains, seed): (usize, u64),
        g: Generator,
        beta: impl Fn(usize) -> f64,
        field: impl Fn(usize) -> f64,
    ) -> ConditionedSampler {
        let mut s =
            ConditionedSampler::new(m, col, KernelKind::BlkSym, chains, seed).expect("sampler");
        s.set_generator(g).expect("generator");
        let betas: Vec<f64> = (0..chains).map(beta).collect();
        s.set_betas(&betas).expect("betas");
        let fields: Vec<f64> = (0..chains * m.n_spins()).map(field).collect();
        s.set_fields(Some(&fields)).expect("fields");
        let free: Vec<usize> = (1..col.n_colors()).collect();
        s.set_free_classes(&free).expect("free");
        s
    }

    #[test]
    fn deterministic_across_thread_counts() {
        let m = model();
        let col = Coloring::dsatur(m.graph());
        let run = |threads: usize| {
            in_pool(threads, || {
                let mut s =
                    ConditionedSampler::new(&m, &col, KernelKind::BlkSym, 8, 3).expect("sampler");
                s.set_betas(&[0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2])
                    .expect("betas");
                let mut b = ChainBatch::uniform(8, 12, 1);
                s.sweep(&mut b, 50).expect("sweep");
                b.as_slice().to_vec()
            })
        };
        assert_eq!(run(1), run(2));
    }

    /// The lanes engine (20 chains: one full block of 16 and a partial one), with per-chain
    /// fields, temperatures and a clamped class, gives the same samples with 1 and 2 threads,
    /// with either generator, and never moves the clamped spins.
    #[test]
    fn lanes_engine_deterministic_and_clamps() {
        let m = model();
        let col = Coloring::dsatur(m.graph());
        let c = 20;
        for g in [Generator::ChaCha8, Generator::Xoshiro128Plus] {
            let run = |threads: usize| {
                in_pool(threads, || {
                    let beta = |k: usize| 0.5 + 0.05 * k as f64;
                    let field = |k: usize| 0.1 * (k as f64).sin();
                    let mut s = varied(&m, &col, (c, 3), g, beta, field);
                    assert_eq!(s.engine(), Engine::Lanes);
                    let mut b = ChainBatch::uniform(c, 12, 1);
                    let before = b.as_slice().to_vec();
                    s.sweep(&mut b, 30).expect("sweep");
                    for k in 0..c {
                        for i in (0..12).filter(|&i| col.color(i) == 0) {
                            assert_eq!(b.chain(k)[i], before[k * 12 + i], "chain {k} spin {i}");
                        }
                    }
                    b.as_slice().to_vec()
                })
            };
            assert_eq!(run(1), run(2), "{}", g.name());
        }
        // Few chains: the scalar engine, which has no xoshiro.
        let mut s = ConditionedSampler::new(&m, &col, KernelKind::BlkAlt, 4, 3).expect("sampler");
        assert_eq!(s.engine(), Engine::SparseF32);
        assert!(s.set_generator(Generator::Xoshiro128Plus).is_err());
        assert!(
            ConditionedSampler::with_engine(&m, &col, KernelKind::BlkAlt, 4, 3, Engine::Dense)
                .is_err()
        );
    }

    /// Records a block's exact lane sums.
    struct Lanes(LaneMoments);

    impl BlockObserver for Lanes {
        fn observe(&mut self, _draw: usize, block: &BlockView<'_>) {
            self.0.add(block);
        }
    }

    /// `run_per_block` runs the same chains as `run_per_chain` (identical final batches, both
    /// engines, both generators, a partial block, per-chain fields, temperatures and a clamped
    /// class; 1 and 2 threads), and its exact lane sums equal every chain's `SpinMoments`.
    #[test]
    fn per_block_recording_matches_per_chain() {
        use crate::observe::MomentObserver;
        let m = model();
        let col = Coloring::dsatur(m.graph());
        let edges: std::sync::Arc<[(u32, u32)]> = m
            .graph()
            .edges()
            .map(|(i, j)| (i as u32, j as u32))
            .collect();
        for (c, g) in [
            (20, Generator::ChaCha8),
            (20, Generator::Xoshiro128Plus),
            (5, Generator::ChaCha8),
        ] {
            let beta = |k: usize| 0.6 + 0.03 * k as f64;
            let field = |k: usize| 0.2 * (k as f64).cos();
            let sampler = || varied(&m, &col, (c, 11), g, beta, field);
            let mut a = sampler();
            let mut ba = ChainBatch::uniform(c, 12, 5);
            let per_chain = a
                .run_per_chain(&mut ba, 3, 40, 2, |_| MomentObserver::new(&m))
                .expect("per chain");
            let per_block = |threads: usize| {
                in_pool(threads, || {
                    let mut s = sampler();
                    let mut b = ChainBatch::uniform(c, 12, 5);
                    let proto = LaneMoments::new(12, edges.clone()).expect("edges");
                    let obs = s
                        .run_per_block(&mut b, 3, 40, 2, |_| Lanes(proto.clone()))
                        .expect("per block");
                    (b, obs)
                })
            };
            let (bb, blocks) = per_block(2);
            assert_eq!(ba.as_slice(), bb.as_slice(), "{c} chains, {}", g.name());
            assert_eq!(per_block(1).0.as_slice(), bb.as_slice());
            assert_eq!(blocks.len(), c.div_ceil(LANES));
            for (k, o) in per_chain.iter().enumerate() {
                let (lanes, l) = (&blocks[k / LANES].0, k % LANES);
                let sums = o.sums();
                assert_eq!(lanes.count(), sums.count());
                for (i, &v) in sums.sum_x().iter().enumerate() {
                    assert_eq!(lanes.sum_x(i, l) as f64, v, "chain {k} spin {i}");
                }
                for (e, &v) in sums.sum_xx().iter().enumerate() {
                    assert_eq!(lanes.sum_xx(e, l) as f64, v, "chain {k} edge {e}");
                }
            }
        }
        assert!(LaneMoments::new(3, edges).is_err(), "edges past n");
    }

    #[test]
    fn clamped_classes_do_not_move_and_bad_input_is_rejected() {
        let m = model();
        let col = Coloring::dsatur(m.graph());
        let mut s = ConditionedSampler::new(&m, &col, KernelKind::BlkAlt, 4, 3).expect("sampler");
        s.set_free_classes(&[0]).expect("free");
        let mut b = ChainBatch::uniform(4, 12, 2);
        let before = b.as_slice().to_vec();
        s.sweep(&mut b, 20).expect("sweep");
        for c in 0..4 {
            for i in 0..12 {
                if col.color(i) != 0 {
                    assert_eq!(b.chain(c)[i], before[c * 12 + i]);
                }
            }
        }
        assert!(s.set_free_classes(&[9]).is_err());
        assert!(s.set_fields(Some(&[f64::NAN; 48])).is_err());
        assert!(s.set_fields(Some(&[0.0; 3])).is_err());
        assert!(s.set_betas(&[1.0, -1.0, 1.0, 1.0]).is_err());
        assert!(ConditionedSampler::new(&m, &col, KernelKind::Rs1, 4, 3).is_err());
    }
}
