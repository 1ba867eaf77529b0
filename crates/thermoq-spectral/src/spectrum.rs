//! [`Spectrum`]: the eigen-decomposition of a reversible sweep kernel in L²(π), and
//! [`eigenvalues_general`] for non-reversible ones.
//!
//! [`decompose`] builds the dense step operator `Q` of the kernel (`P = Q^K`, see
//! [`crate::operator::split_repeat`]), symmetrizes it as `A = D^{1/2} Q D^{−1/2}` (after checking
//! `max |A − Aᵀ|`), optionally splits it into the even and odd flip sectors of a bias-free model,
//! diagonalizes with faer's `self_adjoint_eigen`, maps `φ_j = D^{−1/2} ψ_j` and reports sweep
//! eigenvalues `σ_j = λ_j^K`, sorted descending.

use crate::operator::{
    MAX_DENSE_SPINS, dense_plan_matrix, dense_step_matrix, direct_parity_blocks, parity_blocks,
    site_mixture, split_repeat, symmetrize_in_place,
};
use crate::{SpectralError, error::check_table};
use faer::{Mat, MatRef, Side, c64};
use thermoq_models::{EnergyModel, EnergyModelExt, exact::ExactLaw};
use thermoq_samplers::{Kernel, exact::ExactKernel};

/// Symmetry class of a mode under the global flip `x → −x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    /// `φ(−x) = φ(x)`.
    Even,
    /// `φ(−x) = −φ(x)`.
    Odd,
    /// The model has biases (no flip symmetry), or the mode mixes sectors.
    None,
}

// The same names as serde's `lowercase` form above.
thermoq_core::enum_names!(Parity {
    Even => "even",
    Odd => "odd",
    None => "none",
});

/// Eigenvalues and π-orthonormal eigenfunctions of a reversible sweep kernel.
///
/// Modes are sorted by decreasing eigenvalue; mode 0 is the constant function with `σ = 1`.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Number of spins.
    pub n: usize,
    /// Stationary law `π` over the `2^N` states.
    pub pi: Vec<f64>,
    /// Sweep-kernel eigenvalues `σ_j`, descending (`σ_0 = 1`).
    pub sigma: Vec<f64>,
    /// Column `j` is `φ_j` on all states, with `⟨φ_j, φ_k⟩_π = δ_jk`.
    pub phi: Mat<f64>,
    /// Parity of each mode.
    pub parity: Vec<Parity>,
}

/// Options of [`decompose`]. Build with `SpectralParams::default()` and adjust fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SpectralParams {
    /// Diagonalize the even and odd flip sectors separately when the model is bias-free and the
    /// operator commutes with the flip (default `true`). Halves the cost and labels every mode.
    pub parity_sectors: bool,
    /// Largest tolerated `max |A − Aᵀ|` of the symmetrized step before it is declared
    /// non-reversible (default `1e-9`).
    pub symmetry_tol: f64,
    /// Largest tolerated `‖πQ − π‖_∞` for the Boltzmann law `π` (default `1e-10`).
    pub stationarity_tol: f64,
}

impl Default for SpectralParams {
    fn default() -> Self {
        Self {
            parity_sectors: true,
            symmetry_tol: 1e-9,
            stationarity_tol: 1e-10,
        }
    }
}

impl SpectralParams {
    fn check(&self) -> Result<(), SpectralError> {
        for (field, v) in [
            ("symmetry_tol", self.symmetry_tol),
            ("stationarity_tol", self.stationarity_tol),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(SpectralError::invalid(
                    field,
                    format!("is {v}, expected a finite number > 0"),
                ));
            }
        }
        Ok(())
    }
}

/// Decomposes the sweep kernel of a reversible `kernel` on `model` in L²(π) (dense; at most
/// [`MAX_DENSE_SPINS`] spins). `π` is the model's Boltzmann law by enumeration.
///
/// Errors: the model is too large, the kernel is not reversible (by its own claim or by the
/// measured symmetry residual), `π` is not stationary, or the eigensolver fails.
pub fn decompose<K: Kernel<M>, M: EnergyModel + ?Sized>(
    kernel: &K,
    model: &M,
    params: &SpectralParams,
) -> Result<Spectrum, SpectralError> {
    params.check()?;
    let n = model.n_spins();
    if n > MAX_DENSE_SPINS {
        return Err(SpectralError::TooLarge {
            what: "dense spectral decomposition",
            n,
            max: MAX_DENSE_SPINS,
        });
    }
    if !kernel.is_reversible() {
        return Err(SpectralError::NotReversible {
            residual: f64::INFINITY,
            tol: params.symmetry_tol,
        });
    }
    let op = ExactKernel::new(kernel, model)?;
    let pi = ExactLaw::new(model)?.pi;
    let sectors = params.parity_sectors && model.is_bias_free() && n >= 1;
    decompose_operator(&op, pi, sectors, params)
}

/// [`decompose`] for an already tabulated operator and a given stationary law `pi` (e.g. from
/// [`crate::certificate::stationary_law`]). `sectors` asks for parity sectors; they are used only
/// if the operator commutes with the global flip to within `symmetry_tol`.
pub fn decompose_operator(
    op: &ExactKernel,
    pi: Vec<f64>,
    sectors: bool,
    params: &SpectralParams,
) -> Result<Spectrum, SpectralError> {
    params.check()?;
    let n = op.n();
    let ns = op.n_states();
    crate::error::check_vec("pi", &pi, ns)?;
    if let Some(index) = pi.iter().position(|&p| p <= 0.0) {
        return Err(SpectralError::invalid(
            format!("pi[{index}]"),
            format!("is {}, expected > 0 (an ergodic law)", pi[index]),
        ));
    }
    let stat = crate::certificate::stationarity_residual(op, &pi);
    if stat > params.stationarity_tol {
        return Err(SpectralError::NotStationary {
            residual: stat,
            tol: params.stationarity_tol,
        });
    }
    let k = split_repeat(op.plan()).1;
    let not_reversible = |residual: f64| SpectralError::NotReversible {
        residual,
        tol: params.symmetry_tol,
    };
    // Parity blocks `A_±` of the symmetrized step: built directly per sector for a site mixture
    // (never forming the 2^N × 2^N matrix), else split from the full symmetrized matrix.
    let mut blocks = None;
    let mut parts = Vec::new();
    let direct = match (sectors && n >= 1, site_mixture(split_repeat(op.plan()).0)) {
        (true, Some(sites)) => Some(sites),
        _ => None,
    };
    if let Some(sites) = &direct {
        let (even, odd, res, flip_res) = direct_parity_blocks(op, sites, &pi);
        if res > params.symmetry_tol {
            return Err(not_reversible(res));
        }
        if flip_res <= params.symmetry_tol {
            blocks = Some((even, odd));
        }
    }
    if blocks.is_none() {
        let (mut a, _) = dense_step_matrix(op)?;
        let res = symmetrize_in_place(&mut a, &pi);
        if res > params.symmetry_tol {
            return Err(not_reversible(res));
        }
        if sectors && n >= 1 && direct.is_none() {
            let (even, odd, flip_res) = parity_blocks(a.as_ref());
            if flip_res <= params.symmetry_tol {
                blocks = Some((even, odd));
            }
        }
        if blocks.is_none() {
            parts.push((a, Parity::None, "symmetrized step"));
        }
    }
    let sq: Vec<f64> = pi.iter().map(|p| p.sqrt()).collect();
    // (λ, parity, ψ column source)
    let mut modes: Vec<(f64, Parity, usize, usize)> = Vec::with_capacity(ns);
    let mut vecs: Vec<Mat<f64>> = Vec::new();
    let sector_used = blocks.is_some();
    if let Some((even, odd)) = blocks {
        parts = vec![(even, Parity::Even, "even"), (odd, Parity::Odd, "odd")];
    }
    for (b, (blk, par, what)) in parts.into_iter().enumerate() {
        let (vals, u) = eigh(blk.as_ref(), what)?;
        for (c, v) in vals.into_iter().enumerate() {
            modes.push((v, par, b, c));
        }
        vecs.push(u);
    }
    let power = |l: f64| l.powi(k as i32);
    // Descending sweep eigenvalue; ties broken by step eigenvalue, then sector, then column.
    modes.sort_by(|x, y| {
        power(y.0)
            .total_cmp(&power(x.0))
            .then(y.0.total_cmp(&x.0))
            .then(x.2.cmp(&y.2))
            .then(x.3.cmp(&y.3))
    });
    let half = ns / 2;
    let full = ns - 1;
    let r2 = std::f64::consts::FRAC_1_SQRT_2;
    let mut phi = Mat::<f64>::zeros(ns, ns);
    let mut sigma = Vec::with_capacity(ns);
    let mut parity = Vec::with_capacity(ns);
    for (j, &(lam, par, b, c)) in modes.iter().enumerate() {
        let u = vecs[b].col(c);
        let mut col = phi.col_mut(j);
        if sector_used {
            let sign = if par == Parity::Odd { -1.0 } else { 1.0 };
            for s in 0..half {
                col[s] = u[s] * r2 / sq[s];
                col[s ^ full] = sign * u[s] * r2 / sq[s ^ full];
            }
        } else {
            for s in 0..ns {
                col[s] = u[s] / sq[s];
            }
        }
        // Deterministic sign: the π-weighted largest entry is positive.
        let (mut best, mut at) = (0.0f64, 0);
        for s in 0..ns {
            let w = col[s].abs() * sq[s];
            if w > best * (1.0 + 1e-9) {
                best = w;
                at = s;
            }
        }
        if col[at] < 0.0 {
            for s in 0..ns {
                col[s] = -col[s];
            }
        }
        sigma.push(power(lam));
        parity.push(par);
    }
    // Mode 0 is known exactly (φ_0 = 1, σ_0 = 1); the computed one carries an error of order
    // ε/gap. Replace it and remove the (equally small) constant component from the other modes.
    if (sigma[0] - 1.0).abs() <= 1e-8 {
        sigma[0] = 1.0;
        for s in 0..ns {
            phi[(s, 0)] = 1.0;
        }
        for j in 1..ns {
            let c: f64 = (0..ns).map(|s| pi[s] * phi[(s, j)]).sum();
            for s in 0..ns {
                phi[(s, j)] -= c;
            }
        }
    }
    Ok(Spectrum {
        n,
        pi,
        sigma,
        phi,
        parity,
    })
}

/// Eigenvalues (ascending, from faer) and eigenvectors of a symmetric matrix.
fn eigh(a: MatRef<'_, f64>, what: &str) -> Result<(Vec<f64>, Mat<f64>), SpectralError> {
    let e = a
        .self_adjoint_eigen(Side::Lower)
        .map_err(|err| SpectralError::Eigen {
            what: what.into(),
            message: format!("{err:?}"),
        })?;
    let vals = e.S().column_vector().iter().copied().collect();
    Ok((vals, e.U().to_owned()))
}

impl Spectrum {
    /// Number of states `2^N`.
    pub fn n_states(&self) -> usize {
        self.pi.len()
    }

    /// Number of modes (columns of `phi`).
    pub fn n_modes(&self) -> usize {
        self.sigma.len()
    }

    /// Spectral gap of the sweep kernel, `1 − σ_2` (`σ[1]` here; 0 for a one-state model).
    pub fn gap(&self) -> f64 {
        self.sigma.get(1).map_or(0.0, |s| 1.0 - s)
    }

    /// Parity of `φ_2`, the first mode after the constant.
    pub fn phi2_parity(&self) -> Parity {
        self.parity.get(1).copied().unwrap_or(Parity::None)
    }

    /// `E_π f_a` for each observable of `table[a][s]`.
    pub fn means(&self, table: &[Vec<f64>]) -> Vec<f64> {
        table
            .iter()
            .map(|f| f.iter().zip(&self.pi).map(|(v, p)| v * p).sum())
            .collect()
    }

    /// `Var_π f_a` for each observable.
    pub fn variances(&self, table: &[Vec<f64>]) -> Vec<f64> {
        table
            .iter()
            .zip(self.means(table))
            .map(|(f, m)| {
                f.iter()
                    .zip(&self.pi)
                    .map(|(v, p)| p * (v - m).powi(2))
                    .sum()
            })
            .collect()
    }

    /// Overlaps `f̂_{a,j} = ⟨f̄_a, φ_j⟩_π` (`n_obs × n_modes`), `f̄ = f − E_π f`, for
    /// `table[a][s] = f_a(s)` (as `ExactLaw::observable_table` gives).
    ///
    /// # Panics
    /// If a row of `table` does not have `2^N` entries; use [`Spectrum::try_overlaps`] for
    /// untrusted input.
    pub fn overlaps(&self, table: &[Vec<f64>]) -> Mat<f64> {
        match self.try_overlaps(table) {
            Ok(m) => m,
            Err(e) => panic!("Spectrum::overlaps: {e}"),
        }
    }

    /// [`Spectrum::overlaps`] with a typed error for malformed tables.
    pub fn try_overlaps(&self, table: &[Vec<f64>]) -> Result<Mat<f64>, SpectralError> {
        let ns = self.n_states();
        check_table(table, ns)?;
        let means = self.means(table);
        let w = Mat::from_fn(table.len(), ns, |a, s| {
            self.pi[s] * (table[a][s] - means[a])
        });
        Ok(&w * &self.phi)
    }

    /// `max_a |f̂_{a,2}|` from an overlap matrix (0 if there is no second mode).
    pub fn phi2_max_overlap(overlaps: MatRef<'_, f64>) -> f64 {
        if overlaps.ncols() < 2 {
            return 0.0;
        }
        overlaps.col(1).iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Spectral asymptotic variance per observable,
    /// `v_a = Σ_{j≥1} |f̂_{a,j}|² (1 + σ_j)/(1 − σ_j)` (in sweeps).
    pub fn asymptotic_variances(&self, overlaps: MatRef<'_, f64>) -> Vec<f64> {
        (0..overlaps.nrows())
            .map(|a| {
                (1..overlaps.ncols())
                    .map(|j| {
                        let s = self.sigma[j];
                        overlaps[(a, j)].powi(2) * (1.0 + s) / (1.0 - s)
                    })
                    .sum()
            })
            .collect()
    }

    /// The cluster projector `Π_C u = Σ_{j∈C} ⟨u, φ_j⟩_π φ_j` applied to `u`.
    pub fn project(&self, modes: &[usize], u: &[f64]) -> Vec<f64> {
        let ns = self.n_states();
        let mut out = vec![0.0; ns];
        for &j in modes {
            let c = self.phi.col(j);
            let coef: f64 = (0..ns).map(|s| self.pi[s] * u[s] * c[s]).sum();
            for s in 0..ns {
                out[s] += coef * c[s];
            }
        }
        out
    }
}

/// General (complex) eigenvalues of the dense sweep kernel, sorted by decreasing modulus (ties by
/// argument). For `Repeat(Q, K)` plans the step `Q` is diagonalized and `λ^K` reported.
pub fn eigenvalues_general<K: Kernel<M>, M: EnergyModel + ?Sized>(
    kernel: &K,
    model: &M,
) -> Result<Vec<c64>, SpectralError> {
    let op = ExactKernel::new(kernel, model)?;
    eigenvalues_general_operator(&op)
}

/// [`eigenvalues_general`] for an already tabulated operator.
pub fn eigenvalues_general_operator(op: &ExactKernel) -> Result<Vec<c64>, SpectralError> {
    if op.n() > MAX_DENSE_SPINS {
        return Err(SpectralError::TooLarge {
            what: "general eigenvalues",
            n: op.n(),
            max: MAX_DENSE_SPINS,
        });
    }
    let (step, k) = split_repeat(op.plan());
    let m = if k > 1 {
        dense_step_matrix(op)?.0
    } else {
        dense_plan_matrix(op, step)?
    };
    let vals = m.eigenvalues().map_err(|err| SpectralError::Eigen {
        what: "sweep matrix".into(),
        message: format!("{err:?}"),
    })?;
    let mut out: Vec<c64> = vals.into_iter().map(|z| cpow(z, k)).collect();
    out.sort_by(|a, b| {
        b.norm()
            .total_cmp(&a.norm())
            .then(a.arg().total_cmp(&b.arg()))
    });
    Ok(out)
}

fn cpow(z: c64, k: usize) -> c64 {
    let mut r = c64::new(1.0, 0.0);
    for _ in 0..k {
        r *= z;
    }
    r
}
