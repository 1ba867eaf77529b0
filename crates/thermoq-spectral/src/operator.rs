//! Exact transition operators built from a kernel's own [`Plan`]: dense matrices, the sparse
//! random-scan step, and a matrix-free faer [`LinOp`].
//!
//! Convention: `P[x, y]` is the probability of moving from state `x` to state `y`, so functions
//! are acted on from the right, `(Pf)(x) = Σ_y P[x, y] f(y)`, and laws from the left. Column `y` of
//! the dense matrix is therefore `P e_y`, which is how [`dense_plan_matrix`] fills it: one exact
//! application of the plan ([`ExactKernel::plan_right`]) per column.
//!
//! Many sweeps are a repetition of a cheaper *step* (`RS1`/`MH1`: `Repeat(Mix(sites), N)`;
//! `BLK-RS`: `Repeat(Mix(blocks), k)`). [`split_repeat`] exposes the step `Q` and the power `K` with
//! `P = Q^K`: eigenvectors are shared and sweep eigenvalues are `λ^K`. A uniform mixture of single
//! sites has at most `N + 1` non-zeros per row; [`dense_step_matrix`] fills it directly from the
//! tabulated `p_i(s)` in `O(N 2^N)` instead of applying the plan to `2^N` unit vectors.

use crate::SpectralError;
use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::LinOp;
use faer::{Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use thermoq_samplers::Plan;
use thermoq_samplers::exact::ExactKernel;

/// Largest model for which dense `2^N × 2^N` operators are built (N = 14: 2 GB per matrix).
pub const MAX_DENSE_SPINS: usize = 14;

/// Splits `Repeat(step, K)` into `(step, K)`; any other plan is its own step with `K = 1`.
pub fn split_repeat(plan: &Plan) -> (&Plan, usize) {
    match plan {
        Plan::Repeat(p, k) => (p, *k),
        p => (p, 1),
    }
}

/// If `plan` is a uniform mixture of single-site updates (`Mix(Site i, …)`), its sites.
pub fn site_mixture(plan: &Plan) -> Option<Vec<usize>> {
    match plan {
        Plan::Mix(parts) if !parts.is_empty() => parts
            .iter()
            .map(|p| match p {
                Plan::Site(i) => Some(*i as usize),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn check_dense(n: usize, what: &'static str) -> Result<(), SpectralError> {
    if n > MAX_DENSE_SPINS {
        return Err(SpectralError::TooLarge {
            what,
            n,
            max: MAX_DENSE_SPINS,
        });
    }
    Ok(())
}

/// The dense matrix of any `plan` over the kernel's spins: column `y` is `P_plan e_y`.
///
/// Cost: `2^N` exact plan applications (parallel over columns). Errors for `N >`
/// [`MAX_DENSE_SPINS`].
pub fn dense_plan_matrix(op: &ExactKernel, plan: &Plan) -> Result<Mat<f64>, SpectralError> {
    check_dense(op.n(), "dense plan matrix")?;
    let ns = op.n_states();
    let mut m = Mat::<f64>::zeros(ns, ns);
    m.par_col_iter_mut().enumerate().for_each(|(y, col)| {
        if let Some(c) = col.try_as_col_major_mut() {
            let v = c.as_slice_mut();
            v[y] = 1.0;
            op.plan_right(plan, v);
        }
    });
    Ok(m)
}

/// The dense sweep matrix `P` of the kernel.
pub fn dense_sweep_matrix(op: &ExactKernel) -> Result<Mat<f64>, SpectralError> {
    dense_plan_matrix(op, op.plan())
}

/// The dense step matrix `Q` (with `P = Q^K`, see [`split_repeat`]) and `K`.
///
/// A uniform site mixture is filled directly from the site tables: `Q[x, x ⊕ e_i] = flip_i(x)/m`
/// and `Q[x, x] = 1 − Σ_i flip_i(x)/m`, where `flip_i(x)` is the probability that updating site `i`
/// changes it. Other steps are filled by [`dense_plan_matrix`].
pub fn dense_step_matrix(op: &ExactKernel) -> Result<(Mat<f64>, usize), SpectralError> {
    check_dense(op.n(), "dense step matrix")?;
    let (step, k) = split_repeat(op.plan());
    let Some(sites) = site_mixture(step) else {
        return Ok((dense_plan_matrix(op, step)?, k));
    };
    let ns = op.n_states();
    let w = 1.0 / sites.len() as f64;
    let mut m = Mat::<f64>::zeros(ns, ns);
    // Column y of Q holds Q[x, y] for the x that reach y: x = y (diagonal) and x = y ⊕ e_i.
    m.par_col_iter_mut().enumerate().for_each(|(y, col)| {
        if let Some(c) = col.try_as_col_major_mut() {
            let v = c.as_slice_mut();
            let mut stay = 1.0;
            for &i in &sites {
                let bit = 1usize << i;
                let p = op.p_up(i);
                let x = y ^ bit;
                // flip probability from x to y (y has bit i as x ⊕ bit) and from y away.
                let into = if y & bit != 0 { p[x] } else { 1.0 - p[x] };
                let away = if y & bit != 0 { 1.0 - p[y] } else { p[y] };
                v[x] += w * into;
                stay -= w * away;
            }
            v[y] += stay;
        }
    });
    Ok((m, k))
}

/// The sweep operator as a matrix-free faer [`LinOp`]: `apply` computes `P f` column by column
/// with exact plan applications (`N·2^N` pair updates per `RS1` step), `conj_apply` the same
/// (real operator). Works up to `thermoq_samplers::exact::MAX_EXACT_SPINS` spins.
#[derive(Debug)]
pub struct PlanOperator<'a> {
    op: &'a ExactKernel,
    plan: Plan,
}

impl<'a> PlanOperator<'a> {
    /// The full sweep `P`.
    pub fn sweep(op: &'a ExactKernel) -> Self {
        Self {
            op,
            plan: op.plan().clone(),
        }
    }

    /// The step `Q` of a `Repeat(Q, K)` sweep (the sweep itself otherwise).
    pub fn step(op: &'a ExactKernel) -> Self {
        Self {
            op,
            plan: split_repeat(op.plan()).0.clone(),
        }
    }

    /// The plan this operator applies.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// `f ← P f` in place.
    pub fn apply_vec(&self, f: &mut [f64]) {
        self.op.plan_right(&self.plan, f);
    }

    /// `μ ← μ P` in place.
    pub fn apply_left_vec(&self, mu: &mut [f64]) {
        self.op.plan_left(&self.plan, mu);
    }
}

impl LinOp<f64> for PlanOperator<'_> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.op.n_states()
    }
    fn ncols(&self) -> usize {
        self.op.n_states()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _par: Par, _: &mut MemStack) {
        let mut buf = vec![0.0; self.op.n_states()];
        for j in 0..rhs.ncols() {
            for (b, x) in buf.iter_mut().zip(rhs.col(j).iter()) {
                *b = *x;
            }
            self.apply_vec(&mut buf);
            for (o, b) in out.as_mut().col_mut(j).iter_mut().zip(&buf) {
                *o = *b;
            }
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, s: &mut MemStack) {
        self.apply(out, rhs, par, s);
    }
}

/// Builds `A = D^{1/2} M D^{−1/2}` in place and symmetrizes it to `(A + Aᵀ)/2`, returning the
/// residual `max |A − Aᵀ|` measured *before* symmetrizing.
pub fn symmetrize_in_place(m: &mut Mat<f64>, pi: &[f64]) -> f64 {
    let ns = m.nrows();
    let sq: Vec<f64> = pi.iter().map(|p| p.sqrt()).collect();
    for y in 0..ns {
        for x in 0..ns {
            m[(x, y)] *= sq[x] / sq[y];
        }
    }
    let mut res = 0.0f64;
    for y in 0..ns {
        for x in (y + 1)..ns {
            let (a, b) = (m[(x, y)], m[(y, x)]);
            res = res.max((a - b).abs());
            let avg = 0.5 * (a + b);
            m[(x, y)] = avg;
            m[(y, x)] = avg;
        }
    }
    res
}

/// Splits a flip-symmetric symmetric matrix `A` (`A[x̄, ȳ] = A[x, y]`, `x̄ = x ⊕ (2^N − 1)`) into
/// its even and odd blocks in the basis `(e_s ± e_s̄)/√2`, `s < 2^{N−1}`:
/// `A_±[s, t] = A[s, t] ± A[s, t̄]`. Returns `(even, odd, max |A[x̄, ȳ] − A[x, y]|)`.
pub fn parity_blocks(a: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>, f64) {
    let ns = a.nrows();
    let half = ns / 2;
    let full = ns - 1;
    let even = Mat::from_fn(half, half, |s, t| a[(s, t)] + a[(s, t ^ full)]);
    let odd = Mat::from_fn(half, half, |s, t| a[(s, t)] - a[(s, t ^ full)]);
    let mut res = 0.0f64;
    for y in 0..ns {
        for x in 0..ns {
            res = res.max((a[(x ^ full, y ^ full)] - a[(x, y)]).abs());
        }
    }
    (even, odd, res)
}

/// A sweep or step prepared for repeated fast application to functions (`f ← M f`).
///
/// A uniform site mixture `Q = (1/m) Σ_i P_i` is applied *fused*: one parallel pass over the
/// states computes `(Qf)(s) = (1/m) Σ_i [(1 − p_i(s)) f(s ∧ ¬e_i) + p_i(s) f(s ∨ e_i)]`, streaming
/// each site table once, instead of `m` separate in-place site updates (`m` times the memory
/// traffic on the function). Any other plan falls back to [`ExactKernel::plan_right`].
#[derive(Clone, Debug)]
pub enum FastOp {
    /// A uniform mixture of single-site updates, applied `power` times.
    SiteMixture {
        /// Mixed sites.
        sites: Vec<usize>,
        /// Number of applications.
        power: usize,
    },
    /// Any plan, applied by the exact plan interpreter.
    Plan(Plan),
}

impl FastOp {
    /// Prepares `plan` (recognizing `Repeat(Mix(sites), K)` and `Mix(sites)`).
    pub fn new(plan: &Plan) -> Self {
        let (step, k) = split_repeat(plan);
        match site_mixture(step) {
            Some(sites) => Self::SiteMixture { sites, power: k },
            None => Self::Plan(plan.clone()),
        }
    }

    /// `f ← M f`; `scratch` must have the length of `f`.
    pub fn apply(&self, op: &ExactKernel, f: &mut [f64], scratch: &mut [f64]) {
        match self {
            Self::Plan(p) => op.plan_right(p, f),
            Self::SiteMixture { sites, power } => {
                for _ in 0..*power {
                    site_mixture_apply(op, sites, f, scratch);
                    f.copy_from_slice(scratch);
                }
            }
        }
    }
}

/// `out = Q f` for the uniform site mixture `Q` over `sites` (fused, parallel over state chunks).
pub fn site_mixture_apply(op: &ExactKernel, sites: &[usize], f: &[f64], out: &mut [f64]) {
    const CH: usize = 1 << 12;
    let w = 1.0 / sites.len() as f64;
    let body = |base: usize, o: &mut [f64]| {
        o.iter_mut().for_each(|v| *v = 0.0);
        for &i in sites {
            let p = &op.p_up(i)[base..base + o.len()];
            let bit = 1usize << i;
            for (k, (ov, pv)) in o.iter_mut().zip(p).enumerate() {
                let s = base + k;
                let lo = f[s & !bit];
                let hi = f[s | bit];
                *ov += lo + pv * (hi - lo);
            }
        }
        o.iter_mut().for_each(|v| *v *= w);
    };
    if out.len() >= 1 << 15 {
        out.par_chunks_mut(CH)
            .enumerate()
            .for_each(|(c, o)| body(c * CH, o));
    } else {
        body(0, out);
    }
}

/// The even and odd parity blocks of the symmetrized step `A = D^{1/2} Q D^{−1/2}` of a uniform
/// site mixture, built column by column from the site tables without forming the `2^N × 2^N`
/// matrix: the same numbers, bit for bit, as [`dense_step_matrix`] → [`symmetrize_in_place`] →
/// [`parity_blocks`] (every entry is computed with the same operations in the same order).
///
/// Returns `(even, odd, max |A − Aᵀ|, max |A[x̄, ȳ] − A[x, y]|)`, both residuals over every
/// non-zero entry. Errors are the caller's: this needs at most [`MAX_DENSE_SPINS`] spins.
pub fn direct_parity_blocks(
    op: &ExactKernel,
    sites: &[usize],
    pi: &[f64],
) -> (Mat<f64>, Mat<f64>, f64, f64) {
    let ns = op.n_states();
    let half = ns / 2;
    let full = ns - 1;
    let w = 1.0 / sites.len() as f64;
    let sq: Vec<f64> = pi.iter().map(|p| p.sqrt()).collect();
    // Q[x, y] exactly as dense_step_matrix fills column y.
    let q = |x: usize, y: usize| -> f64 {
        if x == y {
            let mut stay = 1.0;
            for &i in sites {
                let bit = 1usize << i;
                let p = op.p_up(i);
                let away = if y & bit != 0 { 1.0 - p[y] } else { p[y] };
                stay -= w * away;
            }
            return 0.0 + stay;
        }
        let mut v = 0.0;
        for &i in sites {
            let bit = 1usize << i;
            if x ^ y == bit {
                let p = op.p_up(i);
                let into = if y & bit != 0 { p[x] } else { 1.0 - p[x] };
                v += w * into;
            }
        }
        v
    };
    // The symmetrized entry, as symmetrize_in_place leaves it.
    let sym = |x: usize, y: usize| -> (f64, f64) {
        let a = q(x, y) * (sq[x] / sq[y]);
        if x == y {
            return (a, 0.0);
        }
        let b = q(y, x) * (sq[y] / sq[x]);
        (0.5 * (a + b), (a - b).abs())
    };
    // Rows that can be non-zero in column t of a block: t, t ⊕ e_i (i below the top bit) and
    // t ⊕ (half − 1) (the flip of t with the top spin raised).
    let rows = |t: usize| -> Vec<usize> {
        let mut r = vec![t, t ^ (half.max(1) - 1)];
        r.extend(
            sites
                .iter()
                .map(|&i| t ^ (1usize << i))
                .filter(|&s| s < half),
        );
        r.sort_unstable();
        r.dedup();
        r
    };
    let build = |sign: f64| {
        let mut m = Mat::<f64>::zeros(half, half);
        m.par_col_iter_mut().enumerate().for_each(|(t, col)| {
            if let Some(c) = col.try_as_col_major_mut() {
                let v = c.as_slice_mut();
                for s in rows(t) {
                    let (a, _) = sym(s, t);
                    let (b, _) = sym(s, t ^ full);
                    v[s] = if sign > 0.0 { a + b } else { a - b };
                }
            }
        });
        m
    };
    let even = build(1.0);
    let odd = build(-1.0);
    // Residuals over every non-zero entry (x, y): y runs over all states, x over y and its
    // single-site neighbours.
    let (res, flip_res) = (0..ns)
        .into_par_iter()
        .map(|y| {
            let (mut r, mut f) = (0.0f64, 0.0f64);
            let mut xs = vec![y];
            xs.extend(sites.iter().map(|&i| y ^ (1usize << i)));
            for x in xs {
                let (v, asym) = sym(x, y);
                let (vbar, _) = sym(x ^ full, y ^ full);
                r = r.max(asym);
                f = f.max((vbar - v).abs());
            }
            (r, f)
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
    (even, odd, res, flip_res)
}
