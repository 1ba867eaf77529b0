//! `∂Q_struct⊥/∂θ` with the cluster held fixed — analytic, by the Daleckii–Krein formula.
//!
//! Write the symmetrized step operator `A = D^{1/2} P_step D^{−1/2} = Ψ Λ Ψᵀ` (for `RS1` a step
//! is one random-site heat-bath update and a sweep is `N` steps, so `σ_j = λ_j^N`), and
//! `b_a = D^{1/2} f̄_a`, so that `Ψᵀ b_a = f̂_a`. Then
//!
//! ```text
//! T_O = Σ_a b_aᵀ G_C(A) b_a,   G_C(A) = Σ_{j∈C} G(λ_j) ψ_j ψ_jᵀ,   G(λ) = g(λ^N),  g(s) = (1+s)/(2(1−s))
//! ```
//!
//! `G_C` is a spectral function of `A` (0 off the cluster) as long as `C` is a union of whole
//! degenerate groups, which [`crate::predict::select_cluster`] enforces. Its derivative along a
//! perturbation `dA` is (Daleckii–Krein) `Ψᵀ dG_C Ψ = Γ ∘ (Ψᵀ dA Ψ)` with the divided differences
//! `Γ_jk = (G̃_j − G̃_k)/(λ_j − λ_k)` (`G̃_j = G(λ_j)` on `C`, 0 off it), and `G'(λ_j) =
//! N λ_j^{N−1}/(1−σ_j)²` inside a degenerate group of the cluster (0 inside one outside it). So
//!
//! ```text
//! dT_O = Σ_a [ 2 b_aᵀ G_C db_a + b_aᵀ dG_C b_a ]
//!      = −β ⟨f̄_b, Σ_a u_a f̄_a⟩_π  +  Σ_{s,t} M_st sqrt(π_s/π_t) dP_st
//! ```
//!
//! with `u_a = Σ_{j∈C} g(σ_j) f̂_{a,j} φ_j`, `M = Ψ W Ψᵀ`, `W = Γ ∘ (F̂ᵀF̂)`. The first term uses
//! `∂ ln π/∂θ_b = −β f̄_b` (the mean shift of `f̄_a` drops out because `G_C` annihilates `ψ_0 =
//! sqrt(π)`); in the second, the `dD` part of `dA` vanishes because `tr(Λ[A, M]) = 0` for
//! diagonal `Λ` and symmetric `A`, `M`. For heat bath, `dP(s, s⊕i) = ±(1/N) dp_i(s)` with
//! `dp_i = 2β p_i(1−p_i) ∂φ_i/∂θ_b` and `dP_ss = −Σ_i dP(s, s⊕i)`; `∂φ_i/∂J_{ij} = x_j`,
//! `∂φ_i/∂h_i = 1`. Finally `∂‖g‖²/∂θ_b = 2 Σ_a g_a β Cov_π(f_a, f_b)` and
//! `dQ/Q = d‖g‖²/‖g‖² − dT_O/T_O`.
//!
//! Supported kernel: ideal heat-bath `RS1` (the exp1 kernel). Cost: one dense eigendecomposition
//! of size `2^N` plus two `2^N`-cubed products, then `O((N + E) 2^N)` per parameter.

use super::dense::DenseDecomposition;
use super::gradient::{ExactGradient, dot, gradient_jacobian};
use crate::SnrError;
use crate::predict::cluster::same_group;
use crate::predict::{SpectralView, StructPerp, mode_contributions, relevance, select_cluster};
use faer::Mat;
use thermoq_models::{EnergyModel, ObservableSet, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind};

/// `Q_struct⊥`, `T_O`, `‖g‖²` and their derivatives in every parameter.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StructPerpGradient {
    /// `Q_struct⊥ = (K/2)‖g‖²/T_O`.
    pub q: f64,
    /// `T_O`.
    pub t_o: f64,
    /// `‖g‖²`.
    pub g_norm2: f64,
    /// The cluster as mode indices in the *step* order of [`DenseDecomposition`] (decreasing
    /// `λ`); pass it to [`t_o_fixed_cluster`] to evaluate `T_O` with the cluster held fixed.
    pub cluster: Vec<usize>,
    /// `∂Q/∂θ_b` (couplings in edge order, then biases).
    pub dq: Vec<f64>,
    /// `∂T_O/∂θ_b`.
    pub dt_o: Vec<f64>,
    /// `∂‖g‖²/∂θ_b`.
    pub dg_norm2: Vec<f64>,
}

struct Parts {
    dec: DenseDecomposition,
    sigma: Vec<f64>,
    fhat: Mat<f64>,
    fbar: Vec<Vec<f64>>,
    var_pi: Vec<f64>,
}

fn check_kernel(kernel: &GibbsKernel) -> Result<(), SnrError> {
    if kernel.kind() != KernelKind::Rs1 || !kernel.pbit().is_ideal() {
        return Err(SnrError::Unsupported {
            what: "∂Q_struct⊥/∂θ",
            reason: format!(
                "kernel {} (ideal p-bits: {}); only ideal heat-bath rs1 is implemented",
                kernel.kind(),
                kernel.pbit().is_ideal()
            ),
        });
    }
    Ok(())
}

fn parts<M: EnergyModel + ?Sized>(
    model: &M,
    kernel: &GibbsKernel,
    set: ObservableSet,
) -> Result<Parts, SnrError> {
    check_kernel(kernel)?;
    let dec = DenseDecomposition::new(kernel, model)?;
    let law = ExactLaw {
        n: dec.n,
        energy: Vec::new(),
        pi: dec.pi.clone(),
    };
    let table = law.observable_table(model, set);
    let pi = &dec.pi;
    let fbar = centred(pi, &table);
    let var_pi = fbar
        .iter()
        .map(|f| pi.iter().zip(f).map(|(p, v)| p * v * v).sum())
        .collect();
    let ns = pi.len();
    let sq: Vec<f64> = pi.iter().map(|p| p.sqrt()).collect();
    // f̂_{a,j} = ψ_jᵀ (D^{1/2} f̄_a)
    let b = Mat::from_fn(fbar.len(), ns, |a, s| sq[s] * fbar[a][s]);
    let fhat = &b * &dec.psi;
    let sigma = dec.sigma_step_order();
    Ok(Parts {
        dec,
        sigma,
        fhat,
        fbar,
        var_pi,
    })
}

fn choose(p: &Parts, sp: &StructPerp) -> (Vec<usize>, Vec<f64>) {
    let sv = SpectralView {
        sigma: &p.sigma,
        overlaps: p.fhat.as_ref(),
        parity: &[],
    };
    let c = mode_contributions(&sv);
    let r = relevance(&sv, &p.var_pi);
    let ch = select_cluster(
        &c,
        &r,
        &p.sigma,
        sp.eps_overlap,
        sp.eps_cluster,
        sp.group_tol,
    );
    (ch.modes, c)
}

/// `T_O` of `model` under `kernel` with the cluster given as step-order mode indices (as returned
/// in [`StructPerpGradient::cluster`]) — the function whose derivative [`struct_perp_gradient`]
/// returns, for finite-difference checks.
pub fn t_o_fixed_cluster<M: EnergyModel + ?Sized>(
    model: &M,
    kernel: &GibbsKernel,
    set: ObservableSet,
    cluster: &[usize],
) -> Result<f64, SnrError> {
    let p = parts(model, kernel, set)?;
    let sv = SpectralView {
        sigma: &p.sigma,
        overlaps: p.fhat.as_ref(),
        parity: &[],
    };
    let c = mode_contributions(&sv);
    if let Some(&j) = cluster.iter().find(|&&j| j >= c.len() || j == 0) {
        return Err(SnrError::InvalidParam {
            name: "cluster mode index",
            value: j.to_string(),
            expected: "a non-constant mode index below 2^N",
        });
    }
    Ok(cluster.iter().map(|&j| c[j]).sum())
}

/// `Q_struct⊥` and its analytic gradient in every parameter (cluster chosen by `sp` at the
/// current θ and held fixed), for ideal heat-bath `RS1`.
pub fn struct_perp_gradient<M: EnergyModel + ?Sized>(
    model: &M,
    kernel: &GibbsKernel,
    data_means: &[f64],
    set: ObservableSet,
    window: f64,
    sp: &StructPerp,
) -> Result<StructPerpGradient, SnrError> {
    crate::predict::check_window(window)?;
    let p = parts(model, kernel, set)?;
    let (cluster, c) = choose(&p, sp);
    let n = model.n_spins();
    let beta = model.beta();
    let pi = &p.dec.pi;
    let ns = pi.len();
    let nm = ns;
    let na = p.fbar.len();
    let t_o: f64 = cluster.iter().map(|&j| c[j]).sum();

    // gradient and its Jacobian
    let law = ExactLaw {
        n,
        energy: Vec::new(),
        pi: pi.clone(),
    };
    let table = law.observable_table(model, set);
    let params = law.observable_table(model, ObservableSet::All);
    let eg = ExactGradient::new(pi, &table, data_means)?;
    let g_norm2 = eg.norm2();
    let jac = gradient_jacobian(beta, pi, &table, &params)?;
    let np = params.len();
    let dg_norm2: Vec<f64> = (0..np)
        .map(|b| 2.0 * (0..na).map(|a| eg.g[a] * jac[(a, b)]).sum::<f64>())
        .collect();

    // spectral function on the cluster
    let in_c = {
        let mut v = vec![false; nm];
        cluster.iter().for_each(|&j| v[j] = true);
        v
    };
    let lam = &p.dec.lambda;
    let sig = &p.sigma;
    let gfun = |s: f64| (1.0 + s) / (2.0 * (1.0 - s));
    let gt: Vec<f64> = (0..nm)
        .map(|j| if in_c[j] { gfun(sig[j]) } else { 0.0 })
        .collect();
    let gprime =
        |j: usize| n as f64 * lam[j].powi(n as i32 - 1) / ((1.0 - sig[j]) * (1.0 - sig[j]));
    // W = Γ ∘ (F̂ᵀ F̂), only rows/cols touching the cluster are non-zero
    let ff = p.fhat.transpose() * &p.fhat;
    let mut w = Mat::<f64>::zeros(nm, nm);
    for j in 0..nm {
        for k in 0..nm {
            if !(in_c[j] || in_c[k]) {
                continue;
            }
            let gamma = if same_group(sig[j], sig[k], sp.group_tol) || lam[j] == lam[k] {
                if in_c[j] && in_c[k] {
                    0.5 * (gprime(j) + gprime(k))
                } else {
                    // cannot happen for a group-closed cluster; treat as locally constant
                    0.0
                }
            } else {
                (gt[j] - gt[k]) / (lam[j] - lam[k])
            };
            w[(j, k)] = gamma * ff[(j, k)];
        }
    }
    let psi = &p.dec.psi;
    let mmat = psi * &w * psi.transpose();

    // first term: −β ⟨f̄_b, v⟩_π, v = Σ_a u_a f̄_a, u_a = Σ_C g_j f̂_aj φ_j
    let phi = p.dec.phi();
    let mut v = vec![0.0; ns];
    for a in 0..na {
        let coef: Vec<(usize, f64)> = cluster
            .iter()
            .map(|&j| (j, gt[j] * p.fhat[(a, j)]))
            .collect();
        for s in 0..ns {
            let u: f64 = coef.iter().map(|&(j, cj)| cj * phi[(s, j)]).sum();
            v[s] += u * p.fbar[a][s];
        }
    }
    let pbar = centred(pi, &params);

    // second term: per-site weights w_i(s)
    let ek = thermoq_samplers::exact::ExactKernel::new(kernel, model)?;
    let sq: Vec<f64> = pi.iter().map(|x| x.sqrt()).collect();
    let mut wsite = vec![vec![0.0; ns]; n];
    for (i, wi) in wsite.iter_mut().enumerate() {
        let pu = ek.p_up(i);
        let bit = 1usize << i;
        for s in 0..ns {
            let t = s ^ bit;
            let sgn = if s & bit == 0 { 1.0 } else { -1.0 };
            let pr = pu[s];
            let dp_dphi = 2.0 * beta * pr * (1.0 - pr);
            wi[s] = sgn * dp_dphi / n as f64 * (mmat[(s, t)] * sq[s] / sq[t] - mmat[(s, s)]);
        }
    }
    let g = model.graph();
    let spin = |s: usize, i: usize| if (s >> i) & 1 == 1 { 1.0 } else { -1.0 };
    let mut dt_o = vec![0.0; np];
    for (b, dt) in dt_o.iter_mut().enumerate() {
        let first = -beta
            * dot(
                pi,
                &pbar[b]
                    .iter()
                    .zip(&v)
                    .map(|(x, y)| x * y)
                    .collect::<Vec<_>>(),
            );
        let second: f64 = if b < g.n_edges() {
            let (i, j) = g.edge(b);
            (0..ns)
                .map(|s| wsite[i][s] * spin(s, j) + wsite[j][s] * spin(s, i))
                .sum()
        } else {
            wsite[b - g.n_edges()].iter().sum()
        };
        *dt = first + second;
    }
    let q = crate::exact::qop::ratio(0.5 * window * g_norm2, t_o);
    let dq = (0..np)
        .map(|b| q * (dg_norm2[b] / g_norm2 - dt_o[b] / t_o))
        .collect();
    Ok(StructPerpGradient {
        q,
        t_o,
        g_norm2,
        cluster,
        dq,
        dt_o,
        dg_norm2,
    })
}

/// Every function of `table` minus its π-mean: `f̄ = f − E_π[f]`.
fn centred(pi: &[f64], table: &[Vec<f64>]) -> Vec<Vec<f64>> {
    table
        .iter()
        .map(|f| {
            let m = dot(pi, f);
            f.iter().map(|v| v - m).collect()
        })
        .collect()
}
