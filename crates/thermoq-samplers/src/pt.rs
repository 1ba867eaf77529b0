//! Parallel tempering (replica exchange) over a temperature ladder, and ladder design.
//!
//! A [`Ladder`] holds α_1 = 1 > α_2 > … > α_R = α_top > 0; replica (rung) `r` samples
//! π_{α_r β}(x) ∝ exp(−α_r β E(x)) where β is the model's own inverse temperature (SCIENCE.md II.2).
//! Rung 0 is the *cold* (target) replica, rung R−1 the *hot* one.
//!
//! One PT sweep combines a local sweep `L` (any [`Kernel`], applied independently to every rung)
//! with swap moves on adjacent rungs `(k, k+1)`, accepted with probability
//!
//! ```text
//! a_k(x_k, x_{k+1}) = min(1, exp[(α_k − α_{k+1}) β (E(x_k) − E(x_{k+1}))])
//! ```
//!
//! ([`ParallelTempering::swap_acceptance`]). Two schemes ([`SwapScheme`]):
//!
//! * `PtSym` — `K = ½(L S + S L)`, `S` = one uniformly chosen adjacent pair; a fair coin per sweep
//!   picks the order. Reversible with respect to the product law ⊗_r π_{α_r β} whenever `L` is.
//! * `PtDeo` — deterministic even/odd: sweep `t` is `L` followed by all swaps of pairs `(k, k+1)`
//!   with `k ≡ t (mod 2)`. Non-reversible (the period `L S_even L S_odd` is not self-adjoint).
//!
//! Replica models are rebuilt from the model passed to [`ParallelTempering::new`] with
//! [`IsingModel::with_beta`], so a sampler constructed after `set_params` always runs the current
//! weights (the "stale weights" bug of SCIENCE.md §2.10 cannot happen by construction).
//!
//! Ladder design (SCIENCE.md II.8): the thermodynamic length Λ = ∫_{α_top}^1 √C(α) dα with
//! C(α) = β² Var_{π_{αβ}}(E) ([`thermodynamic_length`]), equal-length rung placement
//! ([`Ladder::equal_length`]), the equal-acceptance rung count [`r_star`] and the DEO round-trip
//! prediction [`deo_round_trip_rate`].
//!
//! Exact operators on the joint space of all replicas (`2^{N R}` states, joint index
//! `J = Σ_r s_r 2^{r N}`) are built by [`ParallelTempering::exact_local_operator`],
//! [`ParallelTempering::exact_swap_operator`] and [`ParallelTempering::exact_sweep_operator`] from
//! the *same* acceptance function and kernel plans the sampler runs.

use crate::kernel::uniform53;
use crate::observe::Observer;
use crate::run::{ChainSampler, Executor, Segment, check_segment, slots};
use crate::{Kernel, Plan, SamplerError};
use faer::Mat;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use thermoq_core::Spin;
use thermoq_core::rng::chain_rng;
use thermoq_models::{EnergyModel, IsingModel};

/// Per-rung thermodynamic length giving the 0.234 swap acceptance under the Gaussian energy
/// overlap model: erfc(δ*/2) ≈ 0.234 (SCIENCE.md II.8).
pub const DELTA_STAR: f64 = 1.683;

/// Largest joint state space (`N · R` bits) the dense exact operators are built for.
pub const MAX_EXACT_JOINT_BITS: usize = 12;

fn invalid(field: &str, message: String) -> SamplerError {
    SamplerError::Invalid {
        field: field.into(),
        message,
    }
}

/// A validated temperature ladder α_1 = 1 > α_2 > … > α_R > 0 (rung 0 is the target).
#[derive(Clone, Debug, PartialEq)]
pub struct Ladder {
    alphas: Vec<f64>,
}

impl Ladder {
    /// Validates an explicit ladder: at least one rung, all finite, first exactly 1 (within
    /// 1e-12, then set to 1), strictly decreasing, last > 0.
    pub fn new(mut alphas: Vec<f64>) -> Result<Self, SamplerError> {
        if alphas.is_empty() {
            return Err(invalid(
                "ladder",
                "is empty, expected at least one rung".into(),
            ));
        }
        if let Some(k) = alphas.iter().position(|a| !a.is_finite()) {
            return Err(invalid(
                &format!("ladder[{k}]"),
                format!("is {}, expected a finite α", alphas[k]),
            ));
        }
        if (alphas[0] - 1.0).abs() > 1e-12 {
            return Err(invalid(
                "ladder[0]",
                format!("is {}, expected α_1 = 1 (the target rung)", alphas[0]),
            ));
        }
        alphas[0] = 1.0;
        for k in 1..alphas.len() {
            if alphas[k] >= alphas[k - 1] {
                return Err(invalid(
                    &format!("ladder[{k}]"),
                    format!(
                        "is {}, expected strictly below ladder[{}] = {}",
                        alphas[k],
                        k - 1,
                        alphas[k - 1]
                    ),
                ));
            }
        }
        let last = alphas[alphas.len() - 1];
        if last <= 0.0 {
            return Err(invalid(
                "alpha_top",
                format!("is {last}, expected α_top > 0"),
            ));
        }
        Ok(Self { alphas })
    }

    fn check_span(rungs: usize, alpha_top: f64) -> Result<(), SamplerError> {
        if rungs < 2 {
            return Err(invalid(
                "rungs",
                format!("is {rungs}, expected at least 2 to span [α_top, 1]"),
            ));
        }
        if !(alpha_top.is_finite() && alpha_top > 0.0 && alpha_top < 1.0) {
            return Err(invalid(
                "alpha_top",
                format!("is {alpha_top}, expected 0 < α_top < 1"),
            ));
        }
        Ok(())
    }

    /// Equal steps Δα = (1 − α_top)/(R − 1): α_r = 1 − r Δα (rungs `r = 0..R`).
    pub fn uniform(rungs: usize, alpha_top: f64) -> Result<Self, SamplerError> {
        Self::check_span(rungs, alpha_top)?;
        let d = (1.0 - alpha_top) / (rungs - 1) as f64;
        let mut a: Vec<f64> = (0..rungs).map(|r| 1.0 - r as f64 * d).collect();
        a[rungs - 1] = alpha_top;
        Self::new(a)
    }

    /// Geometric spacing: α_r = α_top^{r/(R−1)} (constant ratio between neighbours).
    pub fn geometric(rungs: usize, alpha_top: f64) -> Result<Self, SamplerError> {
        Self::check_span(rungs, alpha_top)?;
        let mut a: Vec<f64> = (0..rungs)
            .map(|r| alpha_top.powf(r as f64 / (rungs - 1) as f64))
            .collect();
        a[rungs - 1] = alpha_top;
        Self::new(a)
    }

    /// Rungs at equal increments of thermodynamic length, from measured `C(α)` at grid points.
    ///
    /// `points` are α values (any order, distinct, in `(0, 1]`, the largest exactly 1) and `c`
    /// the specific heat C(α) = β² Var_{π_{αβ}}(E) at each (finite, ≥ 0). The cumulative length
    /// Λ(α) = ∫_α^1 √C is tabulated by the trapezoid rule on the grid and inverted piecewise
    /// linearly; rung `r` sits where Λ(α_r) = r Λ_total/(R − 1), so α_R = min(points).
    pub fn equal_length(points: &[f64], c: &[f64], rungs: usize) -> Result<Self, SamplerError> {
        let prof = LengthProfile::new(points, c)?;
        if prof.alphas[0] != 1.0 {
            return Err(invalid(
                "points",
                format!(
                    "largest α is {}, expected the grid to reach the target α = 1",
                    prof.alphas[0]
                ),
            ));
        }
        let alpha_top = *prof.alphas.last().unwrap_or(&1.0);
        Self::check_span(rungs, alpha_top)?;
        let total = prof.total();
        if total <= 0.0 {
            return Err(invalid(
                "c",
                "gives zero thermodynamic length, expected some C(α) > 0".into(),
            ));
        }
        let mut a = Vec::with_capacity(rungs);
        a.push(1.0);
        for r in 1..rungs - 1 {
            a.push(prof.alpha_at(total * r as f64 / (rungs - 1) as f64));
        }
        a.push(alpha_top);
        Self::new(a)
    }

    /// The α values, rung 0 (α = 1) first.
    pub fn alphas(&self) -> &[f64] {
        &self.alphas
    }

    /// Number of rungs R.
    pub fn len(&self) -> usize {
        self.alphas.len()
    }

    /// Always false: a validated ladder has at least one rung.
    pub fn is_empty(&self) -> bool {
        self.alphas.is_empty()
    }

    /// The hottest α (α_R).
    pub fn alpha_top(&self) -> f64 {
        self.alphas[self.alphas.len() - 1]
    }
}

/// Cumulative thermodynamic length on a grid, α descending from the largest point.
struct LengthProfile {
    alphas: Vec<f64>,
    /// `cum[k]` = trapezoid ∫_{alphas[k]}^{alphas[0]} √C.
    cum: Vec<f64>,
}

impl LengthProfile {
    fn new(points: &[f64], c: &[f64]) -> Result<Self, SamplerError> {
        if points.len() != c.len() {
            return Err(invalid(
                "c",
                format!(
                    "has {} values, expected one per α point ({})",
                    c.len(),
                    points.len()
                ),
            ));
        }
        if points.len() < 2 {
            return Err(invalid(
                "points",
                format!("has {} α values, expected at least 2", points.len()),
            ));
        }
        for (k, (&a, &ck)) in points.iter().zip(c).enumerate() {
            if !(a.is_finite() && a > 0.0 && a <= 1.0) {
                return Err(invalid(
                    &format!("points[{k}]"),
                    format!("is {a}, expected 0 < α ≤ 1"),
                ));
            }
            if !(ck.is_finite() && ck >= 0.0) {
                return Err(invalid(
                    &format!("c[{k}]"),
                    format!("is {ck}, expected finite C ≥ 0"),
                ));
            }
        }
        let mut pairs: Vec<(f64, f64)> = points.iter().copied().zip(c.iter().copied()).collect();
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        for w in pairs.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(invalid(
                    "points",
                    format!("α = {} appears twice, expected distinct points", w[0].0),
                ));
            }
        }
        let alphas: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let mut cum = vec![0.0; pairs.len()];
        for k in 1..pairs.len() {
            let (a0, c0) = pairs[k - 1];
            let (a1, c1) = pairs[k];
            cum[k] = cum[k - 1] + 0.5 * (c0.sqrt() + c1.sqrt()) * (a0 - a1);
        }
        Ok(Self { alphas, cum })
    }

    fn total(&self) -> f64 {
        self.cum[self.cum.len() - 1]
    }

    /// The α where the (piecewise-linear) cumulative length first reaches `target`.
    fn alpha_at(&self, target: f64) -> f64 {
        for k in 1..self.cum.len() {
            if self.cum[k] >= target {
                let (l0, l1) = (self.cum[k - 1], self.cum[k]);
                let t = if l1 > l0 {
                    (target - l0) / (l1 - l0)
                } else {
                    0.0
                };
                return self.alphas[k - 1] + t * (self.alphas[k] - self.alphas[k - 1]);
            }
        }
        self.alphas[self.alphas.len() - 1]
    }
}

/// Thermodynamic length Λ = ∫_{min α}^{max α} √C(α) dα by the trapezoid rule on the given grid
/// (`points` in any order, distinct, in `(0, 1]`; `c` = C(α) = β² Var_{π_{αβ}}(E) ≥ 0).
pub fn thermodynamic_length(points: &[f64], c: &[f64]) -> Result<f64, SamplerError> {
    Ok(LengthProfile::new(points, c)?.total())
}

/// Equal-acceptance rung count R* = 1 + round(Λ/δ*) with δ* = [`DELTA_STAR`] (SCIENCE.md II.8).
pub fn r_star(lambda: f64) -> Result<usize, SamplerError> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(invalid(
            "lambda",
            format!("is {lambda}, expected finite Λ ≥ 0"),
        ));
    }
    Ok(1 + (lambda / DELTA_STAR).round() as usize)
}

/// Predicted DEO round-trip rate 1/(2 + 2Λ_rej), Λ_rej = Σ_edges rejection rate (Syed et al. 2019).
///
/// The unit is round trips per PT-DEO sweep (one swap round) counted over all replica labels of a
/// chain, i.e. comparable to `PtStats::round_trips / PtStats::sweeps`. It is the large-R limit under
/// the paper's efficient-local-exploration assumption (energies refreshed between swap rounds), so
/// it is a planning figure, not an identity a finite ladder must meet.
pub fn deo_round_trip_rate(rejection_rates: &[f64]) -> Result<f64, SamplerError> {
    let mut lam = 0.0;
    for (k, &r) in rejection_rates.iter().enumerate() {
        if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
            return Err(invalid(
                &format!("rejection_rates[{k}]"),
                format!("is {r}, expected a rate in [0, 1]"),
            ));
        }
        lam += r;
    }
    Ok(1.0 / (2.0 + 2.0 * lam))
}

/// How swaps are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapScheme {
    /// Reversible `½(L S + S L)`, `S` = one uniformly random adjacent pair.
    PtSym,
    /// Non-reversible deterministic even/odd alternation of swap sets after each local sweep.
    PtDeo,
}

thermoq_core::enum_names!(SwapScheme {
    PtSym => "pt-sym",
    PtDeo => "pt-deo",
});

/// The state of one PT chain: a configuration per rung plus the replica labels' bookkeeping.
#[derive(Clone, Debug)]
pub struct PtChain {
    /// `x[r]` is the configuration currently at rung `r`.
    x: Vec<Vec<Spin>>,
    /// `energy[r]` = E(x[r]) (β not included).
    energy: Vec<f64>,
    /// `label[r]` = which replica label (its starting rung) currently sits at rung `r`.
    label: Vec<usize>,
    /// Per label: 0 = not yet seen at the cold end, 1 = last extreme was cold, 2 = reached the hot
    /// end after the cold one (a return to cold completes a round trip).
    phase: Vec<u8>,
    /// Number of PT sweeps done (drives the DEO parity).
    step: u64,
}

impl PtChain {
    /// The configuration at each rung, rung 0 (α = 1) first.
    pub fn states(&self) -> &[Vec<Spin>] {
        &self.x
    }

    /// E(x) at each rung (β not included).
    pub fn energies(&self) -> &[f64] {
        &self.energy
    }

    /// The replica label (starting rung) currently at each rung.
    pub fn labels(&self) -> &[usize] {
        &self.label
    }

    /// PT sweeps done so far (PT-DEO uses its parity).
    pub fn steps(&self) -> u64 {
        self.step
    }
}

/// Per-chain PT statistics, accumulated over recorded sweeps only.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PtStats {
    /// Recorded PT sweeps.
    pub sweeps: u64,
    /// Swap attempts per edge `(k, k+1)`.
    pub swap_attempts: Vec<u64>,
    /// Accepted swaps per edge.
    pub swap_accepts: Vec<u64>,
    /// Sum of acceptance probabilities per edge (a lower-variance acceptance estimate).
    pub swap_prob_sum: Vec<f64>,
    /// Completed round trips cold → hot → cold, over all labels.
    pub round_trips: u64,
    /// Σ E per rung.
    pub energy_sum: Vec<f64>,
    /// Σ E² per rung.
    pub energy_sumsq: Vec<f64>,
}

impl PtStats {
    /// Empty statistics for `rungs` rungs.
    pub fn new(rungs: usize) -> Self {
        let e = rungs.saturating_sub(1);
        Self {
            sweeps: 0,
            swap_attempts: vec![0; e],
            swap_accepts: vec![0; e],
            swap_prob_sum: vec![0.0; e],
            round_trips: 0,
            energy_sum: vec![0.0; rungs],
            energy_sumsq: vec![0.0; rungs],
        }
    }

    /// Empirical acceptance accepts/attempts on edge `k` (`None` without attempts).
    pub fn acceptance(&self, k: usize) -> Option<f64> {
        let n = *self.swap_attempts.get(k)?;
        (n > 0).then(|| self.swap_accepts[k] as f64 / n as f64)
    }

    /// Mean acceptance probability on edge `k` (`None` without attempts).
    pub fn mean_acceptance_prob(&self, k: usize) -> Option<f64> {
        let n = *self.swap_attempts.get(k)?;
        (n > 0).then(|| self.swap_prob_sum[k] / n as f64)
    }

    /// Λ_rej = Σ_k (1 − mean acceptance probability of edge k); `None` if an edge was never tried.
    pub fn lambda_rej(&self) -> Option<f64> {
        (0..self.swap_attempts.len())
            .map(|k| self.mean_acceptance_prob(k).map(|a| 1.0 - a))
            .sum()
    }

    /// Mean energy at rung `r` over recorded sweeps.
    pub fn energy_mean(&self, r: usize) -> Option<f64> {
        (self.sweeps > 0 && r < self.energy_sum.len())
            .then(|| self.energy_sum[r] / self.sweeps as f64)
    }

    /// Energy variance at rung `r` over recorded sweeps (population form).
    pub fn energy_var(&self, r: usize) -> Option<f64> {
        let m = self.energy_mean(r)?;
        Some((self.energy_sumsq[r] / self.sweeps as f64 - m * m).max(0.0))
    }

    /// Adds another chain's statistics (same ladder).
    pub fn merge(&mut self, o: &PtStats) {
        self.sweeps += o.sweeps;
        self.round_trips += o.round_trips;
        let add_u = |a: &mut Vec<u64>, b: &Vec<u64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        let add_f = |a: &mut Vec<f64>, b: &Vec<f64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add_u(&mut self.swap_attempts, &o.swap_attempts);
        add_u(&mut self.swap_accepts, &o.swap_accepts);
        add_f(&mut self.swap_prob_sum, &o.swap_prob_sum);
        add_f(&mut self.energy_sum, &o.energy_sum);
        add_f(&mut self.energy_sumsq, &o.energy_sumsq);
    }
}

/// The result of [`ParallelTempering::run`]: per-chain statistics, per-chain observers of the
/// cold (α = 1) rung and the final chain states, all in chain order.
#[derive(Clone, Debug)]
pub struct PtRun<O> {
    /// Statistics of each chain.
    pub stats: Vec<PtStats>,
    /// Observer of each chain's cold rung.
    pub observers: Vec<O>,
    /// Final state of each chain.
    pub chains: Vec<PtChain>,
}

impl<O> PtRun<O> {
    /// All chains' statistics summed.
    pub fn pooled(&self) -> PtStats {
        let mut p = PtStats::new(self.chains.first().map_or(0, |c| c.x.len()));
        for s in &self.stats {
            p.merge(s);
        }
        p
    }
}

/// `n` independent chains of a [`ParallelTempering`] sampler with their random streams and
/// statistics: the [`ChainSampler`] form of parallel tempering (built by
/// [`ParallelTempering::chains`]). The observed state of chain `c` is its cold (α = 1) rung;
/// statistics ([`PtStats`]) accumulate over every sweep after a segment's burn-in, thinned or not.
#[derive(Clone, Debug)]
pub struct PtChains<'p, K> {
    pt: &'p ParallelTempering<K>,
    rngs: Vec<ChaCha8Rng>,
    /// Each chain's state.
    pub chains: Vec<PtChain>,
    /// Each chain's statistics over recorded sweeps.
    pub stats: Vec<PtStats>,
}

impl<K> PtChains<'_, K> {
    /// All chains' statistics summed.
    pub fn pooled(&self) -> PtStats {
        let mut p = PtStats::new(self.pt.ladder.len());
        for s in &self.stats {
            p.merge(s);
        }
        p
    }
}

impl<K: Kernel<IsingModel>> ChainSampler for PtChains<'_, K> {
    type State = ();

    fn n_chains(&self) -> usize {
        self.chains.len()
    }

    fn n_spins(&self) -> usize {
        self.pt.n()
    }

    fn run_segment<O: Observer>(
        &mut self,
        _: &mut (),
        seg: Segment,
        observers: Option<&mut [O]>,
    ) -> Result<(), SamplerError> {
        let nc = self.chains.len();
        check_segment(&seg, observers.as_deref(), nc)?;
        let pt = self.pt;
        let mut slots = slots(observers, nc);
        self.chains
            .par_iter_mut()
            .zip(self.rngs.par_iter_mut())
            .zip(self.stats.par_iter_mut())
            .zip(slots.par_iter_mut())
            .for_each(|(((chain, rng), st), o)| {
                for _ in 0..seg.burn_in {
                    pt.step_unchecked(chain, None, rng);
                }
                for d in 0..seg.draws {
                    for _ in 0..seg.thin {
                        pt.step_unchecked(chain, Some(st), rng);
                    }
                    if let Some(o) = o.as_deref_mut() {
                        o.observe(seg.first + d, &chain.x[0]);
                    }
                }
            });
        Ok(())
    }

    fn for_each_chain_state(&self, _: &(), f: &mut dyn FnMut(usize, &[Spin])) {
        for (c, ch) in self.chains.iter().enumerate() {
            f(c, &ch.x[0]);
        }
    }
}

fn max_site(plan: &Plan) -> Option<u32> {
    match plan {
        Plan::Site(i) => Some(*i),
        Plan::Block(b) => b.iter().copied().max(),
        Plan::Seq(p) | Plan::Mix(p) => p.iter().filter_map(max_site).max(),
        Plan::Repeat(p, _) => max_site(p),
    }
}

/// A parallel-tempering sampler over an [`IsingModel`]: ladder, replica models, local kernel and
/// swap scheme.
#[derive(Clone, Debug)]
pub struct ParallelTempering<K> {
    ladder: Ladder,
    beta: f64,
    replicas: Vec<IsingModel>,
    kernel: K,
    scheme: SwapScheme,
}

impl<K: Kernel<IsingModel>> ParallelTempering<K> {
    /// Builds the replicas `model.with_beta(α_r β)` from the current `model` and checks that the
    /// kernel's plan only touches the model's spins.
    pub fn new(
        model: &IsingModel,
        ladder: Ladder,
        kernel: K,
        scheme: SwapScheme,
    ) -> Result<Self, SamplerError> {
        let beta = model.beta();
        if !(beta.is_finite() && beta > 0.0) {
            return Err(invalid("beta", format!("is {beta}, expected finite β > 0")));
        }
        if let Some(m) = max_site(kernel.plan())
            && m as usize >= model.n_spins()
        {
            return Err(invalid(
                "kernel",
                format!(
                    "updates spin {m}, expected a kernel for this model's {} spins",
                    model.n_spins()
                ),
            ));
        }
        let replicas = ladder
            .alphas()
            .iter()
            .map(|&a| model.with_beta(a * beta))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            ladder,
            beta,
            replicas,
            kernel,
            scheme,
        })
    }

    /// The ladder.
    pub fn ladder(&self) -> &Ladder {
        &self.ladder
    }

    /// The target inverse temperature β (rung 0).
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The replica models, rung 0 first (replica r at α_r β).
    pub fn replicas(&self) -> &[IsingModel] {
        &self.replicas
    }

    /// The local kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Measured specific heat per rung, C(α_r) = β² Var(E) at rung `r` from `stats` (the input of
    /// [`thermodynamic_length`] and [`Ladder::equal_length`]); `None` before any recorded sweep.
    pub fn specific_heat(&self, stats: &PtStats) -> Option<Vec<f64>> {
        (0..self.ladder.len())
            .map(|r| stats.energy_var(r).map(|v| self.beta * self.beta * v))
            .collect()
    }

    /// The swap scheme.
    pub fn scheme(&self) -> SwapScheme {
        self.scheme
    }

    /// Whether the PT sweep is reversible w.r.t. the product law: `PtSym` with a reversible kernel.
    pub fn is_reversible(&self) -> bool {
        self.scheme == SwapScheme::PtSym && self.kernel.is_reversible()
    }

    fn n(&self) -> usize {
        self.replicas[0].n_spins()
    }

    /// Acceptance probability of swapping rungs `k` and `k+1` holding energies `e_k`, `e_k1`:
    /// min(1, exp[(α_k − α_{k+1}) β (e_k − e_k1)]). Errors unless `k < R − 1` and both energies
    /// are finite.
    pub fn swap_acceptance(&self, k: usize, e_k: f64, e_k1: f64) -> Result<f64, SamplerError> {
        self.check_edge(k)?;
        if !(e_k.is_finite() && e_k1.is_finite()) {
            return Err(invalid(
                "energy",
                format!("is ({e_k}, {e_k1}), expected finite energies"),
            ));
        }
        Ok(self.accept_prob(k, e_k, e_k1))
    }

    fn accept_prob(&self, k: usize, e_k: f64, e_k1: f64) -> f64 {
        let a = self.ladder.alphas();
        let log_r = (a[k] - a[k + 1]) * self.beta * (e_k - e_k1);
        if log_r >= 0.0 { 1.0 } else { log_r.exp() }
    }

    fn check_edge(&self, k: usize) -> Result<(), SamplerError> {
        if k + 1 >= self.ladder.len() {
            return Err(invalid(
                "edge",
                format!("is {k}, expected below R − 1 = {}", self.ladder.len() - 1),
            ));
        }
        Ok(())
    }

    /// Checks that `chain` (and `stats`, if given) were made for this sampler's shape.
    fn check_chain(&self, chain: &PtChain, stats: Option<&PtStats>) -> Result<(), SamplerError> {
        let r = self.ladder.len();
        let ok = chain.x.len() == r
            && chain.x.iter().all(|x| x.len() == self.n())
            && chain.energy.len() == r
            && chain.label.len() == r
            && chain.phase.len() == r;
        if !ok {
            return Err(invalid(
                "chain",
                format!("does not fit {r} rungs × {} spins", self.n()),
            ));
        }
        if let Some(s) = stats
            && (s.swap_attempts.len() != r - 1 || s.energy_sum.len() != r)
        {
            return Err(invalid(
                "stats",
                format!("were made for another ladder, expected {r} rungs"),
            ));
        }
        Ok(())
    }

    /// A chain from explicit configurations, one per rung (each of length N, entries ±1).
    pub fn chain_from_states(&self, x: Vec<Vec<Spin>>) -> Result<PtChain, SamplerError> {
        let r = self.ladder.len();
        if x.len() != r {
            return Err(invalid(
                "states",
                format!("has {} rungs, expected {r}", x.len()),
            ));
        }
        for (k, xs) in x.iter().enumerate() {
            if xs.len() != self.n() || thermoq_core::first_non_spin(xs).is_some() {
                return Err(invalid(
                    &format!("states[{k}]"),
                    format!("expected {} spins of value ±1", self.n()),
                ));
            }
        }
        let energy = x.iter().map(|xs| self.replicas[0].energy(xs)).collect();
        let mut phase = vec![0u8; r];
        phase[0] = 1;
        Ok(PtChain {
            x,
            energy,
            label: (0..r).collect(),
            phase,
            step: 0,
        })
    }

    /// A chain with every rung drawn uniformly from `{±1}^N`.
    pub fn uniform_chain<R: Rng + ?Sized>(&self, rng: &mut R) -> PtChain {
        let (n, r) = (self.n(), self.ladder.len());
        let x = (0..r)
            .map(|_| {
                (0..n)
                    .map(|_| if rng.next_u32() & 1 == 1 { 1 } else { -1 })
                    .collect()
            })
            .collect();
        // Cannot fail: the shapes are built right here.
        self.chain_from_states(x).unwrap_or_else(|_| unreachable!())
    }

    /// Local sweep `L`: one kernel sweep on every rung, energies refreshed.
    pub fn local_sweep<R: Rng + ?Sized>(
        &self,
        chain: &mut PtChain,
        rng: &mut R,
    ) -> Result<(), SamplerError> {
        self.check_chain(chain, None)?;
        self.local_sweep_unchecked(chain, rng);
        Ok(())
    }

    fn local_sweep_unchecked<R: Rng + ?Sized>(&self, chain: &mut PtChain, rng: &mut R) {
        for (r, m) in self.replicas.iter().enumerate() {
            self.kernel.sweep(m, &mut chain.x[r], rng);
            chain.energy[r] = self.replicas[0].energy(&chain.x[r]);
        }
    }

    /// Proposes swapping rungs `k` and `k+1`; returns whether it was accepted. Statistics are
    /// recorded when `stats` is given; label bookkeeping always runs.
    pub fn swap_pair<R: Rng + ?Sized>(
        &self,
        chain: &mut PtChain,
        k: usize,
        stats: Option<&mut PtStats>,
        rng: &mut R,
    ) -> Result<bool, SamplerError> {
        self.check_edge(k)?;
        self.check_chain(chain, stats.as_deref())?;
        Ok(self.swap_pair_unchecked(chain, k, stats, rng))
    }

    fn swap_pair_unchecked<R: Rng + ?Sized>(
        &self,
        chain: &mut PtChain,
        k: usize,
        stats: Option<&mut PtStats>,
        rng: &mut R,
    ) -> bool {
        let a = self.accept_prob(k, chain.energy[k], chain.energy[k + 1]);
        let accept = a >= 1.0 || uniform53(rng) < a;
        let mut trips = 0u64;
        if accept {
            chain.x.swap(k, k + 1);
            chain.energy.swap(k, k + 1);
            chain.label.swap(k, k + 1);
            let top = self.ladder.len() - 1;
            for r in [k, k + 1] {
                let l = chain.label[r];
                if r == 0 {
                    if chain.phase[l] == 2 {
                        trips += 1;
                    }
                    chain.phase[l] = 1;
                } else if r == top && chain.phase[l] == 1 {
                    chain.phase[l] = 2;
                }
            }
        }
        if let Some(s) = stats {
            s.swap_attempts[k] += 1;
            s.swap_prob_sum[k] += a;
            s.swap_accepts[k] += u64::from(accept);
            s.round_trips += trips;
        }
        accept
    }

    /// One PT sweep (see [`SwapScheme`]), recording into `stats` when given.
    pub fn step<R: Rng + ?Sized>(
        &self,
        chain: &mut PtChain,
        stats: Option<&mut PtStats>,
        rng: &mut R,
    ) -> Result<(), SamplerError> {
        self.check_chain(chain, stats.as_deref())?;
        self.step_unchecked(chain, stats, rng);
        Ok(())
    }

    fn step_unchecked<R: Rng + ?Sized>(
        &self,
        chain: &mut PtChain,
        mut stats: Option<&mut PtStats>,
        rng: &mut R,
    ) {
        let r = self.ladder.len();
        let edges = r - 1;
        match self.scheme {
            SwapScheme::PtSym => {
                let local_first = rng.next_u32() & 1 == 1;
                if local_first {
                    self.local_sweep_unchecked(chain, rng);
                }
                if edges > 0 {
                    let k = crate::kernel::pick(rng, edges);
                    self.swap_pair_unchecked(chain, k, stats.as_deref_mut(), rng);
                }
                if !local_first {
                    self.local_sweep_unchecked(chain, rng);
                }
            }
            SwapScheme::PtDeo => {
                self.local_sweep_unchecked(chain, rng);
                let parity = (chain.step % 2) as usize;
                for k in (parity..edges).step_by(2) {
                    self.swap_pair_unchecked(chain, k, stats.as_deref_mut(), rng);
                }
            }
        }
        chain.step += 1;
        if let Some(s) = stats {
            s.sweeps += 1;
            for (k, &e) in chain.energy.iter().enumerate() {
                s.energy_sum[k] += e;
                s.energy_sumsq[k] += e * e;
            }
        }
    }

    /// `n_chains` independent PT chains ready to run through the [`ChainSampler`] trait
    /// (chain `c` on stream `c` of `seed`, started uniformly at random from that stream).
    pub fn chains(&self, n_chains: usize, seed: u64) -> Result<PtChains<'_, K>, SamplerError> {
        if n_chains == 0 {
            return Err(invalid("chains", "is 0, expected at least 1".into()));
        }
        let mut rngs: Vec<ChaCha8Rng> = (0..n_chains as u64).map(|c| chain_rng(seed, c)).collect();
        let chains = rngs.iter_mut().map(|r| self.uniform_chain(r)).collect();
        Ok(PtChains {
            pt: self,
            rngs,
            chains,
            stats: vec![PtStats::new(self.ladder.len()); n_chains],
        })
    }

    /// Runs `n_chains` independent chains (chain `c` on stream `c` of `seed`, rayon over chains,
    /// deterministic): uniform start, `burn_in` unrecorded sweeps, then `sweeps` recorded sweeps,
    /// each followed by `observer.observe(t, cold state)`. A wrapper over [`PtChains`] and
    /// [`Executor`].
    pub fn run<O: Observer>(
        &self,
        n_chains: usize,
        seed: u64,
        burn_in: usize,
        sweeps: usize,
        make: impl Fn(usize) -> O + Sync,
    ) -> Result<PtRun<O>, SamplerError> {
        let mut d = self.chains(n_chains, seed)?;
        let observers = Executor::new(sweeps)
            .burn_in(burn_in)
            .run_per_chain(&mut d, &mut (), make)?
            .observed;
        Ok(PtRun {
            stats: d.stats,
            observers,
            chains: d.chains,
        })
    }

    fn check_exact(&self) -> Result<(usize, usize), SamplerError> {
        let (n, r) = (self.n(), self.ladder.len());
        if n * r > MAX_EXACT_JOINT_BITS {
            return Err(invalid(
                "model",
                format!(
                    "N·R = {}·{} = {} joint bits, expected at most {MAX_EXACT_JOINT_BITS}",
                    n,
                    r,
                    n * r
                ),
            ));
        }
        Ok((n, r))
    }

    /// The product law ⊗_r π_{α_r β} on joint states `J = Σ_r s_r 2^{rN}`.
    pub fn exact_product_law(&self) -> Result<Vec<f64>, SamplerError> {
        let (n, r) = self.check_exact()?;
        let laws = self
            .replicas
            .iter()
            .map(thermoq_models::exact::ExactLaw::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mask = (1usize << n) - 1;
        Ok((0..1usize << (n * r))
            .map(|j| (0..r).map(|k| laws[k].pi[(j >> (k * n)) & mask]).product())
            .collect())
    }

    /// Dense joint local operator `L = ⊗_r P_r` (row = from-state), `P_r` the kernel's exact sweep
    /// on replica `r`.
    pub fn exact_local_operator(&self) -> Result<Mat<f64>, SamplerError> {
        let (n, r) = self.check_exact()?;
        let ns = 1usize << n;
        let mut p = Vec::with_capacity(r);
        for m in &self.replicas {
            let mut rows = Vec::with_capacity(ns * ns);
            for s in 0..ns as u64 {
                rows.extend(self.kernel.transition_row(m, s)?);
            }
            p.push(rows);
        }
        let mask = ns - 1;
        let dim = 1usize << (n * r);
        Ok(Mat::from_fn(dim, dim, |i, j| {
            (0..r)
                .map(|k| p[k][((i >> (k * n)) & mask) * ns + ((j >> (k * n)) & mask)])
                .product()
        }))
    }

    /// Dense joint operator of the swap move on edge `(k, k+1)`.
    pub fn exact_swap_operator(&self, k: usize) -> Result<Mat<f64>, SamplerError> {
        let (n, r) = self.check_exact()?;
        if k + 1 >= r {
            return Err(invalid("edge", format!("is {k}, expected below {}", r - 1)));
        }
        let mask = (1usize << n) - 1;
        let dim = 1usize << (n * r);
        let mut x = vec![0i8; n];
        let mut energy_of = |s: usize| {
            thermoq_core::state::spins_from_index(s as u64, &mut x);
            self.replicas[0].energy(&x)
        };
        let mut m = Mat::<f64>::zeros(dim, dim);
        for j in 0..dim {
            let (sk, sk1) = ((j >> (k * n)) & mask, (j >> ((k + 1) * n)) & mask);
            let a = self.accept_prob(k, energy_of(sk), energy_of(sk1));
            let cleared = j & !(mask << (k * n)) & !(mask << ((k + 1) * n));
            let jj = cleared | (sk1 << (k * n)) | (sk << ((k + 1) * n));
            m[(j, jj)] += a;
            m[(j, j)] += 1.0 - a;
        }
        Ok(m)
    }

    /// Dense joint operator of the scheme: `PtSym` → one sweep ½(L S + S L) with S the mean of
    /// the edge swaps; `PtDeo` → one period of two sweeps, L S_even L S_odd (S_even/S_odd the
    /// products of the even/odd edge swaps). Row = from-state (μ ← μK).
    pub fn exact_sweep_operator(&self) -> Result<Mat<f64>, SamplerError> {
        let (n, r) = self.check_exact()?;
        let dim = 1usize << (n * r);
        let l = self.exact_local_operator()?;
        let swaps = (0..r.saturating_sub(1))
            .map(|k| self.exact_swap_operator(k))
            .collect::<Result<Vec<_>, _>>()?;
        let ident = Mat::<f64>::identity(dim, dim);
        match self.scheme {
            SwapScheme::PtSym => {
                let s = if swaps.is_empty() {
                    ident
                } else {
                    let mut s = Mat::<f64>::zeros(dim, dim);
                    for sk in &swaps {
                        s += sk;
                    }
                    s * (1.0 / swaps.len() as f64)
                };
                Ok((&l * &s + &s * &l) * 0.5)
            }
            SwapScheme::PtDeo => {
                let mut se = ident.clone();
                let mut so = ident;
                for (k, sk) in swaps.iter().enumerate() {
                    if k % 2 == 0 {
                        se = &se * sk;
                    } else {
                        so = &so * sk;
                    }
                }
                Ok(&(&(&l * &se) * &l) * &so)
            }
        }
    }
}

/// Salt of the swap streams of [`FastPt`] (kept apart from the sampler's per-slot streams).
const FAST_PT_SWAP_SALT: u64 = 0x5057_4150_5054_0001;

/// [`FastPt`] recomputes every slot's energy exactly (in `f64`, from the model) after each sweep
/// whose count is a multiple of this; in between, energies follow the local sweep's `f32` changes.
pub const FAST_PT_EXACT_EVERY: u64 = 64;

/// Parallel tempering on the fast conditioned block-Gibbs engine
/// ([`ConditionedSampler`](crate::fast::conditioned::ConditionedSampler)) for large sparse models
/// (a trained DTM layer).
///
/// `n_chains` independent PT chains of R rungs run as `n_chains · R` *slots* of one sampler with a
/// per-slot inverse temperature. A swap between rungs `k` and `k+1` of a chain exchanges the two
/// slots' temperatures instead of their states (the same move: the configuration travels with its
/// slot), so a slot is a replica label and round trips are counted per slot exactly as
/// [`ParallelTempering`] counts them per label. The schemes are those of [`SwapScheme`]:
/// `PtSym` draws a fair coin per chain and sweep for the order of the local sweep and one swap of a
/// uniformly chosen edge; `PtDeo` does the local sweep, then every swap of the edges with parity
/// `t mod 2`. The local sweep is the engine's `f32` update. Slot `s` draws its spins from stream `s`
/// of `seed`, chain `c` its swap decisions from stream `c` of `seed ^ salt`: same seed ⇒ same run
/// on any thread count.
///
/// **Energies** (β not included) decide the swaps. On the lanes engine (16 slots or more) the
/// slots stay in the engine's layout between sweeps, and each slot's energy is carried along by
/// the local sweep itself: every update adds `−(x_i' − x_i)·φ_i` with the field `φ_i` it has just
/// computed (one extra fused multiply-add per 8 lanes), summed in `f32` per sweep and added to an
/// `f64` energy; every [`FAST_PT_EXACT_EVERY`] sweeps all energies are recomputed exactly in `f64`
/// from the model, so the `f32` drift never outlives 64 sweeps. The states are written back to the
/// batch only when read (after [`FastPt::step`], [`FastPt::advance`], at an observation). On the
/// scalar engine every sweep recomputes the energies in `f64`.
pub struct FastPt {
    model: IsingModel,
    ladder: Ladder,
    beta: f64,
    scheme: SwapScheme,
    sampler: crate::fast::conditioned::ConditionedSampler,
    batch: crate::ChainBatch,
    n_chains: usize,
    /// `slot_at[c·R + r]` = slot currently at rung `r` of chain `c`.
    slot_at: Vec<usize>,
    /// Energy of each slot's configuration.
    energy: Vec<f64>,
    /// Round-trip phase per slot (as [`PtChain`]).
    phase: Vec<u8>,
    rngs: Vec<rand_chacha::ChaCha8Rng>,
    step: u64,
    stats: Vec<PtStats>,
    /// Whether the slots live in the lanes engine between sweeps (see the type's docs).
    resident: bool,
    /// Whether `batch` lags the resident slots.
    dirty: bool,
    /// Per-slot energy changes of one sweep.
    de: Vec<f64>,
    /// Whether `PtDeo` runs each 16-slot block on its own when chains do not straddle blocks
    /// (off only to test that it gives the same numbers as the synchronised sweep).
    block_local: bool,
}

impl std::fmt::Debug for FastPt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastPt")
            .field("rungs", &self.ladder.len())
            .field("chains", &self.n_chains)
            .field("scheme", &self.scheme)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl FastPt {
    /// `n_chains` PT chains of `model` (its current weights, target β = `model.beta()`) on
    /// `coloring`, local kernel `kind` (`BlkSym` or `BlkAlt`), every slot started uniformly at
    /// random from `seed`.
    pub fn new(
        model: &IsingModel,
        coloring: &thermoq_core::Coloring,
        kind: crate::KernelKind,
        ladder: Ladder,
        scheme: SwapScheme,
        n_chains: usize,
        seed: u64,
    ) -> Result<Self, SamplerError> {
        let beta = model.beta();
        if !(beta.is_finite() && beta > 0.0) {
            return Err(invalid("beta", format!("is {beta}, expected finite β > 0")));
        }
        if n_chains == 0 {
            return Err(invalid("chains", "is 0, expected at least 1".into()));
        }
        let r = ladder.len();
        let slots = n_chains * r;
        let mut sampler =
            crate::fast::conditioned::ConditionedSampler::new(model, coloring, kind, slots, seed)?;
        let batch = crate::ChainBatch::uniform(slots, model.n_spins(), seed);
        let resident = sampler.load_resident(&batch);
        let mut phase = vec![0u8; slots];
        for c in 0..n_chains {
            phase[c * r] = 1;
        }
        let mut s = Self {
            model: model.clone(),
            ladder,
            beta,
            scheme,
            sampler,
            batch,
            n_chains,
            slot_at: (0..slots).collect(),
            energy: vec![0.0; slots],
            phase,
            rngs: (0..n_chains as u64)
                .map(|c| chain_rng(seed ^ FAST_PT_SWAP_SALT, c))
                .collect(),
            step: 0,
            stats: vec![PtStats::new(r); n_chains],
            resident,
            dirty: false,
            de: vec![0.0; slots],
            block_local: true,
        };
        s.refresh_energies();
        Ok(s)
    }

    /// Draws the local sweep's comparison words from `g` from now on (`Xoshiro128Plus` needs the
    /// lanes engine, i.e. at least 16 slots); swap decisions stay on ChaCha8.
    pub fn set_generator(&mut self, g: crate::fast::Generator) -> Result<(), SamplerError> {
        self.sampler.set_generator(g)
    }

    /// The ladder.
    pub fn ladder(&self) -> &Ladder {
        &self.ladder
    }

    /// Number of PT chains.
    pub fn n_chains(&self) -> usize {
        self.n_chains
    }

    /// PT sweeps done.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Per-chain statistics over recorded sweeps.
    pub fn stats(&self) -> &[PtStats] {
        &self.stats
    }

    /// All chains' statistics summed.
    pub fn pooled(&self) -> PtStats {
        let mut p = PtStats::new(self.ladder.len());
        for s in &self.stats {
            p.merge(s);
        }
        p
    }

    /// Forgets recorded statistics (e.g. after a burn-in that was recorded).
    pub fn reset_stats(&mut self) {
        self.stats = vec![PtStats::new(self.ladder.len()); self.n_chains];
    }

    /// The configuration at rung `r` of chain `c`.
    pub fn state(&self, c: usize, r: usize) -> &[Spin] {
        self.batch.chain(self.slot_at[c * self.ladder.len() + r])
    }

    /// Energy (β not included) at rung `r` of chain `c`.
    pub fn energy(&self, c: usize, r: usize) -> f64 {
        self.energy[self.slot_at[c * self.ladder.len() + r]]
    }

    /// Measured C(α_r) = β² Var(E) per rung from pooled statistics.
    pub fn specific_heat(&self, stats: &PtStats) -> Option<Vec<f64>> {
        (0..self.ladder.len())
            .map(|r| stats.energy_var(r).map(|v| self.beta * self.beta * v))
            .collect()
    }

    fn refresh_energies(&mut self) {
        let n = self.model.n_spins();
        let m = &self.model;
        self.batch
            .as_slice()
            .par_chunks(n)
            .map(|x| m.energy(x))
            .collect_into_vec(&mut self.energy);
    }

    /// One local sweep of every slot, with the energies brought up to date.
    fn local_sweep(&mut self) -> Result<(), SamplerError> {
        self.push_betas()?;
        if !self.resident {
            self.sampler.sweep(&mut self.batch, 1)?;
            self.refresh_energies();
            return Ok(());
        }
        self.de.fill(0.0);
        self.sampler.sweep_resident(1, &mut self.de);
        self.dirty = true;
        if self.step % FAST_PT_EXACT_EVERY == FAST_PT_EXACT_EVERY - 1 {
            self.sync();
            self.refresh_energies();
        } else {
            for (e, d) in self.energy.iter_mut().zip(&self.de) {
                *e += d;
            }
        }
        Ok(())
    }

    /// Writes the resident slots back into the batch if it lags.
    fn sync(&mut self) {
        if self.dirty {
            self.sampler.store_resident(&mut self.batch);
            self.dirty = false;
        }
    }

    fn push_betas(&mut self) -> Result<(), SamplerError> {
        let r = self.ladder.len();
        let mut b = vec![0.0; self.slot_at.len()];
        for c in 0..self.n_chains {
            for k in 0..r {
                b[self.slot_at[c * r + k]] = self.ladder.alphas()[k] * self.beta;
            }
        }
        self.sampler.set_betas(&b)
    }

    fn swap(&mut self, c: usize, k: usize, record: bool) {
        let r = self.ladder.len();
        swap_edge(
            &mut self.slot_at[c * r..(c + 1) * r],
            0,
            &self.energy,
            &mut self.phase,
            self.ladder.alphas(),
            self.beta,
            k,
            &mut self.rngs[c],
            record.then_some(&mut self.stats[c]),
        );
    }

    /// Whether `PtDeo` sweeps can run block by block: resident lanes, and every chain's `R`
    /// slots inside one 16-lane block (`R` divides 16).
    fn blocks_apart(&self) -> bool {
        self.block_local
            && self.resident
            && self.scheme == SwapScheme::PtDeo
            && crate::fast::LANES_W.is_multiple_of(self.ladder.len())
    }

    /// `sweeps` `PtDeo` sweeps with each 16-slot block on its own (no wait between blocks):
    /// the same operations on each chain, in the same order, as [`FastPt::step_inner`].
    fn advance_blocks(&mut self, sweeps: usize, record: bool) -> Result<(), SamplerError> {
        const W: usize = crate::fast::LANES_W;
        struct Blk<'a> {
            slot_at: &'a mut [usize],
            energy: &'a mut [f64],
            phase: &'a mut [u8],
            rngs: &'a mut [rand_chacha::ChaCha8Rng],
            stats: &'a mut [PtStats],
            base: usize,
            t: u64,
        }
        self.push_betas()?;
        let r = self.ladder.len();
        let (step0, beta, model) = (self.step, self.beta, &self.model);
        let alphas = self.ladder.alphas();
        let c2: Vec<f32> = alphas
            .iter()
            .map(|&a| crate::fast::lanes_c2(a * beta))
            .collect();
        let mut ctx: Vec<Blk<'_>> = self
            .slot_at
            .chunks_mut(W)
            .zip(self.energy.chunks_mut(W))
            .zip(self.phase.chunks_mut(W))
            .zip(self.rngs.chunks_mut(W / r))
            .zip(self.stats.chunks_mut(W / r))
            .enumerate()
            .map(|(b, ((((slot_at, energy), phase), rngs), stats))| Blk {
                slot_at,
                energy,
                phase,
                rngs,
                stats,
                base: b * W,
                t: 0,
            })
            .collect();
        self.sampler
            .sweep_resident_with(sweeps, &mut ctx, |b, view, de, lane_c2| {
                let step = step0 + b.t;
                b.t += 1;
                if step % FAST_PT_EXACT_EVERY == FAST_PT_EXACT_EVERY - 1 {
                    // `model.energy` of each lane, bit for bit, all lanes at once.
                    view.energies(model, b.energy);
                } else {
                    for (e, &d) in b.energy.iter_mut().zip(de) {
                        *e += 0.0 + f64::from(d);
                    }
                }
                let parity = (step % 2) as usize;
                for (ci, (rng, st)) in b.rngs.iter_mut().zip(b.stats.iter_mut()).enumerate() {
                    let sa = &mut b.slot_at[ci * r..(ci + 1) * r];
                    for k in (parity..r - 1).step_by(2) {
                        swap_edge(
                            sa,
                            b.base,
                            b.energy,
                            b.phase,
                            alphas,
                            beta,
                            k,
                            rng,
                            record.then_some(&mut *st),
                        );
                    }
                    if record {
                        record_sweep(st, sa, b.base, b.energy);
                    }
                    for (k, &slot) in sa.iter().enumerate() {
                        lane_c2[slot - b.base] = c2[k];
                    }
                }
            });
        self.step += sweeps as u64;
        self.dirty = true;
        Ok(())
    }

    /// One PT sweep of every chain (see [`SwapScheme`]); statistics recorded when `record`.
    pub fn step(&mut self, record: bool) -> Result<(), SamplerError> {
        self.advance(1, record)
    }

    /// `sweeps` PT sweeps ([`FastPt::step`] each, the same numbers), the states written back
    /// once at the end.
    pub fn advance(&mut self, sweeps: usize, record: bool) -> Result<(), SamplerError> {
        if self.blocks_apart() {
            self.advance_blocks(sweeps, record)?;
        } else {
            for _ in 0..sweeps {
                self.step_inner(record)?;
            }
        }
        self.sync();
        Ok(())
    }

    fn step_inner(&mut self, record: bool) -> Result<(), SamplerError> {
        let r = self.ladder.len();
        let edges = r - 1;
        match self.scheme {
            SwapScheme::PtSym => {
                // Coin per chain: true = local sweep first, then the swap.
                let mut plan = Vec::with_capacity(self.n_chains);
                for c in 0..self.n_chains {
                    let local_first = self.rngs[c].next_u32() & 1 == 1;
                    let k = if edges > 0 {
                        crate::kernel::pick(&mut self.rngs[c], edges)
                    } else {
                        0
                    };
                    plan.push((local_first, k));
                }
                if edges > 0 {
                    for (c, &(lf, k)) in plan.iter().enumerate() {
                        if !lf {
                            self.swap(c, k, record);
                        }
                    }
                }
                self.local_sweep()?;
                if edges > 0 {
                    for (c, &(lf, k)) in plan.iter().enumerate() {
                        if lf {
                            self.swap(c, k, record);
                        }
                    }
                }
            }
            SwapScheme::PtDeo => {
                self.local_sweep()?;
                let parity = (self.step % 2) as usize;
                for c in 0..self.n_chains {
                    for k in (parity..edges).step_by(2) {
                        self.swap(c, k, record);
                    }
                }
            }
        }
        self.step += 1;
        if record {
            for (c, st) in self.stats.iter_mut().enumerate() {
                record_sweep(st, &self.slot_at[c * r..(c + 1) * r], 0, &self.energy);
            }
        }
        Ok(())
    }

    /// `burn_in` unrecorded sweeps, then `sweeps` recorded ones, calling `observe(t, self)` after
    /// each recorded sweep (read the cold rung with [`FastPt::state`]).
    pub fn run(
        &mut self,
        burn_in: usize,
        sweeps: usize,
        mut observe: impl FnMut(usize, &FastPt),
    ) -> Result<(), SamplerError> {
        self.advance(burn_in, false)?;
        for t in 0..sweeps {
            self.step(true)?;
            observe(t, self);
        }
        Ok(())
    }
}

/// The observed state of chain `c` is its cold rung ([`FastPt::state`]`(c, 0)`); statistics
/// accumulate over every sweep after a segment's burn-in, thinned or not.
impl ChainSampler for FastPt {
    type State = ();

    fn n_chains(&self) -> usize {
        self.n_chains
    }

    fn n_spins(&self) -> usize {
        self.model.n_spins()
    }

    fn run_segment<O: Observer>(
        &mut self,
        _: &mut (),
        seg: Segment,
        mut observers: Option<&mut [O]>,
    ) -> Result<(), SamplerError> {
        check_segment(&seg, observers.as_deref(), self.n_chains)?;
        self.advance(seg.burn_in, false)?;
        for d in 0..seg.draws {
            self.advance(seg.thin, true)?;
            if let Some(obs) = observers.as_deref_mut() {
                let me = &*self;
                obs.par_iter_mut()
                    .enumerate()
                    .for_each(|(c, o)| o.observe(seg.first + d, me.state(c, 0)));
            }
        }
        Ok(())
    }

    fn for_each_chain_state(&self, _: &(), f: &mut dyn FnMut(usize, &[Spin])) {
        for c in 0..self.n_chains {
            f(c, self.state(c, 0));
        }
    }
}

/// One swap attempt on edge `k` of one chain: `slot_at` is the chain's `R` slots by rung;
/// `energy` and `phase` hold slot `s` at `s − base`. Statistics go to `st` when given.
#[allow(clippy::too_many_arguments)]
fn swap_edge(
    slot_at: &mut [usize],
    base: usize,
    energy: &[f64],
    phase: &mut [u8],
    alphas: &[f64],
    beta: f64,
    k: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
    st: Option<&mut PtStats>,
) {
    let r = slot_at.len();
    let (sa, sb) = (slot_at[k] - base, slot_at[k + 1] - base);
    let log_r = (alphas[k] - alphas[k + 1]) * beta * (energy[sa] - energy[sb]);
    let p = if log_r >= 0.0 { 1.0 } else { log_r.exp() };
    let accept = p >= 1.0 || uniform53(rng) < p;
    let mut trips = 0;
    if accept {
        slot_at.swap(k, k + 1);
        for rung in [k, k + 1] {
            let s = slot_at[rung] - base;
            if rung == 0 {
                if phase[s] == 2 {
                    trips += 1;
                }
                phase[s] = 1;
            } else if rung == r - 1 && phase[s] == 1 {
                phase[s] = 2;
            }
        }
    }
    if let Some(st) = st {
        st.swap_attempts[k] += 1;
        st.swap_prob_sum[k] += p;
        st.swap_accepts[k] += u64::from(accept);
        st.round_trips += trips;
    }
}

/// Adds one recorded sweep of one chain to `st`: each rung's energy (slot `s` at `s − base`).
fn record_sweep(st: &mut PtStats, slot_at: &[usize], base: usize, energy: &[f64]) {
    st.sweeps += 1;
    for (k, &s) in slot_at.iter().enumerate() {
        let e = energy[s - base];
        st.energy_sum[k] += e;
        st.energy_sumsq[k] += e * e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KernelKind;
    use thermoq_core::Coloring;
    use thermoq_models::builders;

    /// `PtDeo` block by block (each 16-slot block on its own, no wait between blocks) gives
    /// the synchronised sweep's numbers bit for bit: states, carried energies and statistics,
    /// over 300 sweeps (exact recomputes included), for 4 and 16 rungs and both generators.
    #[test]
    fn block_local_deo_equals_the_synchronised_sweep() {
        let m = builders::random_sparse(30, 0.2, 0.6, 0.3, 1.0, 5);
        let col = Coloring::dsatur(m.graph());
        for (rungs, chains) in [(4, 9), (16, 3)] {
            for g in [
                crate::fast::Generator::ChaCha8,
                crate::fast::Generator::Xoshiro128Plus,
            ] {
                let run = |local: bool| {
                    let ladder = Ladder::geometric(rungs, 0.3).expect("ladder");
                    let mut p = FastPt::new(
                        &m,
                        &col,
                        KernelKind::BlkAlt,
                        ladder,
                        SwapScheme::PtDeo,
                        chains,
                        4,
                    )
                    .expect("pt");
                    p.set_generator(g).expect("generator");
                    p.block_local = local;
                    assert_eq!(p.blocks_apart(), local);
                    p.advance(100, false).expect("burn-in");
                    p.advance(200, true).expect("run");
                    let states: Vec<Vec<Spin>> = (0..chains)
                        .flat_map(|c| (0..rungs).map(move |r| (c, r)))
                        .map(|(c, r)| p.state(c, r).to_vec())
                        .collect();
                    let energies: Vec<u64> = p.energy.iter().map(|e| e.to_bits()).collect();
                    (states, energies, p.stats().to_vec(), p.slot_at.clone())
                };
                let (a, b) = (run(true), run(false));
                assert!(a == b, "{rungs} rungs, {}", g.name());
            }
        }
    }
}
