//! Parity sectors without the full state space: a kernel tabulated on `2^{N−1}` representative
//! states, matrix-free Poisson solves for many observables per pass, and the top of the spectrum
//! of each sector by Lanczos — past the dense limit, up to `N = 24`.
//!
//! **Representatives.** For a bias-free model whose kernel commutes with the global flip
//! `x → x̄` (`p_i(x̄) = 1 − p_i(x)`), every even or odd function is fixed by its values on the
//! states with the top spin `N − 1` down, `s < 2^{N−1}`. With `mask = 2^{N−1} − 1`, the state
//! `s` with the top spin raised is the flip of `s ⊕ mask`, so a site update acts on a function of
//! parity `ε = ±1` as
//!
//! ```text
//! (P_i f)(s)   = (1 − p_i(s)) f(s ∧ ¬e_i) + p_i(s) f(s ∨ e_i)       (i < N − 1)
//! (P_top f)(s) = (1 − p_top(s)) f(s) + ε p_top(s) f(s ⊕ mask)
//! ```
//!
//! Only `p_i(s)` on the representatives is stored (`N · 2^{N−1}` numbers: 1.6 GB at `N = 24`).
//! [`Sector::Full`] is the same machinery on all `2^N` states for models with biases.
//! Inner products use `π_h`, the law restricted to the representatives and renormalized (twice
//! `π` in a sector): for even or odd `f, g`, `⟨f, g⟩_π = Σ_{s<2^{N−1}} π_h(s) f(s) g(s)`.
//!
//! **Several observables per pass.** [`SectorKernel::step_multi`] applies the step to a batch
//! of functions in one parallel pass over chunks of states: each chunk of each site table is read
//! from memory once and used for every function of the batch.
//!
//! **Poisson** ([`sector_asymptotic_variances`]): the Lanczos route of [`crate::poisson`]
//! (multi-shift CG on the step `Q` of `P = Q^K`), run for a batch of observables at once, each with
//! its own recurrence and stopping rule, keeping the Lanczos vectors within
//! [`PoissonParams::store_bytes`](crate::PoissonParams) (else a second pass regenerates them), then
//! the true residual `‖f̄ − (I − P)u‖_π / ‖f̄‖_π` with one exact sweep. Reversible steps only.
//!
//! **Spectrum** ([`sector_top_eigenvalues`]): Lanczos on the step `Q` of a reversible kernel in
//! L²(π_h) (self-adjoint there), with *full* reorthogonalization (classical Gram–Schmidt applied
//! twice against every stored Lanczos vector and the constant). Ritz values `θ` are reported as
//! sweep eigenvalues `σ = θ^K`, exactly as [`crate::Spectrum`] defines them; a Ritz value counts
//! once its residual bound `β_m |e_mᵀ y|` is at most the tolerance. A single Krylov space sees
//! one copy of a repeated eigenvalue: within a sector, multiplicities are not resolved (models
//! with random couplings have none; the parity split itself is exact).

use crate::error::check_vec;
use crate::operator::{site_mixture, split_repeat};
use crate::poisson::{
    PoissonMethod, PoissonParams, PoissonResult, lanczos_coefficients, lanczos_estimate, ritz,
};
use crate::{Parity, SpectralError};
use rayon::prelude::*;
use thermoq_core::state::spins_from_index;
use thermoq_models::{EnergyModel, EnergyModelExt, ObservableSet};
use thermoq_samplers::exact::{ExactKernel, MAX_EXACT_SPINS};
use thermoq_samplers::{Kernel, Plan};

/// A space of functions on the states: one parity sector or all states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sector {
    /// Functions with `f(x̄) = f(x)` (contains the constants).
    Even,
    /// Functions with `f(x̄) = −f(x)`.
    Odd,
    /// All functions (no flip symmetry, e.g. a model with biases).
    Full,
}

impl Sector {
    /// The [`Parity`] label of the sector's modes.
    pub fn parity(self) -> Parity {
        match self {
            Self::Even => Parity::Even,
            Self::Odd => Parity::Odd,
            Self::Full => Parity::None,
        }
    }

    fn sign(self) -> f64 {
        if self == Self::Odd { -1.0 } else { 1.0 }
    }

    /// Whether the constant function lies in the sector (it is projected out of every solve).
    fn has_constant(self) -> bool {
        self != Self::Odd
    }
}

/// A kernel tabulated on the representative states of its flip sectors (or on all states).
#[derive(Clone, Debug)]
pub struct SectorKernel {
    n: usize,
    flip: bool,
    plan: Plan,
    reversible: bool,
    name: String,
    /// `p_up[i][s]` for representative `s`.
    p_up: Vec<Vec<f64>>,
}

/// States per parallel chunk of a pass.
const CH: usize = 1 << 12;

impl SectorKernel {
    /// Tabulates `kernel` on `model`. With `flip`, only the `2^{N−1}` representatives are
    /// tabulated; the model must be bias-free and the kernel must commute with the flip, which is
    /// checked on an evenly spaced subset of states (`≤ 4096` per site, `|p_i(x̄) − (1 − p_i(x))|
    /// ≤ 1e-12`).
    pub fn new<K: Kernel<M>, M: EnergyModel + ?Sized>(
        kernel: &K,
        model: &M,
        flip: bool,
    ) -> Result<Self, SpectralError> {
        let n = model.n_spins();
        check_size(n, flip)?;
        if flip && !model.is_bias_free() {
            return Err(SpectralError::Invalid {
                field: "model".into(),
                message: "has non-zero biases; parity sectors need h = 0 (use Sector::Full)".into(),
            });
        }
        let nr = reps(n, flip);
        let p_up: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut t = vec![0.0; nr];
                t.par_chunks_mut(CH).enumerate().for_each(|(c, out)| {
                    let mut x = vec![0i8; n];
                    for (k, o) in out.iter_mut().enumerate() {
                        spins_from_index((c * CH + k) as u64, &mut x);
                        *o = kernel.prob_up(model, &x, i);
                    }
                });
                t
            })
            .collect();
        if flip {
            let stride = (nr / 4096).max(1);
            let mut x = vec![0i8; n];
            for (i, t) in p_up.iter().enumerate() {
                for s in (0..nr).step_by(stride) {
                    spins_from_index(s as u64, &mut x);
                    x.iter_mut().for_each(|v| *v = -*v);
                    let pbar = kernel.prob_up(model, &x, i);
                    if (pbar - (1.0 - t[s])).abs() > 1e-12 {
                        return Err(flip_error(i, s, t[s], pbar));
                    }
                }
            }
        }
        Ok(Self {
            n,
            flip,
            plan: kernel.plan().clone(),
            reversible: kernel.is_reversible(),
            name: "the kernel".into(),
            p_up,
        })
    }

    /// Restricts a full tabulated kernel to the representatives (checking the flip symmetry on
    /// every state); `reversible` is the kernel's own claim.
    pub fn from_exact(
        op: &ExactKernel,
        flip: bool,
        reversible: bool,
    ) -> Result<Self, SpectralError> {
        let n = op.n();
        check_size(n, flip)?;
        let nr = reps(n, flip);
        let full = op.n_states() - 1;
        let mut p_up = Vec::with_capacity(n);
        for i in 0..n {
            let t = op.p_up(i);
            if flip {
                for s in 0..nr {
                    if (t[s ^ full] - (1.0 - t[s])).abs() > 1e-12 {
                        return Err(flip_error(i, s, t[s], t[s ^ full]));
                    }
                }
            }
            p_up.push(t[..nr].to_vec());
        }
        Ok(Self {
            n,
            flip,
            plan: op.plan().clone(),
            reversible,
            name: "the kernel".into(),
            p_up,
        })
    }

    /// Sets the kernel name used in error messages (e.g. `rs1`).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Number of spins.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of stored states (`2^{N−1}` with flip symmetry, else `2^N`).
    pub fn n_states(&self) -> usize {
        reps(self.n, self.flip)
    }

    /// Whether the tables cover the flip sectors (`true`) or all states.
    pub fn is_flip(&self) -> bool {
        self.flip
    }

    /// The sectors this kernel serves: `[Even, Odd]` with flip symmetry, else `[Full]`.
    pub fn sectors(&self) -> Vec<Sector> {
        if self.flip {
            vec![Sector::Even, Sector::Odd]
        } else {
            vec![Sector::Full]
        }
    }

    fn check_sector(&self, sector: Sector) -> Result<(), SpectralError> {
        if self.flip == (sector == Sector::Full) {
            return Err(SpectralError::Invalid {
                field: "sector".into(),
                message: format!(
                    "is {sector:?}, expected {} for these tables",
                    if self.flip { "Even or Odd" } else { "Full" }
                ),
            });
        }
        Ok(())
    }

    /// The step `Q` and power `K` of the sweep `P = Q^K`.
    fn step(&self) -> (Step, usize) {
        let (step, k) = split_repeat(&self.plan);
        let s = match site_mixture(step) {
            Some(sites) => Step::Sites(sites),
            None => Step::Plan(step.clone()),
        };
        (s, k)
    }

    /// `outs[a] = Q fs[a]` for the step `Q` of the sweep, every function in one pass.
    pub fn step_multi(&self, sector: Sector, fs: &[&[f64]], outs: &mut [Vec<f64>]) {
        let (step, _) = self.step();
        self.apply_step(&step, sector, fs, outs);
    }

    fn apply_step(&self, step: &Step, sector: Sector, fs: &[&[f64]], outs: &mut [Vec<f64>]) {
        match step {
            Step::Sites(sites) => self.mix_multi(sites, sector, fs, outs),
            Step::Plan(p) => {
                for (f, o) in fs.iter().zip(outs.iter_mut()) {
                    o.copy_from_slice(f);
                    self.plan_right(p, sector, o);
                }
            }
        }
    }

    /// `f ← P f` for one sweep (`K` steps).
    fn sweep_multi(&self, sector: Sector, fs: &mut Vec<Vec<f64>>) {
        let (step, k) = self.step();
        let mut outs: Vec<Vec<f64>> = fs.iter().map(|f| vec![0.0; f.len()]).collect();
        for _ in 0..k {
            {
                let refs: Vec<&[f64]> = fs.iter().map(Vec::as_slice).collect();
                self.apply_step(&step, sector, &refs, &mut outs);
            }
            std::mem::swap(fs, &mut outs);
        }
    }

    /// Fused uniform site mixture on a batch: one pass over state chunks; per chunk, each site
    /// table chunk is read once for all functions.
    fn mix_multi(&self, sites: &[usize], sector: Sector, fs: &[&[f64]], outs: &mut [Vec<f64>]) {
        let nr = self.n_states();
        let w = 1.0 / sites.len() as f64;
        let top = if self.flip { Some(self.n - 1) } else { None };
        let mask = nr - 1;
        let eps = sector.sign();
        let nch = nr.div_ceil(CH);
        let mut per_chunk: Vec<Vec<&mut [f64]>> = (0..nch).map(|_| Vec::new()).collect();
        for o in outs.iter_mut() {
            for (c, sl) in o.chunks_mut(CH).enumerate() {
                per_chunk[c].push(sl);
            }
        }
        let body = |c: usize, os: &mut Vec<&mut [f64]>| {
            let base = c * CH;
            for o in os.iter_mut() {
                o.iter_mut().for_each(|v| *v = 0.0);
            }
            for &i in sites {
                let len = os.first().map_or(0, |o| o.len());
                let p = &self.p_up[i][base..base + len];
                // Contiguous slices throughout (so the loops vectorize); the arithmetic per state
                // is the same as `lo + p (hi − lo)` with `lo`/`hi` gathered state by state.
                if Some(i) == top {
                    // s ⊕ mask = mask − s: the partner states run backwards.
                    let partner = (mask + 1 - (base + len))..(mask + 1 - base);
                    for (f, o) in fs.iter().zip(os.iter_mut()) {
                        let lo = &f[base..base + len];
                        let hi = &f[partner.clone()];
                        for (((ov, pv), l), h) in o.iter_mut().zip(p).zip(lo).zip(hi.iter().rev()) {
                            let h = eps * h;
                            *ov += l + pv * (h - l);
                        }
                    }
                } else {
                    let bit = 1usize << i;
                    for (f, o) in fs.iter().zip(os.iter_mut()) {
                        let mut k = 0;
                        while k < len {
                            let s = base + k;
                            // States until bit i toggles.
                            let run = (bit - (s & (bit - 1))).min(len - k);
                            let (l0, h0) = (s & !bit, s | bit);
                            let lo = &f[l0..l0 + run];
                            let hi = &f[h0..h0 + run];
                            let ps = &p[k..k + run];
                            for (((ov, pv), l), h) in
                                o[k..k + run].iter_mut().zip(ps).zip(lo).zip(hi)
                            {
                                *ov += l + pv * (h - l);
                            }
                            k += run;
                        }
                    }
                }
            }
            for o in os.iter_mut() {
                o.iter_mut().for_each(|v| *v *= w);
            }
        };
        if nr >= 1 << 15 {
            per_chunk
                .par_iter_mut()
                .enumerate()
                .for_each(|(c, os)| body(c, os));
        } else {
            per_chunk
                .iter_mut()
                .enumerate()
                .for_each(|(c, os)| body(c, os));
        }
    }

    /// `f ← P_plan f` in the sector (any plan; single function, sequential).
    pub fn plan_right(&self, plan: &Plan, sector: Sector, f: &mut [f64]) {
        match plan {
            Plan::Site(i) => self.site_right(*i as usize, sector, f),
            Plan::Block(b) => b
                .iter()
                .for_each(|&i| self.site_right(i as usize, sector, f)),
            Plan::Seq(p) => p.iter().rev().for_each(|q| self.plan_right(q, sector, f)),
            Plan::Repeat(p, k) => (0..*k).for_each(|_| self.plan_right(p, sector, f)),
            Plan::Mix(parts) => {
                let mut acc = vec![0.0; f.len()];
                let mut tmp = vec![0.0; f.len()];
                for q in parts {
                    tmp.copy_from_slice(f);
                    self.plan_right(q, sector, &mut tmp);
                    acc.iter_mut().zip(&tmp).for_each(|(a, t)| *a += t);
                }
                let w = 1.0 / parts.len() as f64;
                f.iter_mut().zip(&acc).for_each(|(x, a)| *x = a * w);
            }
        }
    }

    fn site_right(&self, i: usize, sector: Sector, f: &mut [f64]) {
        let p = &self.p_up[i];
        let nr = f.len();
        if self.flip && i == self.n - 1 {
            let eps = sector.sign();
            let mask = nr - 1;
            if nr == 1 {
                f[0] = (1.0 - p[0]) * f[0] + eps * p[0] * f[0];
                return;
            }
            for s in 0..nr / 2 {
                let t = s ^ mask;
                let (a, b) = (f[s], f[t]);
                f[s] = (1.0 - p[s]) * a + eps * p[s] * b;
                f[t] = (1.0 - p[t]) * b + eps * p[t] * a;
            }
            return;
        }
        let bit = 1usize << i;
        for s in (0..nr).filter(|s| s & bit == 0) {
            let (a, b) = (f[s], f[s | bit]);
            let (p0, p1) = (p[s], p[s | bit]);
            f[s] = (1.0 - p0) * a + p0 * b;
            f[s | bit] = (1.0 - p1) * a + p1 * b;
        }
    }

    /// The gradient observables of `set` on the stored states, with the sector each lives in:
    /// couplings `−x_i x_j` are even, biases `−x_i` odd (with flip symmetry; [`Sector::Full`]
    /// otherwise). One pass over the states fills every row.
    pub fn observable_rows<M: EnergyModel + ?Sized>(
        &self,
        model: &M,
        set: ObservableSet,
    ) -> Result<(Vec<Vec<f64>>, Vec<Sector>), SpectralError> {
        let all: Vec<usize> = (0..model.n_observables(set)).collect();
        self.observable_rows_of(model, set, &all)
    }

    /// [`SectorKernel::observable_rows`] for the observables `which` of `set` only (indices into
    /// the set's order), in that order.
    pub fn observable_rows_of<M: EnergyModel + ?Sized>(
        &self,
        model: &M,
        set: ObservableSet,
        which: &[usize],
    ) -> Result<(Vec<Vec<f64>>, Vec<Sector>), SpectralError> {
        if model.n_spins() != self.n {
            return Err(SpectralError::Shape {
                field: "model spins".into(),
                expected: self.n,
                got: model.n_spins(),
            });
        }
        let na = model.n_observables(set);
        if let Some(&a) = which.iter().find(|&&a| a >= na) {
            return Err(SpectralError::Invalid {
                field: "which".into(),
                message: format!("holds observable {a}, expected indices below {na}"),
            });
        }
        let ne = model.graph().n_edges();
        let nr = self.n_states();
        let n = self.n;
        let mut rows = vec![vec![0.0; nr]; which.len()];
        let nch = nr.div_ceil(CH);
        let mut per_chunk: Vec<Vec<&mut [f64]>> = (0..nch).map(|_| Vec::new()).collect();
        for r in rows.iter_mut() {
            for (c, sl) in r.chunks_mut(CH).enumerate() {
                per_chunk[c].push(sl);
            }
        }
        per_chunk.par_iter_mut().enumerate().for_each(|(c, rs)| {
            let mut x = vec![0i8; n];
            let mut f = vec![0.0; na];
            let len = rs.first().map_or(0, |r| r.len());
            for k in 0..len {
                spins_from_index((c * CH + k) as u64, &mut x);
                model.observables(&x, set, &mut f);
                for (r, &a) in rs.iter_mut().zip(which) {
                    r[k] = f[a];
                }
            }
        });
        let sectors = which
            .iter()
            .map(|&a| match (self.flip, a < ne) {
                (false, _) => Sector::Full,
                (true, true) => Sector::Even,
                (true, false) => Sector::Odd,
            })
            .collect();
        Ok((rows, sectors))
    }
}

/// A prepared step.
enum Step {
    Sites(Vec<usize>),
    Plan(Plan),
}

fn reps(n: usize, flip: bool) -> usize {
    if flip { 1usize << (n - 1) } else { 1usize << n }
}

fn check_size(n: usize, flip: bool) -> Result<(), SpectralError> {
    if n > MAX_EXACT_SPINS {
        return Err(SpectralError::TooLarge {
            what: "sector operator",
            n,
            max: MAX_EXACT_SPINS,
        });
    }
    if flip && n == 0 {
        return Err(SpectralError::Invalid {
            field: "model".into(),
            message: "has no spins; parity sectors need N ≥ 1".into(),
        });
    }
    Ok(())
}

fn flip_error(i: usize, s: usize, p: f64, pbar: f64) -> SpectralError {
    SpectralError::Invalid {
        field: "kernel".into(),
        message: format!(
            "does not commute with the global flip: p_{i}(x̄) = {pbar} but 1 − p_{i}(x) = {} at \
             state {s}; use Sector::Full",
            1.0 - p
        ),
    }
}

/// The Boltzmann law on the stored states of `sk`, renormalized to sum to 1 (`π_h = 2π` on the
/// representatives with flip symmetry).
pub fn sector_law<M: EnergyModel + ?Sized>(
    sk: &SectorKernel,
    model: &M,
) -> Result<Vec<f64>, SpectralError> {
    let n = sk.n();
    if model.n_spins() != n {
        return Err(SpectralError::Shape {
            field: "model spins".into(),
            expected: n,
            got: model.n_spins(),
        });
    }
    let beta = model.beta();
    let mut e = vec![0.0; sk.n_states()];
    e.par_chunks_mut(CH).enumerate().for_each(|(c, out)| {
        let mut x = vec![0i8; n];
        for (k, o) in out.iter_mut().enumerate() {
            spins_from_index((c * CH + k) as u64, &mut x);
            *o = model.energy(&x);
        }
    });
    let emin = e.iter().copied().fold(f64::INFINITY, f64::min);
    e.par_iter_mut()
        .for_each(|v| *v = (-beta * (*v - emin)).exp());
    let z = fixed_sum(&e);
    e.par_iter_mut().for_each(|v| *v /= z);
    check_vec("pi", &e, sk.n_states())?;
    Ok(e)
}

/// Sum in a fixed order (chunk partial sums, then in order): the same bits on any thread count.
fn fixed_sum(v: &[f64]) -> f64 {
    if v.len() < 1 << 16 {
        return v.iter().sum();
    }
    let parts: Vec<f64> = v.par_chunks(1 << 14).map(|c| c.iter().sum()).collect();
    parts.iter().sum()
}

/// π-weighted inner product, fixed reduction order.
fn dot(pi: &[f64], a: &[f64], b: &[f64]) -> f64 {
    if pi.len() < 1 << 16 {
        return pi.iter().zip(a).zip(b).map(|((p, x), y)| p * x * y).sum();
    }
    let parts: Vec<f64> = pi
        .par_chunks(1 << 14)
        .zip(a.par_chunks(1 << 14))
        .zip(b.par_chunks(1 << 14))
        .map(|((p, x), y)| p.iter().zip(x).zip(y).map(|((p, x), y)| p * x * y).sum())
        .collect();
    parts.iter().sum()
}

fn center(pi: &[f64], v: &mut [f64]) {
    let m = wmean(pi, v);
    v.par_iter_mut().for_each(|x| *x -= m);
}

/// `Σ_s π(s) v(s)`, fixed reduction order.
fn wmean(pi: &[f64], v: &[f64]) -> f64 {
    if pi.len() < 1 << 16 {
        pi.iter().zip(v.iter()).map(|(p, x)| p * x).sum::<f64>()
    } else {
        let parts: Vec<f64> = pi
            .par_chunks(1 << 14)
            .zip(v.par_chunks(1 << 14))
            .map(|(p, x)| p.iter().zip(x).map(|(p, x)| p * x).sum())
            .collect();
        parts.iter().sum()
    }
}

/// `y ← y + c x` (parallel; elementwise, so bits do not depend on the thread count).
fn axpy(y: &mut [f64], c: f64, x: &[f64]) {
    y.par_iter_mut().zip(x).for_each(|(a, b)| *a += c * b);
}

/// Observables solved together in one batch (one pass over the tables per step for all of them).
pub const POISSON_BATCH: usize = 8;

/// One observable's Lanczos recurrence.
struct Chain {
    norm0: f64,
    q: Vec<f64>,
    q_prev: Vec<f64>,
    beta_prev: f64,
    alphas: Vec<f64>,
    betas: Vec<f64>,
    check_at: usize,
    est: (f64, f64),
    done: bool,
    /// The Lanczos vectors `q_0, q_1, …` so far, while they fit in `PoissonParams::store_bytes`
    /// (`None`: not kept, regenerated in a second pass).
    kept: Option<Vec<Vec<f64>>>,
}

/// `u = Σ_j c_j v_j` in one pass over the states (elementwise in `j` order, so the same bits as
/// the axpys `u += c_j v_j` of the regenerating pass).
fn combine(coefs: &[f64], vs: &[Vec<f64>], nr: usize) -> Vec<f64> {
    let mut u = vec![0.0; nr];
    u.par_chunks_mut(CH).enumerate().for_each(|(c, out)| {
        let (base, len) = (c * CH, out.len());
        for (cj, v) in coefs.iter().zip(vs) {
            for (o, x) in out.iter_mut().zip(&v[base..base + len]) {
                *o += cj * x;
            }
        }
    });
    u
}

/// Finishes one Lanczos step for `w = Q q` (already applied): centring, `α`, three-term
/// subtraction with one extra Gram–Schmidt pass against `q`, `β`, normalization.
fn finish_step(
    pi: &[f64],
    sector: Sector,
    w: &mut [f64],
    q: &[f64],
    q_prev: &[f64],
    beta_prev: f64,
) -> (f64, f64) {
    if sector.has_constant() {
        center(pi, w);
    }
    let mut alpha = dot(pi, w, q);
    w.par_iter_mut()
        .zip(q)
        .zip(q_prev)
        .for_each(|((x, a), b)| *x -= alpha * a + beta_prev * b);
    let a2 = dot(pi, w, q);
    axpy(w, -a2, q);
    alpha += a2;
    let beta = dot(pi, w, w).sqrt();
    if beta > 0.0 {
        w.par_iter_mut().for_each(|x| *x /= beta);
    }
    (alpha, beta)
}

/// Exact asymptotic variances of observables given on the stored states of `sk` (`rows[a][s]`),
/// each living in `sectors[a]`, under the sweep of a reversible kernel with stationary law
/// `pi` (from [`sector_law`]). The Lanczos route of [`crate::poisson`], [`POISSON_BATCH`]
/// observables per pass; `params.method` must be `Auto` or `Lanczos`.
///
/// An odd observable has `E_π f = 0`; an even one its mean over the representatives.
pub fn sector_asymptotic_variances(
    sk: &SectorKernel,
    pi: &[f64],
    rows: &[Vec<f64>],
    sectors: &[Sector],
    params: &PoissonParams,
) -> Result<Vec<PoissonResult>, SpectralError> {
    let nr = sk.n_states();
    check_vec("pi", pi, nr)?;
    crate::error::check_table(rows, nr)?;
    if sectors.len() != rows.len() {
        return Err(SpectralError::Shape {
            field: "sectors".into(),
            expected: rows.len(),
            got: sectors.len(),
        });
    }
    for &s in sectors {
        sk.check_sector(s)?;
    }
    if !(params.tol.is_finite() && params.tol > 0.0) {
        return Err(SpectralError::Invalid {
            field: "tol".into(),
            message: format!("is {}, expected a finite number > 0", params.tol),
        });
    }
    if !matches!(params.method, PoissonMethod::Auto | PoissonMethod::Lanczos) {
        return Err(SpectralError::Invalid {
            field: "method".into(),
            message: format!(
                "is {:?}, expected Auto or Lanczos for sector solves",
                params.method
            ),
        });
    }
    if !sk.reversible {
        return Err(SpectralError::NotSelfAdjoint {
            kernel: sk.name.clone(),
        });
    }
    let mut out = Vec::with_capacity(rows.len());
    for sector in sk.sectors() {
        let idx: Vec<usize> = (0..rows.len()).filter(|&a| sectors[a] == sector).collect();
        for batch in idx.chunks(POISSON_BATCH) {
            let fs: Vec<&[f64]> = batch.iter().map(|&a| rows[a].as_slice()).collect();
            let res = solve_batch(sk, pi, sector, &fs, params)?;
            out.extend(batch.iter().copied().zip(res));
        }
    }
    out.sort_by_key(|(a, _)| *a);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// One step of the sector kernel on the Lanczos vectors `q` of the chains `which`: chain
/// `which[slot]`'s result lands in `outs[slot]` (`outs` grows to fit and never shrinks; the
/// step overwrites every entry of a slot it writes).
fn step_chains(
    sk: &SectorKernel,
    step: &Step,
    sector: Sector,
    chains: &[Chain],
    which: &[usize],
    outs: &mut Vec<Vec<f64>>,
) {
    let nr = sk.n_states();
    outs.resize_with(which.len().max(outs.len()), || vec![0.0; nr]);
    let refs: Vec<&[f64]> = which.iter().map(|&c| chains[c].q.as_slice()).collect();
    sk.apply_step(step, sector, &refs, &mut outs[..which.len()]);
}

fn solve_batch(
    sk: &SectorKernel,
    pi: &[f64],
    sector: Sector,
    fs: &[&[f64]],
    params: &PoissonParams,
) -> Result<Vec<PoissonResult>, SpectralError> {
    let nr = sk.n_states();
    let (step, k) = sk.step();
    let mut results: Vec<Option<PoissonResult>> = vec![None; fs.len()];
    let mut fbars = Vec::new();
    let mut chains: Vec<Chain> = Vec::new();
    let mut which = Vec::new();
    for (b, f) in fs.iter().enumerate() {
        let mean = if sector.has_constant() {
            wmean(pi, f)
        } else {
            0.0
        };
        let fbar: Vec<f64> = f.par_iter().map(|v| v - mean).collect();
        let variance = dot(pi, &fbar, &fbar);
        if variance <= 1e-28 * (1.0 + mean * mean) {
            results[b] = Some(PoissonResult::constant(
                mean,
                variance,
                PoissonMethod::Lanczos,
            ));
            continue;
        }
        let norm0 = variance.sqrt();
        chains.push(Chain {
            norm0,
            q: fbar.par_iter().map(|v| v / norm0).collect(),
            q_prev: vec![0.0; nr],
            beta_prev: 0.0,
            alphas: Vec::new(),
            betas: Vec::new(),
            check_at: 8,
            est: (f64::NAN, f64::INFINITY),
            done: false,
            kept: params.compute_residual.then(Vec::new),
        });
        fbars.push((b, mean, variance, fbar));
        which.push(b);
    }
    // First pass: every chain until its own stopping rule holds, keeping its vectors while
    // they fit in the budget.
    let mut outs: Vec<Vec<f64>> = Vec::new();
    let vec_bytes = nr * std::mem::size_of::<f64>();
    let mut kept_bytes = 0usize;
    loop {
        let active: Vec<usize> = (0..chains.len()).filter(|&c| !chains[c].done).collect();
        if active.is_empty() {
            break;
        }
        for &c in &active {
            let ch = &mut chains[c];
            if let Some(kept) = &mut ch.kept {
                if kept_bytes + vec_bytes <= params.store_bytes {
                    kept.push(ch.q.clone());
                    kept_bytes += vec_bytes;
                } else {
                    kept_bytes -= kept.len() * vec_bytes;
                    ch.kept = None;
                }
            }
        }
        step_chains(sk, &step, sector, &chains, &active, &mut outs);
        for (slot, &c) in active.iter().enumerate() {
            let ch = &mut chains[c];
            let w = &mut outs[slot];
            let (a, b) = finish_step(pi, sector, w, &ch.q, &ch.q_prev, ch.beta_prev);
            ch.alphas.push(a);
            ch.betas.push(b);
            let m = ch.alphas.len();
            let breakdown = b <= 1e-14;
            if m >= ch.check_at || breakdown {
                ch.check_at = m + (m / 8).max(4);
                ch.est = lanczos_estimate(&ch.alphas, &ch.betas, k, ch.norm0, breakdown)?;
                if ch.est.1 <= params.tol {
                    ch.done = true;
                }
            }
            if !ch.done && m >= params.max_iter {
                return Err(SpectralError::NotConverged {
                    what: format!("Poisson (sector Lanczos, {:?})", sector),
                    iterations: m,
                    residual: ch.est.1,
                    tol: params.tol,
                });
            }
            if !ch.done {
                std::mem::swap(&mut ch.q_prev, &mut ch.q);
                std::mem::swap(&mut ch.q, w);
                ch.beta_prev = b;
            }
        }
    }
    if !params.compute_residual {
        for (c, (b, mean, variance, _)) in fbars.iter().enumerate() {
            let ch = &chains[c];
            results[*b] = Some(PoissonResult {
                mean: *mean,
                variance: *variance,
                asymptotic_variance: ch.est.0,
                tau_int: ch.est.0 / variance,
                iterations: ch.alphas.len(),
                residual: ch.est.1,
                method: PoissonMethod::Lanczos,
            });
        }
        return Ok(results.into_iter().flatten().collect());
    }
    // Form u = ‖f̄‖ V_m g(T_m) e_1 from the kept vectors, or from vectors regenerated in a second
    // pass (bit-identically: every column of a batched step is computed independently of the
    // others).
    let coefs: Vec<Vec<f64>> = chains
        .iter()
        .map(|ch| {
            let m = ch.alphas.len();
            lanczos_coefficients(&ch.alphas, &ch.betas[..m - 1], k, ch.norm0)
        })
        .collect::<Result<_, _>>()?;
    // Kept vectors: one combination pass each. The others are regenerated below.
    let mut us: Vec<Vec<f64>> = Vec::with_capacity(chains.len());
    let mut regen = Vec::new();
    for (c, ch) in chains.iter_mut().enumerate() {
        match ch.kept.take() {
            Some(kept) => us.push(combine(&coefs[c], &kept, nr)),
            None => {
                regen.push(c);
                us.push(vec![0.0; nr]);
                let fbar = &fbars[c].3;
                ch.q = fbar.par_iter().map(|v| v / ch.norm0).collect();
                ch.q_prev = vec![0.0; nr];
                ch.beta_prev = 0.0;
            }
        }
    }
    let mmax = regen.iter().map(|&c| coefs[c].len()).max().unwrap_or(0);
    for j in 0..mmax {
        for &c in &regen {
            if j < coefs[c].len() {
                axpy(&mut us[c], coefs[c][j], &chains[c].q);
            }
        }
        let next: Vec<usize> = regen
            .iter()
            .copied()
            .filter(|&c| j + 1 < coefs[c].len())
            .collect();
        if next.is_empty() {
            break;
        }
        step_chains(sk, &step, sector, &chains, &next, &mut outs);
        for (slot, &c) in next.iter().enumerate() {
            let ch = &mut chains[c];
            let w = &mut outs[slot];
            let (_, b) = finish_step(pi, sector, w, &ch.q, &ch.q_prev, ch.beta_prev);
            std::mem::swap(&mut ch.q_prev, &mut ch.q);
            std::mem::swap(&mut ch.q, w);
            ch.beta_prev = b;
        }
    }
    if sector.has_constant() {
        us.iter_mut().for_each(|u| center(pi, u));
    }
    let mut pus = us.clone();
    sk.sweep_multi(sector, &mut pus);
    for (c, (b, mean, variance, fbar)) in fbars.iter().enumerate() {
        let u = &us[c];
        let r: Vec<f64> = (0..nr)
            .into_par_iter()
            .map(|s| fbar[s] - u[s] + pus[c][s])
            .collect();
        let residual = (dot(pi, &r, &r) / variance).sqrt();
        let v = 2.0 * dot(pi, fbar, u) - variance;
        results[*b] = Some(PoissonResult {
            mean: *mean,
            variance: *variance,
            asymptotic_variance: v,
            tau_int: v / variance,
            iterations: chains[c].alphas.len(),
            residual,
            method: PoissonMethod::Lanczos,
        });
    }
    Ok(results.into_iter().flatten().collect())
}

/// Options of [`sector_top_eigenvalues`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LanczosParams {
    /// Largest sweep eigenvalues wanted per sector (default 10).
    pub count: usize,
    /// Residual bound `‖Q y − θ y‖_π` at which a Ritz value of the step counts as converged
    /// (default `1e-10`).
    pub tol: f64,
    /// Largest Krylov dimension (default 400; each stored vector has `2^{N−1}` doubles).
    pub max_iter: usize,
}

impl Default for LanczosParams {
    fn default() -> Self {
        Self {
            count: 10,
            tol: 1e-10,
            max_iter: 400,
        }
    }
}

/// The top of one sector's spectrum.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SectorTop {
    /// The sector.
    pub sector: Sector,
    /// Largest sweep eigenvalues `σ = θ^K`, descending, the constant mode excluded.
    pub sigma: Vec<f64>,
    /// Largest residual bound among the reported Ritz values (of the step).
    pub residual_max: f64,
    /// Krylov dimension used.
    pub iterations: usize,
}

/// A deterministic start vector in (−1, 1) (splitmix64 of the index).
fn start_vector(nr: usize) -> Vec<f64> {
    (0..nr)
        .into_par_iter()
        .map(|s| {
            let mut z = (s as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// The `params.count` largest sweep eigenvalues of `sector` (the constant excluded) by Lanczos
/// with full reorthogonalization on the step `Q` in L²(π_h). Reversible kernels only: a
/// non-reversible kernel is refused with [`SpectralError::NotSelfAdjoint`] naming it.
pub fn sector_top_eigenvalues(
    sk: &SectorKernel,
    pi: &[f64],
    sector: Sector,
    params: &LanczosParams,
) -> Result<SectorTop, SpectralError> {
    let nr = sk.n_states();
    check_vec("pi", pi, nr)?;
    sk.check_sector(sector)?;
    if !sk.reversible {
        return Err(SpectralError::NotSelfAdjoint {
            kernel: sk.name.clone(),
        });
    }
    if !(params.tol.is_finite() && params.tol > 0.0) {
        return Err(SpectralError::Invalid {
            field: "tol".into(),
            message: format!("is {}, expected a finite number > 0", params.tol),
        });
    }
    if params.count == 0 || params.max_iter < 2 {
        return Err(SpectralError::Invalid {
            field: "count / max_iter".into(),
            message: format!(
                "are {} / {}, expected count ≥ 1 and max_iter ≥ 2",
                params.count, params.max_iter
            ),
        });
    }
    let (step, k) = sk.step();
    // Dimension of the sector minus the constant.
    let dim = nr - usize::from(sector.has_constant());
    let empty = SectorTop {
        sector,
        sigma: Vec::new(),
        residual_max: 0.0,
        iterations: 0,
    };
    if dim == 0 {
        return Ok(empty);
    }
    let mut v0 = start_vector(nr);
    if sector.has_constant() {
        center(pi, &mut v0);
    }
    let n0 = dot(pi, &v0, &v0).sqrt();
    v0.par_iter_mut().for_each(|x| *x /= n0);
    let mut basis: Vec<Vec<f64>> = vec![v0];
    let (mut alphas, mut betas) = (Vec::new(), Vec::new());
    let mut out = vec![vec![0.0; nr]];
    let mut check_at = params.count + 10;
    loop {
        let j = basis.len() - 1;
        sk.apply_step(&step, sector, &[basis[j].as_slice()], &mut out);
        let mut w = std::mem::replace(&mut out[0], vec![0.0; nr]);
        if sector.has_constant() {
            center(pi, &mut w);
        }
        let alpha = dot(pi, &w, &basis[j]);
        // Classical Gram–Schmidt against the whole basis, twice.
        for _ in 0..2 {
            let c: Vec<f64> = basis.par_iter().map(|v| dot(pi, &w, v)).collect();
            w.par_chunks_mut(1 << 12).enumerate().for_each(|(ci, wc)| {
                let base = ci << 12;
                let len = wc.len();
                for (v, cv) in basis.iter().zip(&c) {
                    for (x, y) in wc.iter_mut().zip(&v[base..base + len]) {
                        *x -= cv * y;
                    }
                }
            });
            if sector.has_constant() {
                center(pi, &mut w);
            }
        }
        let beta = dot(pi, &w, &w).sqrt();
        alphas.push(alpha);
        let m = alphas.len();
        let exhausted = m >= dim || beta <= 1e-13;
        if m >= check_at || exhausted || m >= params.max_iter {
            check_at = m + 5;
            let (theta, _, last) = ritz(&alphas, &betas)?;
            let mut idx: Vec<usize> = (0..m).collect();
            let pw = |t: f64| t.powi(k as i32);
            idx.sort_by(|&a, &b| pw(theta[b]).total_cmp(&pw(theta[a])).then(b.cmp(&a)));
            let take = params.count.min(dim);
            let top = &idx[..take.min(m)];
            let res: Vec<f64> = top
                .iter()
                .map(|&i| if exhausted { 0.0 } else { beta * last[i].abs() })
                .collect();
            let worst = res.iter().copied().fold(0.0, f64::max);
            if (top.len() == take && worst <= params.tol) || exhausted {
                return Ok(SectorTop {
                    sector,
                    sigma: top.iter().map(|&i| pw(theta[i])).collect(),
                    residual_max: worst,
                    iterations: m,
                });
            }
            if m >= params.max_iter {
                return Err(SpectralError::NotConverged {
                    what: format!("Lanczos spectrum ({:?} sector)", sector),
                    iterations: m,
                    residual: worst,
                    tol: params.tol,
                });
            }
        }
        betas.push(beta);
        w.par_iter_mut().for_each(|x| *x /= beta);
        basis.push(w);
    }
}

/// The top of the whole spectrum, merged over sectors as [`crate::Spectrum`] orders it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TopSpectrum {
    /// Largest sweep eigenvalues, descending; entry 0 is the constant mode (`σ = 1`).
    pub sigma: Vec<f64>,
    /// Parity of each entry of `sigma`.
    pub parity: Vec<Parity>,
    /// `1 − σ_2` (`σ[1]`; 0 if there is no second mode).
    pub gap: f64,
    /// The per-sector Lanczos results.
    pub sectors: Vec<SectorTop>,
}

/// [`sector_top_eigenvalues`] on every sector of `sk`, merged: the constant mode first, then the
/// largest sweep eigenvalues of all sectors (ties: even before odd), `params.count` in all.
pub fn top_of_spectrum(
    sk: &SectorKernel,
    pi: &[f64],
    params: &LanczosParams,
) -> Result<TopSpectrum, SpectralError> {
    let sectors = sk
        .sectors()
        .into_iter()
        .map(|s| sector_top_eigenvalues(sk, pi, s, params))
        .collect::<Result<Vec<_>, _>>()?;
    let mut modes: Vec<(f64, usize, Parity)> = sectors
        .iter()
        .enumerate()
        .flat_map(|(b, t)| t.sigma.iter().map(move |&s| (s, b, t.sector.parity())))
        .collect();
    modes.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let first = if sk.is_flip() {
        Parity::Even
    } else {
        Parity::None
    };
    let mut sigma = vec![1.0];
    let mut parity = vec![first];
    for (s, _, p) in modes.into_iter().take(params.count.saturating_sub(1)) {
        sigma.push(s);
        parity.push(p);
    }
    let gap = sigma.get(1).map_or(0.0, |s| 1.0 - s);
    Ok(TopSpectrum {
        sigma,
        parity,
        gap,
        sectors,
    })
}
