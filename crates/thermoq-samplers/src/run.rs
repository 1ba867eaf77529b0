//! One way to run chains: the [`ChainSampler`] trait and the [`Executor`] that drives it.
//!
//! A [`ChainSampler`] is a batch of chains that can be advanced and observed. Every sampler of
//! this crate implements it:
//!
//! | sampler | `State` | observed chains |
//! |---|---|---|
//! | [`BatchSampler`](crate::BatchSampler) (reference, any [`Kernel`](crate::Kernel)) | [`ChainBatch`] | every chain |
//! | [`FastSampler`](crate::fast::FastSampler) (sparse, sparse-f32, lattice, dense, lanes) | [`ChainBatch`] | every chain |
//! | [`ConditionedSampler`](crate::fast::conditioned::ConditionedSampler) | [`ChainBatch`] | every chain |
//! | [`PtChains`](crate::pt::PtChains) ([`ParallelTempering`](crate::pt::ParallelTempering) driver) | `()` (held inside) | the cold rung of each PT chain |
//! | [`FastPt`](crate::pt::FastPt) | `()` (held inside) | the cold rung of each PT chain |
//!
//! The state lives where each engine keeps it: in a caller-owned [`ChainBatch`] for the plain
//! samplers (so a batch can be inspected, clamped or re-used between runs), inside the driver for
//! parallel tempering. Engines keep their own layouts (bit-packed sublattices, `f32` lanes, GEMM
//! columns) during a segment and hand each observed chain to its [`Observer`] as a `&[Spin]`,
//! converting only when a draw is observed.
//!
//! The [`Executor`] owns what is common to every run: burn-in, thinning, the number of recorded
//! draws, one observer per chain merged in chain order (so results do not depend on the thread
//! count), and an optional progress callback that can stop the run ([`ControlFlow::Break`]).
//! It emits a `tracing` span `sample` per run and a debug event per progress step.
//!
//! **Sweep-index contract.** Observer `c` receives `observe(d, x)` for the `d`-th recorded draw of
//! chain `c`, `d = 0, 1, 2, …` counted after burn-in, whatever the thinning and however the run is
//! cut into progress steps (`tests/executor.rs` checks it for every implementation).
//!
//! ```
//! use thermoq_models::builders;
//! use thermoq_samplers::{ChainBatch, Executor, KernelKind, MomentObserver, fast::FastSampler};
//! let model = builders::lattice_2d(4, 4, 0.3, 0.0, 1.0).unwrap();
//! let mut s = FastSampler::new(&model, KernelKind::BlkSym, None, 8, 3).unwrap();
//! let mut batch = ChainBatch::uniform(8, 16, 3);
//! let run = Executor::new(100).burn_in(50).thin(2)
//!     .run(&mut s, &mut batch, |_| MomentObserver::new(&model)).unwrap();
//! assert_eq!(run.observed.count(), 8 * 100);
//! ```

use crate::observe::Observer;
use crate::{ChainBatch, SamplerError};
use rayon::prelude::*;
use std::ops::ControlFlow;
use thermoq_core::Spin;

/// What one call of [`ChainSampler::run_segment`] does: `burn_in` unobserved sweeps, then
/// `draws` draws spaced `thin` sweeps apart (observed after the last sweep of each), the `d`-th
/// under index `first + d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Unobserved sweeps first.
    pub burn_in: usize,
    /// Recorded draws.
    pub draws: usize,
    /// Sweeps per draw (≥ 1).
    pub thin: usize,
    /// Index of the segment's first draw.
    pub first: usize,
}

impl Segment {
    /// `sweeps` unobserved sweeps.
    pub fn sweeps(sweeps: usize) -> Self {
        Self {
            burn_in: sweeps,
            draws: 0,
            thin: 1,
            first: 0,
        }
    }

    /// Total sweeps of the segment; an overflow or `thin = 0` is an error naming the field.
    pub fn total_sweeps(&self) -> Result<usize, SamplerError> {
        if self.thin == 0 {
            return Err(SamplerError::invalid("thin", "is 0, expected at least 1"));
        }
        self.draws
            .checked_mul(self.thin)
            .and_then(|s| s.checked_add(self.burn_in))
            .ok_or_else(|| {
                SamplerError::invalid(
                    "sweeps",
                    format!(
                        "burn-in {} + draws {} × thin {} overflows usize",
                        self.burn_in, self.draws, self.thin
                    ),
                )
            })
    }

    /// The sweep (0-based, counted from the segment start) after which draw `d` is observed.
    #[inline]
    pub(crate) fn observes_after(&self, t: usize) -> Option<usize> {
        let r = t.checked_sub(self.burn_in)?;
        ((r + 1) % self.thin == 0).then(|| self.first + r / self.thin)
    }
}

/// A batch of chains that can be advanced one sweep at a time and observed.
///
/// Implementations keep each chain on its own random stream, so a run cut into several segments
/// gives the same numbers as one segment, on any number of threads.
pub trait ChainSampler {
    /// Where the chains' states live between calls ([`ChainBatch`], or `()` for drivers that
    /// hold their own state).
    type State;

    /// Number of chains (observers per run).
    fn n_chains(&self) -> usize;

    /// Spins per observed chain state.
    fn n_spins(&self) -> usize;

    /// Runs `seg` on every chain; with `observers` (one per chain, in chain order) observer `c`
    /// gets chain `c`'s state after each draw. A state or observer count that does not match the
    /// sampler, `thin = 0` or an overflowing length is an error.
    fn run_segment<O: Observer>(
        &mut self,
        state: &mut Self::State,
        seg: Segment,
        observers: Option<&mut [O]>,
    ) -> Result<(), SamplerError>;

    /// Advances every chain by `sweeps` sweeps without observing.
    fn sweep(&mut self, state: &mut Self::State, sweeps: usize) -> Result<(), SamplerError> {
        self.run_segment::<crate::fast::NoObs>(state, Segment::sweeps(sweeps), None)
    }

    /// Hands every observed chain's current state to `f(c, x)`, in chain order.
    fn for_each_chain_state(&self, state: &Self::State, f: &mut dyn FnMut(usize, &[Spin]));
}

/// A sampler whose chains live in a caller-owned [`ChainBatch`]: it implements this, and the
/// blanket [`ChainSampler`] impl below adds what every such sampler shares — the checks of
/// [`check_run`] before each segment and the walk over the batch's chains.
pub(crate) trait BatchChains {
    /// `(chains, spins per chain)` of the batch the sampler runs.
    fn shape(&self) -> (usize, usize);

    /// Runs the checked segment `run`.
    fn advance<O: Observer>(&mut self, run: CheckedRun<'_, O>);
}

/// A segment that passed [`check_run`], for [`BatchChains::advance`]: `seg` (`total` sweeps) on
/// every chain of `batch`, observed by `observers` (one per chain) when given.
pub(crate) struct CheckedRun<'a, O> {
    pub(crate) batch: &'a mut ChainBatch,
    pub(crate) seg: &'a Segment,
    pub(crate) total: usize,
    pub(crate) observers: Option<&'a mut [O]>,
}

impl<T: BatchChains> ChainSampler for T {
    type State = ChainBatch;

    fn n_chains(&self) -> usize {
        self.shape().0
    }

    fn n_spins(&self) -> usize {
        self.shape().1
    }

    fn run_segment<O: Observer>(
        &mut self,
        batch: &mut ChainBatch,
        seg: Segment,
        observers: Option<&mut [O]>,
    ) -> Result<(), SamplerError> {
        let (nc, n) = self.shape();
        let total = check_run(batch, nc, n, &seg, observers.as_deref())?;
        self.advance(CheckedRun {
            batch,
            seg: &seg,
            total,
            observers,
        });
        Ok(())
    }

    fn for_each_chain_state(&self, batch: &ChainBatch, f: &mut dyn FnMut(usize, &[Spin])) {
        for c in 0..batch.n_chains() {
            f(c, batch.chain(c));
        }
    }
}

/// Checks a batch's shape against a sampler's.
fn check_batch(batch: &ChainBatch, n_chains: usize, n_spins: usize) -> Result<(), SamplerError> {
    if batch.n_chains() != n_chains || batch.n_spins() != n_spins {
        return Err(SamplerError::invalid(
            "batch",
            format!(
                "is {} chains × {} spins, expected {} × {}",
                batch.n_chains(),
                batch.n_spins(),
                n_chains,
                n_spins
            ),
        ));
    }
    Ok(())
}

/// The checks every [`ChainSampler::run_segment`] starts with: the batch is `n_chains × n_spins`,
/// the observers (if any) are one per chain, and the segment's length is representable. Returns
/// the segment's total sweeps.
pub(crate) fn check_run<O>(
    batch: &ChainBatch,
    n_chains: usize,
    n_spins: usize,
    seg: &Segment,
    observers: Option<&[O]>,
) -> Result<usize, SamplerError> {
    check_batch(batch, n_chains, n_spins)?;
    check_segment(seg, observers, n_chains)
}

/// Checks the observer count and the segment's length.
pub(crate) fn check_segment<O>(
    seg: &Segment,
    observers: Option<&[O]>,
    n_chains: usize,
) -> Result<usize, SamplerError> {
    if let Some(o) = observers
        && o.len() != n_chains
    {
        return Err(SamplerError::invalid(
            "observers",
            format!(
                "has {} entries, expected one per chain ({n_chains})",
                o.len()
            ),
        ));
    }
    seg.total_sweeps()
}

/// One slot per chain: `Some(observer)` or `None` (advance only).
pub(crate) fn slots<O>(observers: Option<&mut [O]>, n_chains: usize) -> Vec<Option<&mut O>> {
    match observers {
        Some(o) => o.iter_mut().map(Some).collect(),
        None => (0..n_chains).map(|_| None).collect(),
    }
}

/// Runs a segment on every chain of `batch` in parallel (one rayon task per chain), each chain's
/// state being its own slice of the batch: `sweep(c, x, rng_c)` per sweep of chain `c`, observed
/// through its slot.
pub(crate) fn per_chain<O: Observer, R: Send>(
    batch: &mut ChainBatch,
    rngs: &mut [R],
    slots: &mut [Option<&mut O>],
    seg: &Segment,
    sweep: impl Fn(usize, &mut [Spin], &mut R) + Sync,
) {
    let n = batch.n_spins();
    batch
        .as_mut_slice()
        .par_chunks_mut(n.max(1))
        .zip(rngs.par_iter_mut())
        .zip(slots.par_iter_mut())
        .enumerate()
        .for_each(|(c, ((x, r), o))| {
            chain_segment(seg, x, o.as_deref_mut(), |x| sweep(c, x, r));
        });
}

/// Runs a segment on one chain whose state is `x` itself: `sweep(x)` per sweep, observing after
/// each draw.
#[inline]
pub(crate) fn chain_segment<O: Observer>(
    seg: &Segment,
    x: &mut [Spin],
    obs: Option<&mut O>,
    mut sweep: impl FnMut(&mut [Spin]),
) {
    let observe = obs.map(|o| move |d: usize, x: &[Spin]| o.observe(d, x));
    segment_loop(seg, x, observe, |x, k| {
        for _ in 0..k {
            sweep(x);
        }
    });
}

/// The loop of a segment on any state `x`: `advance(x, k)` runs `k` sweeps — the burn-in, then
/// `thin` before each draw `d`, which `observe(seg.first + d, x)` sees (without an observer, all
/// the draws' sweeps in one call).
#[inline]
pub(crate) fn segment_loop<S: ?Sized>(
    seg: &Segment,
    x: &mut S,
    observe: Option<impl FnMut(usize, &S)>,
    mut advance: impl FnMut(&mut S, usize),
) {
    advance(x, seg.burn_in);
    match observe {
        Some(mut o) => {
            for d in 0..seg.draws {
                advance(x, seg.thin);
                o(seg.first + d, x);
            }
        }
        None => advance(x, seg.draws * seg.thin),
    }
}

/// Where a run stands, for the progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Draws recorded so far (per chain).
    pub draws_done: usize,
    /// Draws asked for.
    pub draws_total: usize,
    /// Sweeps done so far (per chain, burn-in included).
    pub sweeps_done: usize,
}

type Callback<'p> = Box<dyn FnMut(Progress) -> ControlFlow<()> + 'p>;

/// Drives any [`ChainSampler`]: burn-in, thinning, recorded draws, per-chain observers and an
/// optional progress / stop callback (see the module docs).
pub struct Executor<'p> {
    burn_in: usize,
    draws: usize,
    thin: usize,
    every: usize,
    progress: Option<Callback<'p>>,
}

impl std::fmt::Debug for Executor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("burn_in", &self.burn_in)
            .field("draws", &self.draws)
            .field("thin", &self.thin)
            .field("every", &self.every)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// The result of an [`Executor`] run.
#[derive(Clone, Debug)]
pub struct Run<T> {
    /// The observers: merged in chain order ([`Executor::run`]) or one per chain
    /// ([`Executor::run_per_chain`]).
    pub observed: T,
    /// Draws recorded per chain (fewer than asked when the callback stopped the run).
    pub draws: usize,
    /// Whether the progress callback stopped the run early.
    pub stopped: bool,
}

impl<'p> Executor<'p> {
    /// A run recording `draws` draws per chain, no burn-in, thinning 1, no callback.
    pub fn new(draws: usize) -> Self {
        Self {
            burn_in: 0,
            draws,
            thin: 1,
            every: 0,
            progress: None,
        }
    }

    /// Discards `sweeps` sweeps before the first draw.
    pub fn burn_in(mut self, sweeps: usize) -> Self {
        self.burn_in = sweeps;
        self
    }

    /// Records one draw every `sweeps` sweeps (≥ 1; 0 is an error at run time).
    pub fn thin(mut self, sweeps: usize) -> Self {
        self.thin = sweeps;
        self
    }

    /// Calls `f` after the burn-in and after every `every` draws (and at the end); returning
    /// [`ControlFlow::Break`] stops the run after the draws recorded so far. Without a callback
    /// the whole run is one segment.
    pub fn progress(
        mut self,
        every: usize,
        f: impl FnMut(Progress) -> ControlFlow<()> + 'p,
    ) -> Self {
        self.every = every.max(1);
        self.progress = Some(Box::new(f));
        self
    }

    /// Runs `sampler` on `state` with one observer per chain built by `make(c)`, and returns the
    /// observers merged in chain order.
    pub fn run<S: ChainSampler + ?Sized, O: Observer>(
        &mut self,
        sampler: &mut S,
        state: &mut S::State,
        make: impl FnMut(usize) -> O,
    ) -> Result<Run<O>, SamplerError> {
        let r = self.run_per_chain(sampler, state, make)?;
        let mut it = r.observed.into_iter();
        let mut first = it
            .next()
            .ok_or_else(|| SamplerError::invalid("chains", "is 0, expected at least 1"))?;
        for o in it {
            first.merge(o);
        }
        Ok(Run {
            observed: first,
            draws: r.draws,
            stopped: r.stopped,
        })
    }

    /// As [`Executor::run`], returning the observers one per chain, in chain order.
    pub fn run_per_chain<S: ChainSampler + ?Sized, O: Observer>(
        &mut self,
        sampler: &mut S,
        state: &mut S::State,
        make: impl FnMut(usize) -> O,
    ) -> Result<Run<Vec<O>>, SamplerError> {
        let nc = sampler.n_chains();
        let whole = Segment {
            burn_in: self.burn_in,
            draws: self.draws,
            thin: self.thin,
            first: 0,
        };
        whole.total_sweeps()?;
        let span = tracing::info_span!(
            "sample",
            chains = nc,
            spins = sampler.n_spins(),
            burn_in = self.burn_in,
            draws = self.draws,
            thin = self.thin
        );
        let _enter = span.enter();
        let mut obs: Vec<O> = (0..nc).map(make).collect();
        let Some(cb) = self.progress.as_mut() else {
            sampler.run_segment(state, whole, Some(&mut obs))?;
            return Ok(Run {
                observed: obs,
                draws: self.draws,
                stopped: false,
            });
        };
        let mut p = Progress {
            draws_done: 0,
            draws_total: self.draws,
            sweeps_done: 0,
        };
        sampler.sweep(state, self.burn_in)?;
        p.sweeps_done = self.burn_in;
        tracing::debug!(sweeps = p.sweeps_done, "burn-in done");
        let mut stopped = cb(p).is_break();
        while !stopped && p.draws_done < self.draws {
            let k = self.every.min(self.draws - p.draws_done);
            let seg = Segment {
                burn_in: 0,
                draws: k,
                thin: self.thin,
                first: p.draws_done,
            };
            sampler.run_segment(state, seg, Some(&mut obs))?;
            p.draws_done += k;
            p.sweeps_done += k * self.thin;
            tracing::debug!(draws = p.draws_done, of = self.draws, "draws recorded");
            stopped = cb(p).is_break() && p.draws_done < self.draws;
        }
        Ok(Run {
            observed: obs,
            draws: p.draws_done,
            stopped,
        })
    }
}

/// The inherent shortcuts of the [`ChainBatch`] samplers (`sweep` and `run`, so callers need not
/// import [`ChainSampler`] or build an [`Executor`]), written once; expands inside the sampler's
/// inherent `impl` block.
macro_rules! batch_shortcuts {
    () => {
        /// Advances every chain by `sweeps` sweeps.
        pub fn sweep(
            &mut self,
            batch: &mut $crate::ChainBatch,
            sweeps: usize,
        ) -> Result<(), $crate::SamplerError> {
            $crate::ChainSampler::sweep(self, batch, sweeps)
        }

        /// Discards `burn_in` sweeps, then records `sweeps` sweeps into one observer per chain
        /// built by `make(c)`; returns the observers merged in chain order (a wrapper over
        /// [`Executor`](crate::Executor)).
        pub fn run<O: $crate::Observer>(
            &mut self,
            batch: &mut $crate::ChainBatch,
            burn_in: usize,
            sweeps: usize,
            make: impl Fn(usize) -> O + Sync,
        ) -> Result<O, $crate::SamplerError> {
            Ok($crate::Executor::new(sweeps)
                .burn_in(burn_in)
                .run(self, batch, make)?
                .observed)
        }
    };
}
pub(crate) use batch_shortcuts;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_checks_and_observation_points() {
        let s = Segment {
            burn_in: 3,
            draws: 4,
            thin: 2,
            first: 10,
        };
        assert_eq!(s.total_sweeps().expect("fits"), 11);
        let seen: Vec<(usize, usize)> = (0..11)
            .filter_map(|t| s.observes_after(t).map(|d| (t, d)))
            .collect();
        assert_eq!(seen, vec![(4, 10), (6, 11), (8, 12), (10, 13)]);
        let bad = Segment { thin: 0, ..s };
        assert!(bad.total_sweeps().is_err());
        let huge = Segment {
            draws: usize::MAX,
            ..s
        };
        assert!(huge.total_sweeps().is_err());
    }
}
