//! Matrix-free Poisson solver: exact asymptotic variances `v_a` and `τ_int` without any
//! eigendecomposition.
//!
//! For a sweep kernel `P` with stationary law `π` and a centred observable `f̄ = f − E_π f`, the
//! Poisson equation `(I − P) u = f̄`, `E_π u = 0` gives
//! `v = 2⟨f̄, u⟩_π − ⟨f̄, f̄⟩_π = ⟨f̄, (I + P)(I − P)^{−1} f̄⟩_π` and `τ_int = v / Var_π f`.
//!
//! Methods ([`PoissonMethod`]):
//!
//! * [`PoissonMethod::Lanczos`] (reversible, the default): conjugate gradients in their Lanczos form
//!   on the *step* `Q` of a `Repeat(Q, K)` sweep (`RS1`/`MH1`: one random site, `N·2^N` work;
//!   `BLK-RS`: one colour class), in the π-weighted inner product, projecting out the constant every
//!   iteration. With `P = Q^K`, the Lanczos relation `Q V_m ≈ V_m T_m` gives
//!   `u_m = ‖f̄‖_π V_m (I − T_m^K)^{−1} e_1` — the same Krylov space serves the shifted systems
//!   `(I − ω^k Q) x_k = f̄` of the partial-fraction split
//!   `(I − Q^K)^{−1} = (1/K) Σ_{k<K} (I − ω^k Q)^{−1}`, `ω = e^{2πi/K}` (multi-shift CG). The
//!   hardest shift is `k = 0` (the step Poisson equation), whose CG residual
//!   `β_m |e_mᵀ (I − T_m)^{−1} e_1|` is the stopping rule. Each iteration costs one step (`1/K` of a
//!   sweep), so the cost is that of CG on `I − Q`: about `√(K τ)` iterations of `N·2^N` pair updates
//!   instead of `√τ` iterations of `N²·2^N` for CG on the sweep. A second pass regenerates the
//!   Lanczos vectors (bit-identically; dot products are reduced in a fixed order) to form `u`, whose
//!   true residual `‖f̄ − (I − P)u‖_π / ‖f̄‖_π` is then measured with one exact sweep.
//! * [`PoissonMethod::SweepCg`] (reversible): plain CG on `I − P` with the full sweep (cross-check).
//! * [`PoissonMethod::BiCgStab`] (any ergodic kernel, required for non-reversible ones): BiCGSTAB on
//!   `I − P` in the Euclidean inner product; `u` is centred afterwards (constants span the kernel
//!   of `I − P`, and `f̄` lies in its range because `π f̄ = 0`).

use crate::SpectralError;
use crate::certificate::{reversibility_probe, site_mixture_residual_pub};
use crate::error::{check_table, check_vec};
use crate::operator::{FastOp, site_mixture, split_repeat};
use faer::{Mat, Side};
use rayon::prelude::*;
use std::ops::Range;
use thermoq_samplers::Plan;
use thermoq_samplers::exact::ExactKernel;

/// Which solver [`asymptotic_variances`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PoissonMethod {
    /// Lanczos on the reversible step if certified, else on the reversible sweep, else BiCGSTAB.
    Auto,
    /// Multi-shift CG (Lanczos form) on the step `Q` of `P = Q^K` (reversible `Q` required).
    Lanczos,
    /// CG on `I − P` with the full sweep (reversible `P` required).
    SweepCg,
    /// BiCGSTAB on `I − P` (any ergodic kernel).
    BiCgStab,
}

/// Options of [`asymptotic_variances`]. `Default` + `#[non_exhaustive]`: adjust fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoissonParams {
    /// Relative residual tolerance (default `1e-10`).
    pub tol: f64,
    /// Iteration cap per observable (default `100_000`).
    pub max_iter: usize,
    /// Solver choice (default [`PoissonMethod::Auto`]).
    pub method: PoissonMethod,
    /// Form `u` and measure the true residual with one exact sweep (default `true`; the Lanczos
    /// route then costs two passes).
    pub compute_residual: bool,
    /// Memory, in bytes, the sector Lanczos route ([`crate::sector_asymptotic_variances`]) may
    /// use to keep each observable's Lanczos vectors from the first pass, so that `u` is formed
    /// from them instead of regenerating them in a second pass of step applications (default
    /// 4 GiB; `0` always regenerates). Observables whose vectors do not fit are regenerated;
    /// either way the vectors, and so the results, are the same bit for bit.
    pub store_bytes: usize,
}

impl Default for PoissonParams {
    fn default() -> Self {
        Self {
            tol: 1e-10,
            max_iter: 100_000,
            method: PoissonMethod::Auto,
            compute_residual: true,
            store_bytes: 4 << 30,
        }
    }
}

/// The Poisson-route result for one observable.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PoissonResult {
    /// `E_π f`.
    pub mean: f64,
    /// `Var_π f`.
    pub variance: f64,
    /// Asymptotic variance `v = 2⟨f̄,u⟩_π − ⟨f̄,f̄⟩_π` (per sweep).
    pub asymptotic_variance: f64,
    /// `τ_int = v / Var_π f` in sweeps (1 by convention for a constant observable, `v = 0`).
    pub tau_int: f64,
    /// Iterations of the solver (Lanczos: step applications of the first pass).
    pub iterations: usize,
    /// `‖f̄ − (I − P)u‖_π / ‖f̄‖_π` measured with an exact sweep (the solver's own estimate when
    /// `compute_residual` is off; 0 for a constant observable).
    pub residual: f64,
    /// The method that produced the result.
    pub method: PoissonMethod,
}

impl PoissonResult {
    /// The result for an observable that is constant under `π` (`Var_π f` at rounding level):
    /// no solve, `v = 0`, `τ_int = 1` by convention, residual 0.
    pub fn constant(mean: f64, variance: f64, method: PoissonMethod) -> Self {
        Self {
            mean,
            variance,
            asymptotic_variance: 0.0,
            tau_int: 1.0,
            iterations: 0,
            residual: 0.0,
            method,
        }
    }
}

/// Exact asymptotic variances of the observables `table[a][s]` under the sweep kernel of `op`
/// with stationary law `pi` (which must be stationary for `op`; for non-ideal kernels see
/// [`crate::certificate::stationary_law`]).
pub fn asymptotic_variances(
    op: &ExactKernel,
    pi: &[f64],
    table: &[Vec<f64>],
    params: &PoissonParams,
) -> Result<Vec<PoissonResult>, SpectralError> {
    let ns = op.n_states();
    check_vec("pi", pi, ns)?;
    check_table(table, ns)?;
    if !(params.tol.is_finite() && params.tol > 0.0) {
        return Err(SpectralError::Invalid {
            field: "tol".into(),
            message: format!("is {}, expected a finite number > 0", params.tol),
        });
    }
    let (method, plan, k) = choose(op, pi, params.method);
    let solve = |f: &Vec<f64>| solve_one(op, pi, f, &plan, k, method, params);
    if ns < 1 << 16 {
        table.par_iter().map(solve).collect()
    } else {
        table.iter().map(solve).collect()
    }
}

/// Resolves `Auto` and returns `(method, plan iterated by the method, power K)`.
fn choose(op: &ExactKernel, pi: &[f64], method: PoissonMethod) -> (PoissonMethod, Plan, usize) {
    let (step, k) = split_repeat(op.plan());
    let pmax = pi.iter().copied().fold(0.0, f64::max);
    let thr = 1e-9 * pmax;
    let step_rev = || match site_mixture(step) {
        Some(sites) => site_mixture_residual_pub(op, &sites, pi) <= thr,
        None => reversibility_probe(op, step, pi, 2) <= thr,
    };
    match method {
        PoissonMethod::Lanczos => (method, step.clone(), k),
        PoissonMethod::SweepCg | PoissonMethod::BiCgStab => (method, op.plan().clone(), 1),
        PoissonMethod::Auto => {
            if step_rev() {
                (PoissonMethod::Lanczos, step.clone(), k)
            } else if k > 1 && reversibility_probe(op, op.plan(), pi, 2) <= thr {
                (PoissonMethod::Lanczos, op.plan().clone(), 1)
            } else {
                (PoissonMethod::BiCgStab, op.plan().clone(), 1)
            }
        }
    }
}

/// `part(0..len)`, or from `2^16` entries on, the sum of `part` over consecutive `2^14`-entry
/// ranges computed in parallel and added in range order: a fixed reduction order, deterministic
/// under rayon.
fn fixed_order_sum(len: usize, part: impl Fn(Range<usize>) -> f64 + Sync) -> f64 {
    const CH: usize = 1 << 14;
    if len < 1 << 16 {
        return part(0..len);
    }
    let parts: Vec<f64> = (0..len.div_ceil(CH))
        .into_par_iter()
        .map(|c| part(c * CH..((c + 1) * CH).min(len)))
        .collect();
    parts.iter().sum()
}

/// π-weighted inner product, reduced in a fixed order (deterministic under rayon).
fn dot(pi: &[f64], a: &[f64], b: &[f64]) -> f64 {
    fixed_order_sum(pi.len(), |r| {
        let (p, x, y) = (&pi[r.clone()], &a[r.clone()], &b[r]);
        p.iter().zip(x).zip(y).map(|((p, x), y)| p * x * y).sum()
    })
}

/// Euclidean inner product, fixed reduction order.
fn edot(a: &[f64], b: &[f64]) -> f64 {
    fixed_order_sum(a.len(), |r| {
        let (x, y) = (&a[r.clone()], &b[r]);
        x.iter().zip(y).map(|(x, y)| x * y).sum()
    })
}

fn center(pi: &[f64], v: &mut [f64]) {
    let m = edot(pi, v);
    v.iter_mut().for_each(|x| *x -= m);
}

/// `‖f̄ − (I − P)u‖_π / ‖f̄‖_π` with one exact sweep.
fn true_residual(op: &ExactKernel, pi: &[f64], fbar: &[f64], u: &[f64]) -> f64 {
    let mut pu = u.to_vec();
    let mut scratch = vec![0.0; u.len()];
    FastOp::new(op.plan()).apply(op, &mut pu, &mut scratch);
    let r: Vec<f64> = (0..u.len()).map(|s| fbar[s] - u[s] + pu[s]).collect();
    (dot(pi, &r, &r) / dot(pi, fbar, fbar)).sqrt()
}

fn solve_one(
    op: &ExactKernel,
    pi: &[f64],
    f: &[f64],
    plan: &Plan,
    k: usize,
    method: PoissonMethod,
    params: &PoissonParams,
) -> Result<PoissonResult, SpectralError> {
    let mean: f64 = pi.iter().zip(f).map(|(p, v)| p * v).sum();
    let fbar: Vec<f64> = f.iter().map(|v| v - mean).collect();
    let variance = dot(pi, &fbar, &fbar);
    if variance <= 1e-28 * (1.0 + mean * mean) {
        return Ok(PoissonResult::constant(mean, variance, method));
    }
    let (u, iterations, est) = match method {
        PoissonMethod::Lanczos | PoissonMethod::Auto => lanczos(op, pi, &fbar, plan, k, params)?,
        PoissonMethod::SweepCg => sweep_cg(&System::new(op, pi, &fbar), params)?,
        PoissonMethod::BiCgStab => bicgstab(&System::new(op, pi, &fbar), params)?,
    };
    let (v, residual) = match u {
        Some(u) => (
            2.0 * dot(pi, &fbar, &u) - variance,
            true_residual(op, pi, &fbar, &u),
        ),
        None => (est.0, est.1),
    };
    Ok(PoissonResult {
        mean,
        variance,
        asymptotic_variance: v,
        tau_int: v / variance,
        iterations,
        residual,
        method,
    })
}

/// Outcome: `(u if formed, iterations, (v estimate, residual estimate))`.
type Solved = (Option<Vec<f64>>, usize, (f64, f64));

/// One Lanczos step in L²(π): `w = Q q − α q − β_prev q_prev`, centred, with one extra
/// Gram–Schmidt pass against `q`. Returns `(α, β, w/β)`.
fn lanczos_step(
    op: &ExactKernel,
    fast: &FastOp,
    pi: &[f64],
    q: &[f64],
    q_prev: &[f64],
    beta_prev: f64,
) -> (f64, f64, Vec<f64>) {
    let mut w = q.to_vec();
    let mut scratch = vec![0.0; q.len()];
    fast.apply(op, &mut w, &mut scratch);
    center(pi, &mut w);
    let mut alpha = dot(pi, &w, q);
    w.iter_mut()
        .zip(q)
        .zip(q_prev)
        .for_each(|((x, a), b)| *x -= alpha * a + beta_prev * b);
    let a2 = dot(pi, &w, q);
    w.iter_mut().zip(q).for_each(|(x, a)| *x -= a2 * a);
    alpha += a2;
    let beta = dot(pi, &w, &w).sqrt();
    if beta > 0.0 {
        w.iter_mut().for_each(|x| *x /= beta);
    }
    (alpha, beta, w)
}

/// Ritz values `θ`, first and last eigenvector components of a tridiagonal `T_m`.
type Ritz = (Vec<f64>, Vec<f64>, Vec<f64>);

/// Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal matrix with diagonal
/// `alpha` and off-diagonal `beta` (`alpha.len() − 1` entries).
fn tridiagonal_eigen(alpha: &[f64], beta: &[f64]) -> Result<(Vec<f64>, Mat<f64>), SpectralError> {
    let m = alpha.len();
    let t = Mat::from_fn(m, m, |i, j| {
        if i == j {
            alpha[i]
        } else if i == j + 1 {
            beta[j]
        } else if j == i + 1 {
            beta[i]
        } else {
            0.0
        }
    });
    let e = t
        .self_adjoint_eigen(Side::Lower)
        .map_err(|err| SpectralError::Eigen {
            what: "Lanczos tridiagonal".into(),
            message: format!("{err:?}"),
        })?;
    let theta = e.S().column_vector().iter().copied().collect();
    Ok((theta, e.U().to_owned()))
}

/// Ritz pairs of the tridiagonal `T_m`: eigenvalues and first components of eigenvectors, and
/// last components.
pub(crate) fn ritz(alpha: &[f64], beta: &[f64]) -> Result<Ritz, SpectralError> {
    let m = alpha.len();
    let (theta, u) = tridiagonal_eigen(alpha, beta)?;
    let first = (0..m).map(|i| u[(0, i)]).collect();
    let last = (0..m).map(|i| u[(m - 1, i)]).collect();
    Ok((theta, first, last))
}

fn lanczos(
    op: &ExactKernel,
    pi: &[f64],
    fbar: &[f64],
    plan: &Plan,
    k: usize,
    params: &PoissonParams,
) -> Result<Solved, SpectralError> {
    let ns = fbar.len();
    let norm0 = dot(pi, fbar, fbar).sqrt();
    let fast = FastOp::new(plan);
    let start: Vec<f64> = fbar.iter().map(|v| v / norm0).collect();
    let mut alphas = Vec::new();
    let mut betas: Vec<f64> = Vec::new();
    let (mut q, mut q_prev, mut beta_prev) = (start.clone(), vec![0.0; ns], 0.0);
    let mut check_at = 8usize;
    let mut est = (f64::NAN, f64::INFINITY);
    let mut converged = false;
    while alphas.len() < params.max_iter {
        let (a, b, w) = lanczos_step(op, &fast, pi, &q, &q_prev, beta_prev);
        alphas.push(a);
        betas.push(b);
        let breakdown = b <= 1e-14;
        if alphas.len() >= check_at || breakdown {
            check_at = alphas.len() + (alphas.len() / 8).max(4);
            est = lanczos_estimate(&alphas, &betas, k, norm0, breakdown)?;
            let res = est.1;
            if res <= params.tol {
                converged = true;
                break;
            }
        }
        q_prev = std::mem::replace(&mut q, w);
        beta_prev = b;
    }
    if !converged {
        return Err(SpectralError::NotConverged {
            what: "Poisson (Lanczos)".into(),
            iterations: alphas.len(),
            residual: est.1,
            tol: params.tol,
        });
    }
    let m = alphas.len();
    if !params.compute_residual {
        return Ok((None, m, est));
    }
    // Second pass: u = ‖f̄‖ V_m g(T_m) e_1.
    let coef = lanczos_coefficients(&alphas, &betas[..m - 1], k, norm0)?;
    let mut u = vec![0.0; ns];
    let (mut q, mut q_prev, mut beta_prev) = (start, vec![0.0; ns], 0.0);
    for (j, c) in coef.iter().enumerate() {
        u.iter_mut().zip(&q).for_each(|(x, v)| *x += c * v);
        if j + 1 == m {
            break;
        }
        let (_, b, w) = lanczos_step(op, &fast, pi, &q, &q_prev, beta_prev);
        q_prev = std::mem::replace(&mut q, w);
        beta_prev = b;
    }
    center(pi, &mut u);
    Ok((Some(u), m, est))
}

/// After `m` Lanczos steps (`alphas`, `betas` both of length `m`): the estimate
/// `v ≈ ‖f̄‖² (2 e_1ᵀ g(T_m) e_1 − 1)` and the relative CG residual of the step equation
/// `(I − Q)x = f̄` (the hardest shift), `β_m |e_mᵀ (I − T_m)^{−1} e_1|` (0 at a breakdown).
pub(crate) fn lanczos_estimate(
    alphas: &[f64],
    betas: &[f64],
    k: usize,
    norm0: f64,
    breakdown: bool,
) -> Result<(f64, f64), SpectralError> {
    let m = alphas.len();
    let g = |l: f64| 1.0 / (1.0 - l.powi(k as i32));
    let (theta, first, last) = ritz(alphas, &betas[..m - 1])?;
    let quad: f64 = theta.iter().zip(&first).map(|(t, z)| z * z * g(*t)).sum();
    let y_last: f64 = theta
        .iter()
        .zip(&first)
        .zip(&last)
        .map(|((t, z0), zm)| z0 * zm / (1.0 - t))
        .sum();
    let res = if breakdown {
        0.0
    } else {
        betas[m - 1] * y_last.abs()
    };
    Ok((norm0 * norm0 * (2.0 * quad - 1.0), res))
}

/// The coefficients of `u = ‖f̄‖ V_m g(T_m) e_1` in the Lanczos basis, `g(λ) = 1/(1 − λ^K)`, for
/// the tridiagonal `T_m` with diagonal `alphas` and off-diagonal `betas` (`m − 1` entries).
pub(crate) fn lanczos_coefficients(
    alphas: &[f64],
    betas: &[f64],
    k: usize,
    norm0: f64,
) -> Result<Vec<f64>, SpectralError> {
    let m = alphas.len();
    let g = |l: f64| 1.0 / (1.0 - l.powi(k as i32));
    let (theta, u) = tridiagonal_eigen(alphas, betas)?;
    Ok((0..m)
        .map(|r| {
            (0..m)
                .map(|i| u[(r, i)] * u[(0, i)] * g(theta[i]))
                .sum::<f64>()
                * norm0
        })
        .collect())
}

/// The Poisson equation `(I − P)u = f̄` of one centred observable `fbar` on the exact kernel `op`
/// with stationary law `pi`, as the Krylov solvers see it.
struct System<'a> {
    op: &'a ExactKernel,
    pi: &'a [f64],
    fbar: &'a [f64],
    fast: FastOp,
}

impl<'a> System<'a> {
    fn new(op: &'a ExactKernel, pi: &'a [f64], fbar: &'a [f64]) -> Self {
        let fast = FastOp::new(op.plan());
        Self { op, pi, fbar, fast }
    }

    /// `(I − P)v` by one exact sweep; `scratch` (the length of `v`) is the sweep's work space.
    fn apply(&self, v: &[f64], scratch: &mut [f64]) -> Vec<f64> {
        let mut w = v.to_vec();
        self.fast.apply(self.op, &mut w, scratch);
        w.iter_mut().zip(v).for_each(|(a, b)| *a = b - *a);
        w
    }
}

fn sweep_cg(sys: &System<'_>, params: &PoissonParams) -> Result<Solved, SpectralError> {
    let (pi, fbar) = (sys.pi, sys.fbar);
    let ns = fbar.len();
    let nb = dot(pi, fbar, fbar).sqrt();
    let mut x = vec![0.0; ns];
    let mut r = fbar.to_vec();
    let mut p = r.clone();
    let mut rr = dot(pi, &r, &r);
    let mut scratch = vec![0.0; ns];
    for it in 1..=params.max_iter {
        let mut ap = sys.apply(&p, &mut scratch);
        center(pi, &mut ap);
        let alpha = rr / dot(pi, &p, &ap);
        x.iter_mut().zip(&p).for_each(|(a, v)| *a += alpha * v);
        r.iter_mut().zip(&ap).for_each(|(a, v)| *a -= alpha * v);
        center(pi, &mut r);
        let rr_new = dot(pi, &r, &r);
        let rel = rr_new.sqrt() / nb;
        if rel <= params.tol {
            center(pi, &mut x);
            let v = 2.0 * dot(pi, fbar, &x) - nb * nb;
            return Ok((Some(x), it, (v, rel)));
        }
        let beta = rr_new / rr;
        rr = rr_new;
        p.iter_mut().zip(&r).for_each(|(a, v)| *a = v + beta * *a);
    }
    Err(SpectralError::NotConverged {
        what: "Poisson (sweep CG)".into(),
        iterations: params.max_iter,
        residual: rr.sqrt() / nb,
        tol: params.tol,
    })
}

fn bicgstab(sys: &System<'_>, params: &PoissonParams) -> Result<Solved, SpectralError> {
    let (pi, fbar) = (sys.pi, sys.fbar);
    let ns = fbar.len();
    let mut scratch = vec![0.0; ns];
    let mut apply = |v: &[f64]| sys.apply(v, &mut scratch);
    let nb = edot(fbar, fbar).sqrt();
    let mut x = vec![0.0; ns];
    let mut r = fbar.to_vec();
    let rhat = r.clone();
    let (mut rho, mut alpha, mut omega) = (1.0, 1.0, 1.0);
    let mut v = vec![0.0; ns];
    let mut p = vec![0.0; ns];
    let mut rel = 1.0;
    for it in 1..=params.max_iter {
        let rho_new = edot(&rhat, &r);
        let beta = (rho_new / rho) * (alpha / omega);
        rho = rho_new;
        for s in 0..ns {
            p[s] = r[s] + beta * (p[s] - omega * v[s]);
        }
        v = apply(&p);
        alpha = rho / edot(&rhat, &v);
        let sv: Vec<f64> = (0..ns).map(|i| r[i] - alpha * v[i]).collect();
        x.iter_mut().zip(&p).for_each(|(a, b)| *a += alpha * b);
        let srel = edot(&sv, &sv).sqrt() / nb;
        if srel <= params.tol {
            rel = srel;
            center(pi, &mut x);
            let vv = 2.0 * dot(pi, fbar, &x) - dot(pi, fbar, fbar);
            return Ok((Some(x), it, (vv, rel)));
        }
        let t = apply(&sv);
        omega = edot(&t, &sv) / edot(&t, &t);
        x.iter_mut().zip(&sv).for_each(|(a, b)| *a += omega * b);
        r = (0..ns).map(|i| sv[i] - omega * t[i]).collect();
        rel = edot(&r, &r).sqrt() / nb;
        if rel <= params.tol {
            center(pi, &mut x);
            let vv = 2.0 * dot(pi, fbar, &x) - dot(pi, fbar, fbar);
            return Ok((Some(x), it, (vv, rel)));
        }
        if !rel.is_finite() || omega == 0.0 {
            break;
        }
    }
    Err(SpectralError::NotConverged {
        what: "Poisson (BiCGSTAB)".into(),
        iterations: params.max_iter,
        residual: rel,
        tol: params.tol,
    })
}
