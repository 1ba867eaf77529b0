//! Reversibility and stationarity certificates, and the stationary law of non-ideal kernels.
//!
//! * Detailed balance: `max_{x,y} |π_x P_xy − π_y P_yx|`. For a `Repeat(Q, K)` sweep the step `Q`
//!   is certified (a π-reversible `Q` makes `Q^K` π-reversible); a uniform site mixture is
//!   certified exactly from its `N + 1` non-zeros per row at any size, other steps densely up to
//!   [`MAX_DENSE_SPINS`] spins and by random probes beyond (a lower bound, see
//!   [`reversibility_probe`]).
//! * Stationarity: `‖πP − π‖_∞` for the full sweep, always exact and matrix-free.
//! * [`stationary_law`]: power iteration `μ ← μP` for kernels whose stationary law is not the
//!   Boltzmann law (non-ideal p-bit cells).

use crate::SpectralError;
use crate::operator::{MAX_DENSE_SPINS, dense_plan_matrix, site_mixture, split_repeat};
use faer::MatRef;
use thermoq_samplers::Plan;
use thermoq_samplers::exact::ExactKernel;

/// How a reversibility residual was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidualKind {
    /// Exact maximum over all state pairs.
    Exact,
    /// Lower bound from random probe vectors (large non-sparse operators).
    Probe,
}

/// The certificates of one kernel and law.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Certificate {
    /// `max |π_x M_xy − π_y M_yx|` of the certified operator `M` (the step of a `Repeat` sweep,
    /// else the sweep).
    pub reversibility: f64,
    /// Exact or probed.
    pub reversibility_kind: ResidualKind,
    /// Power `K` with sweep `= M^K` (1 when the sweep itself was certified).
    pub power: usize,
    /// `‖πP − π‖_∞` of the full sweep.
    pub stationarity: f64,
}

/// `‖πP − π‖_∞` for the full sweep, matrix-free.
pub fn stationarity_residual(op: &ExactKernel, pi: &[f64]) -> f64 {
    let mut mu = pi.to_vec();
    op.apply_left(&mut mu);
    mu.iter()
        .zip(pi)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// `max_{x,y} |π_x P_xy − π_y P_yx|` of a dense matrix.
pub fn reversibility_residual_dense(p: MatRef<'_, f64>, pi: &[f64]) -> f64 {
    let ns = p.nrows();
    let mut r = 0.0f64;
    for y in 0..ns {
        for x in (y + 1)..ns {
            r = r.max((pi[x] * p[(x, y)] - pi[y] * p[(y, x)]).abs());
        }
    }
    r
}

/// `‖πP − π‖_∞` of a dense matrix.
pub fn stationarity_residual_dense(p: MatRef<'_, f64>, pi: &[f64]) -> f64 {
    let ns = p.nrows();
    (0..ns)
        .map(|y| {
            let s: f64 = (0..ns).map(|x| pi[x] * p[(x, y)]).sum();
            (s - pi[y]).abs()
        })
        .fold(0.0, f64::max)
}

/// Exact detailed-balance residual of a uniform site mixture (crate-internal alias).
pub(crate) fn site_mixture_residual_pub(op: &ExactKernel, sites: &[usize], pi: &[f64]) -> f64 {
    site_mixture_residual(op, sites, pi)
}

/// Exact detailed-balance residual of a uniform site mixture, from the site tables:
/// `Q[x, x⊕e_i] = flip_i(x)/m`, so only pairs differing in one mixed site can violate it.
fn site_mixture_residual(op: &ExactKernel, sites: &[usize], pi: &[f64]) -> f64 {
    let mut counts = vec![0usize; op.n()];
    for &i in sites {
        counts[i] += 1;
    }
    let w = 1.0 / sites.len() as f64;
    let mut r = 0.0f64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let p = op.p_up(i);
        let bit = 1usize << i;
        for s in 0..op.n_states() {
            if s & bit == 0 {
                let t = s | bit;
                let up = pi[s] * p[s];
                let down = pi[t] * (1.0 - p[t]);
                r = r.max(c as f64 * w * (up - down).abs());
            }
        }
    }
    r
}

/// A probe lower bound on detailed balance of `plan`: for `probes` pseudo-random `g ∈ {±1}^S`
/// (fixed seed), `max ‖π ∘ (P g) − (π ∘ g) P‖_∞`. Each entry is `Σ_x g_x (π_y P_yx − π_x P_xy)`,
/// zero for every `g` exactly when `P` is π-reversible.
pub fn reversibility_probe(op: &ExactKernel, plan: &Plan, pi: &[f64], probes: usize) -> f64 {
    let ns = op.n_states();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut r = 0.0f64;
    for _ in 0..probes {
        let g: Vec<f64> = (0..ns)
            .map(|_| {
                state = splitmix(state);
                if state >> 63 == 1 { 1.0 } else { -1.0 }
            })
            .collect();
        let mut pg = g.clone();
        op.plan_right(plan, &mut pg);
        let mut mu: Vec<f64> = g.iter().zip(pi).map(|(a, b)| a * b).collect();
        op.plan_left(plan, &mut mu);
        for s in 0..ns {
            r = r.max((pi[s] * pg[s] - mu[s]).abs());
        }
    }
    r
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The certificates of `op` with respect to `pi` (see the module docs for what is certified and
/// how).
pub fn certify(op: &ExactKernel, pi: &[f64]) -> Result<Certificate, SpectralError> {
    crate::error::check_vec("pi", pi, op.n_states())?;
    let (step, k) = split_repeat(op.plan());
    let (reversibility, reversibility_kind) = if let Some(sites) = site_mixture(step) {
        (site_mixture_residual(op, &sites, pi), ResidualKind::Exact)
    } else if op.n() <= MAX_DENSE_SPINS.min(12) {
        let m = dense_plan_matrix(op, step)?;
        (
            reversibility_residual_dense(m.as_ref(), pi),
            ResidualKind::Exact,
        )
    } else {
        (reversibility_probe(op, step, pi, 4), ResidualKind::Probe)
    };
    Ok(Certificate {
        reversibility,
        reversibility_kind,
        power: k,
        stationarity: stationarity_residual(op, pi),
    })
}

/// The stationary law of the sweep by power iteration `μ ← μP` (renormalized each sweep) from
/// `start` (uniform if `None`), until `‖μP − μ‖_∞ ≤ tol`. Returns `(π, sweeps, residual)`.
///
/// Converges geometrically at the rate of the second-largest eigenvalue modulus; start from the
/// Boltzmann law when the kernel is a small perturbation of an ideal one.
pub fn stationary_law(
    op: &ExactKernel,
    start: Option<&[f64]>,
    tol: f64,
    max_sweeps: usize,
) -> Result<(Vec<f64>, usize, f64), SpectralError> {
    let ns = op.n_states();
    if !(tol.is_finite() && tol > 0.0) {
        return Err(SpectralError::invalid(
            "tol",
            format!("is {tol}, expected a finite number > 0"),
        ));
    }
    let mut mu = match start {
        Some(s) => {
            crate::error::check_vec("start", s, ns)?;
            s.to_vec()
        }
        None => vec![1.0 / ns as f64; ns],
    };
    let mut next = mu.clone();
    let mut res = f64::INFINITY;
    for it in 1..=max_sweeps {
        next.copy_from_slice(&mu);
        op.apply_left(&mut next);
        let z: f64 = next.iter().sum();
        next.iter_mut().for_each(|v| *v /= z);
        res = next
            .iter()
            .zip(&mu)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        std::mem::swap(&mut mu, &mut next);
        if res <= tol {
            return Ok((mu, it, res));
        }
    }
    Err(SpectralError::NotConverged {
        what: "stationary law (power iteration)".into(),
        iterations: max_sweeps,
        residual: res,
        tol,
    })
}
