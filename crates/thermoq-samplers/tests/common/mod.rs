//! Shared helpers for the exact-oracle statistical suites: tabulated moments, exact
//! autocovariances from the sweep operator, stationary laws of non-ideal operators, Bonferroni
//! z-values and the batch-sampler driver.
//!
//! Conventions: a function on states is a `Vec<f64>` of length `2^N` indexed by the state index
//! (bit `i` set ⇔ `x_i = +1`); a law is a probability vector of the same length.

#![allow(dead_code)]

use thermoq_core::state::spin_of;
use thermoq_models::EnergyModel;
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::observe::{MomentObserver, Moments};
use thermoq_samplers::{BatchSampler, ChainBatch, Kernel};

/// `⟨u, v⟩_μ = Σ_s μ(s) u(s) v(s)`.
pub fn dot_mu(mu: &[f64], u: &[f64], v: &[f64]) -> f64 {
    mu.iter().zip(u).zip(v).map(|((m, a), b)| m * a * b).sum()
}

/// `E_μ[f]`.
pub fn expect(mu: &[f64], f: &[f64]) -> f64 {
    mu.iter().zip(f).map(|(m, a)| m * a).sum()
}

/// The moment functions in the order `MomentObserver` reports them: `x_i` for every spin, then
/// `x_i x_j` for every edge in edge order.
pub fn moment_table<M: EnergyModel + ?Sized>(model: &M) -> Vec<Vec<f64>> {
    let n = model.n_spins();
    let ns = 1usize << n;
    let mut out = Vec::with_capacity(n + model.graph().n_edges());
    for i in 0..n {
        out.push((0..ns).map(|s| f64::from(spin_of(s as u64, i))).collect());
    }
    for (i, j) in model.graph().edges() {
        out.push(
            (0..ns)
                .map(|s| f64::from(spin_of(s as u64, i) * spin_of(s as u64, j)))
                .collect(),
        );
    }
    out
}

/// Sampled moments flattened in the same order as [`moment_table`].
pub fn flat(m: &Moments) -> Vec<f64> {
    m.m1.iter().chain(&m.m2_edges).copied().collect()
}

/// Exact stationary variance facts of one observable under a sweep operator.
#[derive(Clone, Copy, Debug)]
pub struct VarianceFacts {
    /// `Var_π[f]`.
    pub var: f64,
    /// Asymptotic variance `v = c_0 + 2 Σ_{t≥1} c_t`, `c_t = ⟨f̄, P^t f̄⟩_π`.
    pub asym: f64,
    /// `K · Var[(1/K) Σ_{t=1}^K f(X_t)]` for a stationary chain: `c_0 + 2 Σ_{t=1}^{K−1} (1 − t/K) c_t`.
    pub window: f64,
    /// `τ_int = v / Var_π[f]` (sweeps).
    pub tau: f64,
    /// Lags summed before the autocovariance became negligible.
    pub lags: usize,
}

/// Exact autocovariances `c_t = ⟨f̄, P^t f̄⟩_π` by repeated `g ← P g` (valid for any kernel, reversible
/// or not, as long as `pi` is its stationary law), summed until `|c_t|` and `|c_{t+1}|` both fall
/// below `1e-12 · c_0` (geometric decay makes the neglected tail smaller still) or `max_lag`.
pub fn variance_facts(ek: &ExactKernel, pi: &[f64], f: &[f64], window: usize) -> VarianceFacts {
    const MAX_LAG: usize = 20_000;
    let m = expect(pi, f);
    let fbar: Vec<f64> = f.iter().map(|v| v - m).collect();
    let c0 = dot_mu(pi, &fbar, &fbar);
    let mut g = fbar.clone();
    let (mut asym, mut win) = (c0, c0);
    let mut small = 0;
    let mut t = 0;
    if c0 > 0.0 {
        while t < MAX_LAG {
            t += 1;
            ek.apply_right(&mut g);
            let ct = dot_mu(pi, &fbar, &g);
            asym += 2.0 * ct;
            if t < window {
                win += 2.0 * (1.0 - t as f64 / window as f64) * ct;
            }
            if ct.abs() < 1e-12 * c0 {
                small += 1;
                if small >= 2 {
                    break;
                }
            } else {
                small = 0;
            }
        }
        assert!(
            t < MAX_LAG,
            "autocovariance did not decay within {MAX_LAG} sweeps"
        );
    }
    VarianceFacts {
        var: c0,
        asym,
        window: win,
        tau: if c0 > 0.0 { asym / c0 } else { 1.0 },
        lags: t,
    }
}

/// The stationary law of an exact operator by power iteration `μ ← μP` from the uniform law,
/// until `‖μP − μ‖_1 < tol`. Returns the law and the number of sweeps it took.
pub fn stationary(ek: &ExactKernel, tol: f64) -> (Vec<f64>, usize) {
    let ns = ek.n_states();
    let mut mu = vec![1.0 / ns as f64; ns];
    let mut next = mu.clone();
    for it in 1..=200_000 {
        ek.apply_left(&mut next);
        let d: f64 = next.iter().zip(&mu).map(|(a, b)| (a - b).abs()).sum();
        mu.copy_from_slice(&next);
        if d < tol {
            let z: f64 = mu.iter().sum();
            mu.iter_mut().for_each(|p| *p /= z);
            return (mu, it);
        }
    }
    panic!("power iteration did not converge to {tol}");
}

/// `Σ_s |μ_B(s) − π(s)|` (twice the total-variation distance) after `burn_in` sweeps from the
/// uniform start law that `ChainBatch::uniform` draws from. For any `|f| ≤ 1` and every later
/// sweep `t ≥ B`, `|E_{μ_t} f − E_π f| ≤` this number (total variation never increases under a
/// Markov kernel), so it bounds the burn-in bias of every recorded moment.
pub fn l1_after_burn_in(ek: &ExactKernel, pi: &[f64], burn_in: usize) -> f64 {
    let ns = ek.n_states();
    let mut mu = vec![1.0 / ns as f64; ns];
    for _ in 0..burn_in {
        ek.apply_left(&mut mu);
    }
    mu.iter().zip(pi).map(|(a, b)| (a - b).abs()).sum()
}

/// Complementary error function (Numerical Recipes `erfcc`, Chebyshev fit with fractional error
/// below 1.2e-7 everywhere — ample for choosing a z-value).
pub fn erfc(x: f64) -> f64 {
    // Horner form of the same polynomial, innermost coefficient first (the same floating-point
    // operations as the nested expression; written as a loop because rustfmt is exponential on
    // the deeply nested form).
    const C: [f64; 9] = [
        0.170_872_77,
        -0.822_152_23,
        1.488_515_87,
        -1.135_203_98,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_68,
    ];
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let mut poly = C[0];
    for &c in &C[1..] {
        poly = c + t * poly;
    }
    let ans = t * (-z * z - 1.265_512_23 + t * poly).exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// `z` with `P(|Z| > z) = alpha / m` for a standard normal `Z`: the two-sided Bonferroni
/// critical value for `m` simultaneous tests at family-wise false-alarm rate `alpha`.
pub fn bonferroni_z(alpha: f64, m: usize) -> f64 {
    let target = alpha / m as f64; // P(|Z| > z) = erfc(z / √2)
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if erfc(mid / std::f64::consts::SQRT_2) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Runs `chains` chains from the uniform start law (seeded), discards `burn_in` sweeps and records
/// `sweeps` sweeps of moments.
pub fn sample_moments<M, K>(
    model: &M,
    kernel: &K,
    chains: usize,
    burn_in: usize,
    sweeps: usize,
    seed: u64,
) -> Moments
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    let mut batch = ChainBatch::uniform(chains, model.n_spins(), seed);
    let mut s = BatchSampler::new(model, kernel, chains, seed);
    s.run(&mut batch, burn_in, sweeps, |_| MomentObserver::new(model))
        .expect("batch matches the model")
        .moments()
}

/// Dense sweep matrix `P[x][y]` built row by row from `apply_left` on unit vectors.
pub fn dense_matrix(ek: &ExactKernel) -> Vec<Vec<f64>> {
    let ns = ek.n_states();
    (0..ns)
        .map(|x| {
            let mut e = vec![0.0; ns];
            e[x] = 1.0;
            ek.apply_left(&mut e);
            e
        })
        .collect()
}

/// `max_{x,y} |π_x P_xy − π_y P_yx|`.
pub fn detailed_balance_residual(p: &[Vec<f64>], pi: &[f64]) -> f64 {
    let ns = pi.len();
    let mut r = 0.0f64;
    for x in 0..ns {
        for y in x + 1..ns {
            r = r.max((pi[x] * p[x][y] - pi[y] * p[y][x]).abs());
        }
    }
    r
}

/// `max_y |(πP)_y − π_y|`.
pub fn stationarity_residual(p: &[Vec<f64>], pi: &[f64]) -> f64 {
    let ns = pi.len();
    let mut r = 0.0f64;
    for y in 0..ns {
        let v: f64 = (0..ns).map(|x| pi[x] * p[x][y]).sum();
        r = r.max((v - pi[y]).abs());
    }
    r
}

/// The replicate-chain check of the statistical suites: `means` are the per-chain time averages
/// of one observable over independent chains, so `SE = sd(means)/√C` includes the
/// autocorrelation; asserts `|mean − exact| ≤ z·SE + 1e-12` (naming `what`) and returns
/// `|mean − exact|/SE` (0 when `SE = 0`).
pub fn replicate_check(means: &[f64], exact: f64, z: f64, what: &str) -> f64 {
    let c = means.len() as f64;
    let mean = means.iter().sum::<f64>() / c;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (c - 1.0);
    let se = (var / c).sqrt();
    let err = (mean - exact).abs();
    assert!(
        err <= z * se + 1e-12,
        "{what}: sampled {mean:.5} vs exact {exact:.5} (SE {se:.2e})"
    );
    if se > 0.0 { err / se } else { 0.0 }
}
