//! Monte Carlo Q_op (SCIENCE II.4): many independent seeds, each a real run from the start law.
//!
//! Seed `s` runs `C` chains, each started uniformly at random, burns in `B` sweeps and averages the
//! gradient observables over the next `K` sweeps:
//! `ĝ_a = E_data[f_a] − (1/(C K)) Σ_c Σ_{k=B+1}^{B+K} f_a(x_k^c)`. Its squared error against a
//! reference gradient `g` is one independent draw of `‖ĝ − g‖²`; the mean over `S` seeds estimates
//! the MSE, and `Q_op = ‖g‖² / MSE`. Seeds are independent, so the MSE's standard error is the plain
//! sample standard error, and the confidence interval for `Q_op` follows by inverting the MSE's.
//!
//! Chain `c` of seed `s` draws everything (start state and sweeps) from RNG stream `s·C + c` of
//! the master seed: the result does not depend on the thread count.

use crate::SnrError;
use rayon::prelude::*;
use thermoq_core::rng::chain_rng;
use thermoq_models::{EnergyModel, EnergyModelExt, ObservableSet};
use thermoq_samplers::Kernel;

/// Settings of a Monte Carlo Q_op run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct McParams {
    /// Independent seeds `S`.
    pub seeds: usize,
    /// Burn-in `B` (sweeps).
    pub burn_in: usize,
    /// Window `K` (sweeps).
    pub window: usize,
    /// Chains per seed `C`.
    pub chains: usize,
    /// Master seed.
    pub seed: u64,
    /// Normal quantile of the confidence interval (1.96 ⇒ 95 %).
    pub z: f64,
}

impl McParams {
    /// `S` seeds of one chain each, burn-in `B`, window `K`, master seed 0, 95 % interval.
    pub fn new(seeds: usize, burn_in: usize, window: usize) -> Self {
        Self {
            seeds,
            burn_in,
            window,
            chains: 1,
            seed: 0,
            z: 1.96,
        }
    }

    /// Sets the chains per seed.
    pub fn chains(mut self, c: usize) -> Self {
        self.chains = c;
        self
    }

    /// Sets the master seed.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }

    /// Sets the normal quantile of the confidence interval.
    pub fn z(mut self, z: f64) -> Self {
        self.z = z;
        self
    }
}

/// The result of a Monte Carlo Q_op run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McQop {
    /// `‖g‖² / mean_s ‖ĝ_s − g‖²`.
    pub q_op: f64,
    /// Lower end of the confidence interval for `q_op`.
    pub q_lo: f64,
    /// Upper end (`inf` when the MSE interval reaches 0).
    pub q_hi: f64,
    /// Mean squared error over seeds.
    pub mse: f64,
    /// Standard error of `mse`.
    pub mse_se: f64,
    /// `‖mean_s ĝ_s − g‖²`: the squared bias seen through the seed average.
    pub bias_sq: f64,
    /// `‖g‖²`.
    pub g_norm_sq: f64,
    /// Seeds used.
    pub seeds: usize,
}

/// Runs `params.seeds` independent estimates of the gradient and returns `Q_op` with its interval.
///
/// `data_mean[a] = E_data[f_a]` and `g_ref[a]` the reference (exact or long-run) gradient, both over
/// the observables `set` of `model`.
pub fn monte_carlo_q_op<M, K>(
    model: &M,
    kernel: &K,
    set: ObservableSet,
    data_mean: &[f64],
    g_ref: &[f64],
    params: &McParams,
) -> Result<McQop, SnrError>
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    let na = model.n_observables(set);
    for (field, v) in [("data_mean", data_mean), ("g_ref", g_ref)] {
        if v.len() != na {
            return Err(SnrError::Invalid {
                field: field.into(),
                message: format!("has length {}, expected {na} (one per observable)", v.len()),
            });
        }
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(SnrError::NonFinite {
                chain: 0,
                index: i,
                value: v[i],
            });
        }
    }
    if params.seeds < 2 || params.window == 0 || params.chains == 0 {
        return Err(SnrError::Invalid {
            field: "monte carlo".into(),
            message: format!(
                "seeds = {}, window = {}, chains = {}: expected seeds ≥ 2, window ≥ 1, chains ≥ 1",
                params.seeds, params.window, params.chains
            ),
        });
    }
    let n = model.n_spins();
    let c = params.chains;
    // Per (seed, chain): the window sum of every observable.
    let sums: Vec<Vec<f64>> = (0..params.seeds * c)
        .into_par_iter()
        .map(|stream| {
            let mut rng = chain_rng(params.seed, stream as u64);
            let mut x: Vec<i8> = (0..n)
                .map(|_| {
                    if rand::Rng::next_u32(&mut rng) & 1 == 1 {
                        1
                    } else {
                        -1
                    }
                })
                .collect();
            for _ in 0..params.burn_in {
                kernel.sweep(model, &mut x, &mut rng);
            }
            let mut f = vec![0.0; na];
            let mut acc = vec![0.0; na];
            for _ in 0..params.window {
                kernel.sweep(model, &mut x, &mut rng);
                model.observables(&x, set, &mut f);
                acc.iter_mut().zip(&f).for_each(|(a, v)| *a += v);
            }
            acc
        })
        .collect();
    let denom = (c * params.window) as f64;
    let mut mse_draws = Vec::with_capacity(params.seeds);
    let mut mean_ghat = vec![0.0; na];
    for s in 0..params.seeds {
        let mut e2 = 0.0;
        for a in 0..na {
            let m: f64 = (0..c).map(|k| sums[s * c + k][a]).sum::<f64>() / denom;
            let ghat = data_mean[a] - m;
            mean_ghat[a] += ghat / params.seeds as f64;
            e2 += (ghat - g_ref[a]).powi(2);
        }
        mse_draws.push(e2);
    }
    let s = params.seeds as f64;
    let mse = mse_draws.iter().sum::<f64>() / s;
    let var = mse_draws.iter().map(|v| (v - mse).powi(2)).sum::<f64>() / (s - 1.0);
    let mse_se = (var / s).sqrt();
    let g2: f64 = g_ref.iter().map(|v| v * v).sum();
    let bias_sq = mean_ghat
        .iter()
        .zip(g_ref)
        .map(|(m, g)| (m - g).powi(2))
        .sum();
    let lo_mse = mse - params.z * mse_se;
    Ok(McQop {
        q_op: g2 / mse,
        q_lo: g2 / (mse + params.z * mse_se),
        q_hi: if lo_mse > 0.0 {
            g2 / lo_mse
        } else {
            f64::INFINITY
        },
        mse,
        mse_se,
        bias_sq,
        g_norm_sq: g2,
        seeds: params.seeds,
    })
}
