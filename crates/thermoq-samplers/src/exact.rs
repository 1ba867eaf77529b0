//! Exact application of a kernel's [`Plan`] to distributions and functions on all `2^N` states.
//!
//! For a single-site update `P_i` with `p(s) = P(x_i → +1 | s)`:
//!
//! ```text
//! (μ P_i)(s↑) = μ(s↓) p(s↓) + μ(s↑) p(s↑),   (μ P_i)(s↓) = μ(s↓)(1 − p(s↓)) + μ(s↑)(1 − p(s↑))
//! (P_i f)(s)  = (1 − p(s)) f(s↓) + p(s) f(s↑)
//! ```
//!
//! where `s↑`/`s↓` are `s` with bit `i` set/cleared. Sequences compose, mixtures average and
//! repeats iterate. [`ExactKernel`] tabulates every `p_i(s)` once (`N · 2^N` numbers) so that each
//! site update is a single pass over memory; `thermoq-spectral` builds dense and matrix-free
//! operators on top of it.

use crate::{GibbsKernel, Kernel, KernelKind, Plan, SamplerError};
use rayon::prelude::*;
use thermoq_core::state::spins_from_index;
use thermoq_models::EnergyModel;

/// Largest model the exact tables are built for (`N · 2^N` doubles: 3.2 GB at N = 24).
pub const MAX_EXACT_SPINS: usize = 24;

/// A kernel's plan together with its tabulated site probabilities for one model.
#[derive(Clone, Debug)]
pub struct ExactKernel {
    n: usize,
    plan: Plan,
    /// `p_up[i][s]` = probability that updating spin `i` in state `s` sets it to `+1`.
    p_up: Vec<Vec<f64>>,
}

impl ExactKernel {
    /// The exact operator of the named kernel `kind` on `model`, with the colouring
    /// [`GibbsKernel::new`] picks when given none (DSATUR, for the block kernels).
    pub fn of_kind<M: EnergyModel + ?Sized>(
        kind: KernelKind,
        model: &M,
    ) -> Result<Self, SamplerError> {
        Self::new(&GibbsKernel::new(kind, model.graph(), None)?, model)
    }

    /// Tabulates `kernel` on `model` (at most [`MAX_EXACT_SPINS`] spins).
    pub fn new<K: Kernel<M>, M: EnergyModel + ?Sized>(
        kernel: &K,
        model: &M,
    ) -> Result<Self, SamplerError> {
        let n = model.n_spins();
        if n > MAX_EXACT_SPINS {
            return Err(SamplerError::invalid(
                "model",
                format!("{n} spins: exact operators support at most {MAX_EXACT_SPINS}"),
            ));
        }
        let ns = 1usize << n;
        let p_up = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut x = vec![0i8; n];
                (0..ns)
                    .map(|s| {
                        spins_from_index(s as u64, &mut x);
                        kernel.prob_up(model, &x, i)
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            n,
            plan: kernel.plan().clone(),
            p_up,
        })
    }

    /// Number of spins.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of states `2^N`.
    pub fn n_states(&self) -> usize {
        1 << self.n
    }

    /// The sweep plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The tabulated `p_i(s)`.
    pub fn p_up(&self, i: usize) -> &[f64] {
        &self.p_up[i]
    }

    /// `μ ← μ P` for one sweep.
    pub fn apply_left(&self, mu: &mut [f64]) {
        self.plan_left(&self.plan, mu);
    }

    /// `f ← P f` for one sweep.
    pub fn apply_right(&self, f: &mut [f64]) {
        self.plan_right(&self.plan, f);
    }

    /// `μ ← μ P_plan` for any plan over these spins (e.g. the inner step of `RS1`).
    pub fn plan_left(&self, plan: &Plan, mu: &mut [f64]) {
        match plan {
            Plan::Site(i) => self.site::<true>(*i as usize, mu),
            Plan::Block(b) => b.iter().for_each(|&i| self.site::<true>(i as usize, mu)),
            Plan::Seq(p) => p.iter().for_each(|q| self.plan_left(q, mu)),
            Plan::Repeat(p, k) => (0..*k).for_each(|_| self.plan_left(p, mu)),
            Plan::Mix(p) => self.mix(p, mu, |q, v| self.plan_left(q, v)),
        }
    }

    /// `f ← P_plan f` for any plan over these spins.
    pub fn plan_right(&self, plan: &Plan, f: &mut [f64]) {
        match plan {
            Plan::Site(i) => self.site::<false>(*i as usize, f),
            Plan::Block(b) => b.iter().for_each(|&i| self.site::<false>(i as usize, f)),
            Plan::Seq(p) => p.iter().rev().for_each(|q| self.plan_right(q, f)),
            Plan::Repeat(p, k) => (0..*k).for_each(|_| self.plan_right(p, f)),
            Plan::Mix(p) => self.mix(p, f, |q, v| self.plan_right(q, v)),
        }
    }

    fn mix(&self, parts: &[Plan], v: &mut [f64], apply: impl Fn(&Plan, &mut [f64])) {
        let mut acc = vec![0.0; v.len()];
        let mut tmp = vec![0.0; v.len()];
        for q in parts {
            tmp.copy_from_slice(v);
            apply(q, &mut tmp);
            acc.iter_mut().zip(&tmp).for_each(|(a, t)| *a += t);
        }
        let w = 1.0 / parts.len() as f64;
        v.iter_mut().zip(&acc).for_each(|(x, a)| *x = a * w);
    }

    /// Site `i`'s update on a vector: for each pair of states `s` (spin `i` down) and
    /// `s | bit` (up), the 2×2 block `M = [[1 − p0, p0], [1 − p1, p1]]` (row: the state before,
    /// column: after; `p0`, `p1` the up-probabilities from each) applied as `μ M` to a law
    /// (`LEFT`) or as `M f` to a function.
    fn site<const LEFT: bool>(&self, i: usize, v: &mut [f64]) {
        let p = &self.p_up[i];
        let bit = 1usize << i;
        for_pairs(v, bit, |lo, hi, s| {
            let (p0, p1) = (p[s], p[s | bit]);
            let (a, b) = (*lo, *hi);
            let m = [[1.0 - p0, p0], [1.0 - p1, p1]];
            if LEFT {
                *lo = a * m[0][0] + b * m[1][0];
                *hi = a * m[0][1] + b * m[1][1];
            } else {
                *lo = m[0][0] * a + m[0][1] * b;
                *hi = m[1][0] * a + m[1][1] * b;
            }
        });
    }
}

/// Calls `op(v[s], v[s | bit], s)` for every state `s` with `bit` clear, in parallel over large
/// chunks.
fn for_pairs(v: &mut [f64], bit: usize, op: impl Fn(&mut f64, &mut f64, usize) + Sync) {
    let chunk = 2 * bit;
    let run = |base: usize, c: &mut [f64]| {
        let (lo, hi) = c.split_at_mut(bit);
        for (k, (a, b)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
            op(a, b, base + k);
        }
    };
    if v.len() >= 1 << 16 {
        v.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, s)| run(c * chunk, s));
    } else {
        v.chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, s)| run(c * chunk, s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thermoq_models::{builders, exact::ExactLaw};

    /// Smoke check of the algebra; the full property suite lives in `tests/`.
    #[test]
    fn pi_is_stationary_and_rows_sum_to_one() {
        let m = builders::random_sparse(6, 0.6, 0.8, 0.3, 1.0, 11);
        let law = ExactLaw::new(&m).unwrap();
        for kind in KernelKind::ALL {
            let ek = ExactKernel::of_kind(kind, &m).unwrap();
            let mut mu = law.pi.clone();
            ek.apply_left(&mut mu);
            let err = mu
                .iter()
                .zip(&law.pi)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-13, "{kind}: |πP − π| = {err}");
            let mut one = vec![1.0; ek.n_states()];
            ek.apply_right(&mut one);
            assert!(
                one.iter().all(|v| (v - 1.0).abs() < 1e-13),
                "{kind}: rows do not sum to 1"
            );
        }
    }
}
