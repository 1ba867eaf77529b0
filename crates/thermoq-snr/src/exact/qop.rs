//! Exact `Q_op` for enumerable models (SCIENCE.md II.4).
//!
//! One chain starts from `x_0 ~ μ₀`, discards `B` sweeps and averages `f_a` over sweeps
//! `k = B+1..B+K`: `ĝ_a = E_data[f_a] − (1/K) Σ_{k=B+1}^{B+K} f_a(x_k)`; `C` independent chains
//! are averaged. The mean squared error splits into
//!
//! * the exact **bias** `E[ĝ_a] − g_a = −(1/K) Σ_k (μ₀P^k − π) f_a`. For a reversible kernel with
//!   sweep eigenvalues `s_j` and π-orthonormal modes `φ_j`:
//!   `(μ₀P^k − π) f_a = Σ_{j≥1} ⟨μ₀/π, φ_j⟩_π f̂_{a,j} s_j^k` ([`qop_spectral`]); for any kernel,
//!   by propagating `μ_k = μ₀ P^k` ([`bias_propagated`]);
//! * the exact finite-window **stationary variance** (the preprint's convention),
//!   `Var_a = (1/K²) Σ_{j≥1} |f̂_{a,j}|² [K(1+s_j)/(1−s_j) − 2 s_j (1−s_j^K)/(1−s_j)²] / C`
//!   (see [`super::window`]), or for any kernel from the propagated autocovariances
//!   `γ_t = ⟨f̄_a, P^t f̄_a⟩_π` ([`stationary_variance_propagated`]).
//!
//! `Q_op = ‖g‖² / Σ_a (bias_a² + Var_a)`.

use super::gradient::{check_table, dot};
use super::window::{bias_factor, variance_factor};
use crate::SnrError;
use faer::{Mat, MatRef};
use thermoq_samplers::exact::ExactKernel;
use thermoq_spectral::Spectrum;

/// The law of the chain's start state `x_0`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum StartLaw {
    /// Uniform over all `2^N` states (the project's convention).
    #[default]
    Uniform,
    /// A given probability vector over states.
    Given(Vec<f64>),
}

impl StartLaw {
    /// The start law as a probability vector over `n_states` states, validated (length, finite,
    /// non-negative, sums to 1 within 1e-9).
    pub fn vector(&self, n_states: usize) -> Result<Vec<f64>, SnrError> {
        match self {
            Self::Uniform => Ok(vec![1.0 / n_states as f64; n_states]),
            Self::Given(v) => {
                if v.len() != n_states {
                    return Err(SnrError::Shape {
                        what: "start law",
                        found: v.len(),
                        expected: n_states,
                    });
                }
                if let Some(i) = v.iter().position(|x| !x.is_finite() || *x < 0.0) {
                    return Err(SnrError::NonFiniteInput {
                        what: "start law (finite, >= 0)",
                        index: i,
                        value: v[i],
                    });
                }
                let t: f64 = v.iter().sum();
                if (t - 1.0).abs() > 1e-9 {
                    return Err(SnrError::InvalidParam {
                        name: "start law total mass",
                        value: t.to_string(),
                        expected: "1 (within 1e-9)",
                    });
                }
                Ok(v.clone())
            }
        }
    }
}

/// Burn-in `B`, window `K` (sweeps) and number of independent chains `C` of one estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowConfig {
    /// Sweeps discarded after the start.
    pub burn_in: u64,
    /// Sweeps averaged (`K ≥ 1`).
    pub window: u64,
    /// Independent chains averaged (`C ≥ 1`).
    pub chains: u64,
}

impl WindowConfig {
    /// Validates `K ≥ 1` and `C ≥ 1`.
    pub fn new(burn_in: u64, window: u64, chains: u64) -> Result<Self, SnrError> {
        if window == 0 {
            return Err(SnrError::InvalidParam {
                name: "window K",
                value: "0".into(),
                expected: "at least 1 sweep",
            });
        }
        if chains == 0 {
            return Err(SnrError::InvalidParam {
                name: "chains C",
                value: "0".into(),
                expected: "at least 1 chain",
            });
        }
        Ok(Self {
            burn_in,
            window,
            chains,
        })
    }
}

/// The exact operational SNR and its parts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QopExact {
    /// `Q_op = ‖g‖² / mse`.
    pub q_op: f64,
    /// `‖g‖²`.
    pub g_norm2: f64,
    /// `E‖ĝ − g‖² = Σ_a bias_a² + Var_a`.
    pub mse: f64,
    /// `Σ_a bias_a²`.
    pub bias2: f64,
    /// `Σ_a Var_a` (already divided by `C`).
    pub variance: f64,
    /// Per-observable bias `E[ĝ_a] − g_a`.
    pub bias_a: Vec<f64>,
    /// Per-observable variance `Var[ĝ_a]` (already divided by `C`).
    pub var_a: Vec<f64>,
}

impl QopExact {
    /// Assembles the report from per-observable bias and variance.
    pub fn from_parts(g_norm2: f64, bias_a: Vec<f64>, var_a: Vec<f64>) -> Self {
        let bias2: f64 = bias_a.iter().map(|b| b * b).sum();
        let variance: f64 = var_a.iter().sum();
        let mse = bias2 + variance;
        Self {
            q_op: ratio(g_norm2, mse),
            g_norm2,
            mse,
            bias2,
            variance,
            bias_a,
            var_a,
        }
    }
}

/// `num / den` with `0/0 = 0` (no signal) and `x/0 = +∞`.
pub(crate) fn ratio(num: f64, den: f64) -> f64 {
    if num == 0.0 {
        0.0
    } else if den == 0.0 {
        f64::INFINITY
    } else {
        num / den
    }
}

/// Overlaps `f̂_{a,j} = ⟨f̄_a, φ_j⟩_π` (`n_obs × n_modes`) of tabulated observables with the modes
/// of `spec`.
pub fn overlaps(spec: &Spectrum, table: &[Vec<f64>]) -> Result<Mat<f64>, SnrError> {
    check_table(&spec.pi, table)?;
    let ns = spec.pi.len();
    if spec.phi.nrows() != ns {
        return Err(SnrError::Shape {
            what: "spectrum phi rows",
            found: spec.phi.nrows(),
            expected: ns,
        });
    }
    let means: Vec<f64> = table.iter().map(|f| dot(&spec.pi, f)).collect();
    let w = Mat::from_fn(table.len(), ns, |a, s| {
        spec.pi[s] * (table[a][s] - means[a])
    });
    Ok(&w * &spec.phi)
}

/// Start coefficients `⟨μ₀/π, φ_j⟩_π = Σ_x μ₀(x) φ_j(x)` for every mode.
pub fn start_coefficients(spec: &Spectrum, mu0: &[f64]) -> Vec<f64> {
    (0..spec.phi.ncols())
        .map(|j| (0..mu0.len()).map(|s| mu0[s] * spec.phi[(s, j)]).sum())
        .collect()
}

/// Exact `Q_op` of a reversible kernel from its spectrum (`overlaps` is `n_obs × n_modes` from
/// [`overlaps`], `g` the exact gradient).
pub fn qop_spectral(
    spec: &Spectrum,
    overlaps: MatRef<'_, f64>,
    g: &[f64],
    start: &StartLaw,
    cfg: &WindowConfig,
) -> Result<QopExact, SnrError> {
    let nm = spec.sigma.len();
    if overlaps.ncols() != nm {
        return Err(SnrError::Shape {
            what: "overlap columns (modes)",
            found: overlaps.ncols(),
            expected: nm,
        });
    }
    if overlaps.nrows() != g.len() {
        return Err(SnrError::Shape {
            what: "overlap rows (observables)",
            found: overlaps.nrows(),
            expected: g.len(),
        });
    }
    let mu0 = start.vector(spec.pi.len())?;
    let a0 = start_coefficients(spec, &mu0);
    let mf: Vec<f64> = spec
        .sigma
        .iter()
        .map(|&s| bias_factor(s, cfg.burn_in, cfg.window))
        .collect();
    let vf: Vec<f64> = spec
        .sigma
        .iter()
        .map(|&s| variance_factor(s, cfg.window))
        .collect();
    let c = cfg.chains as f64;
    let mut bias_a = Vec::with_capacity(g.len());
    let mut var_a = Vec::with_capacity(g.len());
    for a in 0..g.len() {
        let (mut b, mut v) = (0.0, 0.0);
        for j in 1..nm {
            let f = overlaps[(a, j)];
            b += a0[j] * f * mf[j];
            v += f * f * vf[j];
        }
        // ĝ subtracts the chain average, so its bias is minus the average's bias
        bias_a.push(-b);
        var_a.push(v / c);
    }
    Ok(QopExact::from_parts(
        g.iter().map(|x| x * x).sum(),
        bias_a,
        var_a,
    ))
}

/// Exact bias `E[ĝ_a] − g_a = −(1/K) Σ_{k=B+1}^{B+K} (μ_k − π)·f_a` by propagating `μ_k = μ₀P^k`
/// through the kernel's plan (any kernel). Propagation stops early once `‖μ_k − π‖₁ < 1e-17`,
/// after which the remaining terms are zero to machine precision.
pub fn bias_propagated(
    ek: &ExactKernel,
    pi: &[f64],
    table: &[Vec<f64>],
    start: &StartLaw,
    burn_in: u64,
    window: u64,
) -> Result<Vec<f64>, SnrError> {
    check_table(pi, table)?;
    let ns = ek.n_states();
    if pi.len() != ns {
        return Err(SnrError::Shape {
            what: "stationary law",
            found: pi.len(),
            expected: ns,
        });
    }
    let mut mu = start.vector(ns)?;
    let mut acc = vec![0.0; ns];
    let settled = |mu: &[f64]| mu.iter().zip(pi).map(|(a, b)| (a - b).abs()).sum::<f64>() < 1e-17;
    for _ in 0..burn_in {
        if settled(&mu) {
            break;
        }
        ek.apply_left(&mut mu);
    }
    for _ in 0..window {
        if settled(&mu) {
            break;
        }
        ek.apply_left(&mut mu);
        acc.iter_mut()
            .zip(mu.iter().zip(pi))
            .for_each(|(a, (m, p))| *a += m - p);
    }
    let k = window as f64;
    Ok(table
        .iter()
        .map(|f| -acc.iter().zip(f).map(|(d, v)| d * v).sum::<f64>() / k)
        .collect())
}

/// Exact finite-window stationary variance of the K-sweep mean of each `f_a` (one chain), any
/// kernel: `(1/K²)[K γ_0 + 2 Σ_{t=1}^{K−1} (K−t) γ_t]` with `γ_t = ⟨f̄_a, P^t f̄_a⟩_π` obtained by
/// applying the kernel to `f̄_a` repeatedly. Stops once `max_s |P^t f̄_a|` falls below `1e-17` of
/// its start value (later terms are below rounding).
pub fn stationary_variance_propagated(
    ek: &ExactKernel,
    pi: &[f64],
    table: &[Vec<f64>],
    window: u64,
) -> Result<Vec<f64>, SnrError> {
    check_table(pi, table)?;
    let k = window as f64;
    Ok(table
        .iter()
        .map(|f| {
            let m = dot(pi, f);
            let fbar: Vec<f64> = f.iter().map(|v| v - m).collect();
            let scale = fbar.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let gamma0: f64 = pi.iter().zip(&fbar).map(|(p, v)| p * v * v).sum();
            let mut acc = k * gamma0;
            let mut u = fbar.clone();
            for t in 1..window {
                ek.apply_right(&mut u);
                let gt: f64 = pi
                    .iter()
                    .zip(&fbar)
                    .zip(&u)
                    .map(|((p, a), b)| p * a * b)
                    .sum();
                acc += 2.0 * (k - t as f64) * gt;
                if u.iter().fold(0.0f64, |a, v| a.max(v.abs())) <= 1e-17 * scale {
                    break;
                }
            }
            acc / (k * k)
        })
        .collect())
}

/// Exact `Q_op` of any kernel by propagation (bias from [`bias_propagated`], variance from
/// [`stationary_variance_propagated`] divided by `C`). Cost grows with `B + K`; meant for small
/// models and non-reversible kernels.
pub fn qop_propagated(
    ek: &ExactKernel,
    pi: &[f64],
    table: &[Vec<f64>],
    g: &[f64],
    start: &StartLaw,
    cfg: &WindowConfig,
) -> Result<QopExact, SnrError> {
    if g.len() != table.len() {
        return Err(SnrError::Shape {
            what: "gradient",
            found: g.len(),
            expected: table.len(),
        });
    }
    let bias_a = bias_propagated(ek, pi, table, start, cfg.burn_in, cfg.window)?;
    let c = cfg.chains as f64;
    let var_a = stationary_variance_propagated(ek, pi, table, cfg.window)?
        .into_iter()
        .map(|v| v / c)
        .collect();
    Ok(QopExact::from_parts(
        g.iter().map(|x| x * x).sum(),
        bias_a,
        var_a,
    ))
}
