//! The p-bit array: many chains at once, one RNG stream per chain, spread over threads.
//!
//! [`ChainBatch`] stores `C` chains in structure-of-arrays form (chain-major `i8` spins).
//! [`BatchSampler`] advances every chain with a kernel; chain `c` always draws from stream `c` of
//! the run's seed (see `thermoq_core::rng`), so the samples are the same whatever the number of
//! threads. Each chain's whole run is one task: no shared mutable state, no false sharing.

use crate::Kernel;
use crate::observe::Observer;
use crate::run::{BatchChains, CheckedRun, per_chain, slots};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use thermoq_core::{Spin, rng::chain_rng};
use thermoq_models::EnergyModel;

/// `C` chains of `N` spins, chain-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBatch {
    n_chains: usize,
    n_spins: usize,
    spins: Vec<Spin>,
}

impl ChainBatch {
    /// All chains in the state `x0`.
    pub fn from_state(n_chains: usize, x0: &[Spin]) -> Self {
        let mut spins = Vec::with_capacity(n_chains * x0.len());
        for _ in 0..n_chains {
            spins.extend_from_slice(x0);
        }
        Self {
            n_chains,
            n_spins: x0.len(),
            spins,
        }
    }

    /// Chains drawn uniformly at random, chain `c` from its own stream `c` of `seed`.
    pub fn uniform(n_chains: usize, n_spins: usize, seed: u64) -> Self {
        let mut spins = vec![0i8; n_chains * n_spins];
        for (c, x) in spins.chunks_mut(n_spins.max(1)).enumerate() {
            let mut r = init_rng(seed, c as u64);
            fill_uniform(x, &mut r);
        }
        Self {
            n_chains,
            n_spins,
            spins,
        }
    }

    /// Number of chains.
    pub fn n_chains(&self) -> usize {
        self.n_chains
    }
    /// Spins per chain.
    pub fn n_spins(&self) -> usize {
        self.n_spins
    }
    /// Chain `c`'s state.
    pub fn chain(&self, c: usize) -> &[Spin] {
        &self.spins[c * self.n_spins..(c + 1) * self.n_spins]
    }
    /// Chain `c`'s state, mutably.
    pub fn chain_mut(&mut self, c: usize) -> &mut [Spin] {
        &mut self.spins[c * self.n_spins..(c + 1) * self.n_spins]
    }
    /// All spins, chain-major.
    pub fn as_slice(&self) -> &[Spin] {
        &self.spins
    }
    /// All spins, chain-major, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [Spin] {
        &mut self.spins
    }
}

/// Initial states use a stream family of their own, so that the sweep streams are untouched.
fn init_rng(seed: u64, chain: u64) -> ChaCha8Rng {
    chain_rng(seed ^ 0x5151_5151_5151_5151, chain)
}

fn fill_uniform<R: Rng + ?Sized>(x: &mut [Spin], r: &mut R) {
    let mut bits = 0u64;
    for (k, s) in x.iter_mut().enumerate() {
        if k % 64 == 0 {
            bits = r.next_u64();
        }
        *s = if (bits >> (k % 64)) & 1 == 1 { 1 } else { -1 };
    }
}

/// Runs a kernel on every chain of a batch, chain `c` on RNG stream `c` of `seed`.
pub struct BatchSampler<'a, M: EnergyModel + ?Sized, K: Kernel<M>> {
    model: &'a M,
    kernel: &'a K,
    rngs: Vec<ChaCha8Rng>,
}

impl<'a, M: EnergyModel + ?Sized, K: Kernel<M>> BatchSampler<'a, M, K> {
    /// A sampler for `n_chains` chains; the RNG streams continue across calls.
    pub fn new(model: &'a M, kernel: &'a K, n_chains: usize, seed: u64) -> Self {
        Self {
            model,
            kernel,
            rngs: (0..n_chains as u64).map(|c| chain_rng(seed, c)).collect(),
        }
    }

    crate::run::batch_shortcuts!();
}

/// Chain `c` runs on RNG stream `c` of the seed; each chain's segment is one rayon task.
impl<M: EnergyModel + ?Sized, K: Kernel<M>> BatchChains for BatchSampler<'_, M, K> {
    fn shape(&self) -> (usize, usize) {
        (self.rngs.len(), self.model.n_spins())
    }

    fn advance<O: Observer>(&mut self, run: CheckedRun<'_, O>) {
        let (model, kernel) = (self.model, self.kernel);
        let mut slots = slots(run.observers, self.rngs.len());
        per_chain(run.batch, &mut self.rngs, &mut slots, run.seg, |_, x, r| {
            kernel.sweep(model, x, r)
        });
    }
}
