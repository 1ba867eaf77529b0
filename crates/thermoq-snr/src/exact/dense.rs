//! A small dense L²(π) eigendecomposition of a reversible kernel, kept inside this crate.
//!
//! The derivative of `Q_struct⊥` ([`super::dstruct`]) needs the eigenvectors of the symmetrized
//! *step* operator `A = D^{1/2} P_step D^{−1/2}` (for `RS1` a step is one random-site update and a
//! sweep is `N` steps, so the sweep eigenvalues are `λ^N`), in a fixed, documented order — so it
//! builds them here rather than through `thermoq-spectral`'s per-sector solver. It is also the
//! reference that crate's spectra are cross-checked against in tests.

use crate::SnrError;
use faer::{Mat, Side};
use thermoq_models::{EnergyModel, EnergyModelExt, exact::ExactLaw};
use thermoq_samplers::{Kernel, Plan, exact::ExactKernel};
use thermoq_spectral::{Parity, Spectrum};

/// Eigen-decomposition of the symmetrized step operator of a reversible kernel.
#[derive(Clone, Debug)]
pub struct DenseDecomposition {
    /// Number of spins.
    pub n: usize,
    /// Stationary law.
    pub pi: Vec<f64>,
    /// Steps per sweep `r` (`N` for `RS1`/`MH1`, `k` for `BLK-RS`, 1 otherwise).
    pub steps_per_sweep: usize,
    /// Step eigenvalues `λ_j`, descending.
    pub lambda: Vec<f64>,
    /// Column `j` is the unit eigenvector `ψ_j` of `A = D^{1/2} P_step D^{−1/2}`.
    pub psi: Mat<f64>,
}

/// The step plan and the number of steps per sweep of a sweep plan (`Repeat(step, r)`).
pub fn split_step(plan: &Plan) -> (&Plan, usize) {
    match plan {
        Plan::Repeat(p, r) => (p.as_ref(), *r),
        p => (p, 1),
    }
}

impl DenseDecomposition {
    /// Builds and diagonalizes the dense step operator of `kernel` on `model`.
    pub fn new<M, K>(kernel: &K, model: &M) -> Result<Self, SnrError>
    where
        M: EnergyModel + ?Sized,
        K: Kernel<M>,
    {
        if !kernel.is_reversible() {
            return Err(SnrError::Unsupported {
                what: "dense L²(π) eigendecomposition",
                reason: "the kernel is not reversible; use the propagation / Poisson routes".into(),
            });
        }
        let law = ExactLaw::new(model)?;
        let ek = ExactKernel::new(kernel, model)?;
        let (step, r) = split_step(ek.plan());
        let p = dense_matrix(&ek, step);
        Self::from_step_matrix(model.n_spins(), law.pi, &p, r)
    }

    /// Diagonalizes a given dense step matrix `P_step` (rows sum to 1, reversible w.r.t. `pi`).
    pub fn from_step_matrix(
        n: usize,
        pi: Vec<f64>,
        p: &Mat<f64>,
        steps_per_sweep: usize,
    ) -> Result<Self, SnrError> {
        let ns = pi.len();
        if p.nrows() != ns || p.ncols() != ns {
            return Err(SnrError::Shape {
                what: "step matrix",
                found: p.nrows(),
                expected: ns,
            });
        }
        let sq: Vec<f64> = pi.iter().map(|v| v.sqrt()).collect();
        // A_st = sqrt(π_s/π_t) P_st, symmetrized to remove rounding asymmetry
        let a = Mat::from_fn(ns, ns, |s, t| {
            let x = sq[s] / sq[t] * p[(s, t)];
            let y = sq[t] / sq[s] * p[(t, s)];
            0.5 * (x + y)
        });
        let evd = a
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| SnrError::Numerical {
                layer: "faer eigh",
                message: format!("{e:?}"),
            })?;
        let u = evd.U();
        let sdiag = evd.S().column_vector();
        // faer sorts ascending; we want descending
        let lambda: Vec<f64> = (0..ns).rev().map(|j| sdiag[j]).collect();
        let mut psi = Mat::from_fn(ns, ns, |s, j| u[(s, ns - 1 - j)]);
        // fix the sign of the constant mode so that ψ_0 = +sqrt(π)
        let s0: f64 = (0..ns).map(|s| psi[(s, 0)] * sq[s]).sum();
        if s0 < 0.0 {
            for s in 0..ns {
                psi[(s, 0)] = -psi[(s, 0)];
            }
        }
        Ok(Self {
            n,
            pi,
            steps_per_sweep,
            lambda,
            psi,
        })
    }

    /// Sweep eigenvalue of step eigenvalue `λ`: `λ^r`.
    pub fn sweep_eigenvalue(&self, lambda: f64) -> f64 {
        lambda.powi(self.steps_per_sweep as i32)
    }

    /// Sweep eigenvalues `σ_j = λ_j^r` in the step order of [`Self::lambda`].
    pub fn sigma_step_order(&self) -> Vec<f64> {
        self.lambda
            .iter()
            .map(|&l| self.sweep_eigenvalue(l))
            .collect()
    }

    /// The π-orthonormal eigenfunction values `φ_j(s) = ψ_j(s)/sqrt(π_s)`.
    pub fn phi(&self) -> Mat<f64> {
        let ns = self.pi.len();
        Mat::from_fn(ns, ns, |s, j| self.psi[(s, j)] / self.pi[s].sqrt())
    }

    /// As a [`Spectrum`]: modes re-sorted by decreasing *sweep* eigenvalue, parity measured on
    /// each eigenfunction (`None` if it is neither even nor odd to 1e-8, or if `bias_free` is false).
    pub fn to_spectrum(&self, bias_free: bool) -> Spectrum {
        let ns = self.pi.len();
        let sig = self.sigma_step_order();
        let mut order: Vec<usize> = (0..ns).collect();
        // the constant mode first, then by decreasing σ (stable for ties)
        order[1..].sort_by(|&a, &b| sig[b].total_cmp(&sig[a]));
        let phi_step = self.phi();
        let phi = Mat::from_fn(ns, ns, |s, j| phi_step[(s, order[j])]);
        let full = ns - 1;
        let parity = (0..ns)
            .map(|j| {
                if !bias_free {
                    return Parity::None;
                }
                let (mut even, mut odd) = (0.0f64, 0.0f64);
                for s in 0..ns {
                    let (a, b) = (phi[(s, j)], phi[(s ^ full, j)]);
                    even = even.max((a - b).abs());
                    odd = odd.max((a + b).abs());
                }
                if even < 1e-8 {
                    Parity::Even
                } else if odd < 1e-8 {
                    Parity::Odd
                } else {
                    Parity::None
                }
            })
            .collect();
        Spectrum {
            n: self.n,
            pi: self.pi.clone(),
            sigma: order.iter().map(|&j| sig[j]).collect(),
            phi,
            parity,
        }
    }
}

/// Dense matrix of `plan` over all states: row `s` is `e_s P_plan`.
pub fn dense_matrix(ek: &ExactKernel, plan: &Plan) -> Mat<f64> {
    let ns = ek.n_states();
    let mut m = Mat::zeros(ns, ns);
    let mut mu = vec![0.0; ns];
    for s in 0..ns {
        mu.iter_mut().for_each(|v| *v = 0.0);
        mu[s] = 1.0;
        ek.plan_left(plan, &mut mu);
        for (t, &v) in mu.iter().enumerate() {
            m[(s, t)] = v;
        }
    }
    m
}

/// Convenience: the [`Spectrum`] of a reversible kernel by dense diagonalization (small N).
pub fn dense_spectrum<M, K>(kernel: &K, model: &M) -> Result<Spectrum, SnrError>
where
    M: EnergyModel + ?Sized,
    K: Kernel<M>,
{
    Ok(DenseDecomposition::new(kernel, model)?.to_spectrum(model.is_bias_free()))
}
