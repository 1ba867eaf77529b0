//! Exact-enumeration oracle for the samplers: sampled `⟨x_i⟩` and `⟨x_i x_j⟩` (edges) from every
//! kernel agree with the enumerated Boltzmann law, within a Monte Carlo tolerance derived from the
//! *exact* autocovariances of each moment under the kernel's own sweep operator.
//!
//! Tolerance derivation (stated once, used by every test here):
//!
//! * `C` independent chains start from the uniform law, discard `B` sweeps, then record `K` sweeps.
//!   The estimate of `E_π f` is the mean of the `C·K` recorded values.
//! * For a stationary chain the variance of one chain's `K`-sweep mean is exactly
//!   `(1/K)·[c_0 + 2 Σ_{t=1}^{K−1} (1 − t/K) c_t]` with `c_t = ⟨f̄, P^t f̄⟩_π`; we compute every
//!   `c_t` by repeated `g ← P g` with `ExactKernel::apply_right` until `|c_t| < 1e-12·c_0`
//!   (`common::variance_facts`). The `C` chains are independent, so `σ² = window / (C·K)`.
//!   (`window / c_0` → `τ_int` for large `K`; we report `τ_int = v / Var_π f`.)
//! * The start is not stationary: after `B` sweeps the law `μ_B` satisfies
//!   `|E_{μ_t} f − E_π f| ≤ ‖μ_B − π‖_1 =: d_B` for every `|f| ≤ 1` and `t ≥ B` (computed exactly
//!   with `apply_left`). We add `d_B` to the tolerance and assert it is negligible (< 0.05·σ).
//! * `tol_a = z·σ_a + d_B`, with `z` the two-sided Bonferroni value at false-alarm rate
//!   `ALPHA = 1e-4` over the moments of one *family* (CLT over `C·K` draws; `C ≥ 32` chains make
//!   the normal approximation of the chain-mean average sound). A family is one `all_kernels`
//!   call (one model × the six kernels), the three block kernels of `rbm_as_ising_with_user_coloring`,
//!   or the four non-ideal cases of `pbit_non_idealities_match_their_own_stationary_law`. The file
//!   has nine families — `sparse_models_every_kernel` 2, `dense_models_every_kernel` 2,
//!   `rbms_every_kernel` 3, `rbm_as_ising_with_user_coloring` 1, the p-bit test 1 — so its
//!   family-wise false-alarm rate is at most 9·1e-4 = 9e-4 (a test function with `f` families is
//!   at most `f`·1e-4).

mod common;

use common::*;
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::{GibbsKernel, KernelKind, Pbit};

const ALPHA: f64 = 1e-4;
const CHAINS: usize = 32;
const BURN_IN: usize = 300;
const SWEEPS: usize = 4000;

/// One (model, kernel) comparison prepared from the exact operator.
struct Case {
    label: String,
    /// Exact moments under the kernel's stationary law.
    exact: Vec<f64>,
    /// Per-moment stationary facts.
    facts: Vec<VarianceFacts>,
    /// Burn-in bias bound `d_B`.
    d_b: f64,
}

fn prepare<M: EnergyModel + ?Sized>(
    label: String,
    model: &M,
    kernel: &GibbsKernel,
    pi: &[f64],
) -> Case {
    let ek = ExactKernel::new(kernel, model).expect("enumerable");
    let table = moment_table(model);
    let exact = table.iter().map(|f| expect(pi, f)).collect();
    let facts = table
        .iter()
        .map(|f| variance_facts(&ek, pi, f, SWEEPS))
        .collect();
    let d_b = l1_after_burn_in(&ek, pi, BURN_IN);
    Case {
        label,
        exact,
        facts,
        d_b,
    }
}

/// Samples and compares; returns the largest |error| / tolerance seen.
fn check<M: EnergyModel + ?Sized>(
    case: &Case,
    model: &M,
    kernel: &GibbsKernel,
    z: f64,
    seed: u64,
) -> f64 {
    let got = flat(&sample_moments(
        model, kernel, CHAINS, BURN_IN, SWEEPS, seed,
    ));
    let n = model.n_spins();
    let mut worst = 0.0f64;
    let mut tau_max = 0.0f64;
    for (a, ((g, e), f)) in got.iter().zip(&case.exact).zip(&case.facts).enumerate() {
        let sigma = (f.window.max(0.0) / (CHAINS * SWEEPS) as f64).sqrt();
        assert!(
            case.d_b < 0.05 * sigma || f.var < 1e-300,
            "{}: burn-in bias bound {:.3e} not negligible against σ = {sigma:.3e}",
            case.label,
            case.d_b
        );
        let tol = z * sigma + case.d_b + 1e-12;
        let name = if a < n {
            format!("<x_{a}>")
        } else {
            let (i, j) = model.graph().edge(a - n);
            format!("<x_{i} x_{j}>")
        };
        assert!(
            (g - e).abs() <= tol,
            "{}: {name} sampled {g:.5}, exact {e:.5}, |Δ| = {:.2e} > tol {tol:.2e} (τ_int = {:.2})",
            case.label,
            (g - e).abs(),
            f.tau
        );
        worst = worst.max((g - e).abs() / tol);
        tau_max = tau_max.max(f.tau);
    }
    eprintln!(
        "{}: {} moments, max |Δ|/tol = {worst:.3}, τ_max = {tau_max:.2}, d_B = {:.1e}",
        case.label,
        got.len(),
        case.d_b
    );
    worst
}

/// Every kernel on one model against the ideal Boltzmann law.
fn all_kernels<M: EnergyModel + ?Sized>(name: &str, model: &M, seed: u64) {
    let law = ExactLaw::new(model).expect("enumerable");
    let n_mom = model.n_spins() + model.graph().n_edges();
    let z = bonferroni_z(ALPHA, n_mom * KernelKind::ALL.len());
    for (k, kind) in KernelKind::ALL.into_iter().enumerate() {
        let kernel = GibbsKernel::new(kind, model.graph(), None).expect("kernel");
        let case = prepare(format!("{name}/{kind}"), model, &kernel, &law.pi);
        check(&case, model, &kernel, z, seed + k as u64);
    }
}

fn rbm_biased() -> Rbm {
    // random W plus biases on both layers (Rbm::random has zero biases)
    let base = Rbm::random(5, 4, 0.6, 1.0, 7).expect("rbm");
    let b = vec![0.3, -0.2, 0.1, 0.0, -0.4];
    let c = vec![-0.1, 0.25, 0.0, 0.15];
    Rbm::new(5, 4, base.weights().to_vec(), b, c, 1.0).expect("rbm")
}

#[test]
fn sparse_models_every_kernel() {
    // biased, N = 10, Erdős–Rényi p = 0.35
    let biased = builders::random_sparse(10, 0.35, 0.6, 0.3, 1.0, 101);
    assert!(biased.graph().n_edges() > 8);
    all_kernels("sparse-biased-n10", &biased, 1000);
    // bias-free, N = 12 (flip-symmetric: ⟨x_i⟩ = 0 exactly)
    let free = builders::random_sparse(12, 0.25, 0.6, 0.0, 1.0, 102);
    assert!(free.graph().n_edges() > 8);
    all_kernels("sparse-bias-free-n12", &free, 2000);
}

#[test]
fn dense_models_every_kernel() {
    // complete graph (p = 1), biased: DSATUR needs N colours, so block kernels are single-site scans
    let biased = builders::random_sparse(8, 1.0, 0.35, 0.3, 1.0, 103);
    assert_eq!(biased.graph().n_edges(), 28);
    all_kernels("dense-biased-n8", &biased, 3000);
    // Curie–Weiss below the critical point, bias-free
    all_kernels("curie-weiss-n8", &builders::curie_weiss(8, 0.8), 4000);
}

#[test]
fn rbms_every_kernel() {
    let rbm = rbm_biased();
    all_kernels("rbm-5x4-biased", &rbm, 5000);
    // the model's natural two-block colouring is what DSATUR finds on K_{m,n}
    let k = GibbsKernel::new(KernelKind::BlkSym, rbm.graph(), None).expect("kernel");
    assert_eq!(k.coloring().map(|c| c.n_colors()), Some(2));
    let random = Rbm::random(4, 4, 0.5, 1.0, 8).expect("rbm");
    all_kernels("rbm-4x4-random", &random, 6000);
    // planted, two patterns: bias-free and bimodal (slow ⟨x_i⟩, large exact τ)
    let planted = Rbm::planted(6, 3, 2, 0.9, 1.0, 9).expect("rbm");
    all_kernels("rbm-6x3-planted", &planted, 7000);
}

/// The Ising form of an RBM with the user's two-block colouring gives the same moments.
#[test]
fn rbm_as_ising_with_user_coloring() {
    let rbm = rbm_biased();
    let ising: &IsingModel = rbm.as_ising();
    let law = ExactLaw::new(ising).expect("enumerable");
    let coloring =
        thermoq_core::Coloring::from_colors(ising.graph(), rbm.two_block_colors()).expect("proper");
    let n_mom = ising.n_spins() + ising.graph().n_edges();
    let z = bonferroni_z(ALPHA, n_mom * 3);
    for (k, kind) in [KernelKind::BlkAlt, KernelKind::BlkSym, KernelKind::BlkRs]
        .into_iter()
        .enumerate()
    {
        let kernel = GibbsKernel::new(kind, ising.graph(), Some(coloring.clone())).expect("kernel");
        let case = prepare(format!("rbm-as-ising/{kind}"), ising, &kernel, &law.pi);
        check(&case, ising, &kernel, z, 8000 + k as u64);
    }
}

/// Non-ideal p-bit cells: the sampler matches the stationary law of the *exact non-ideal
/// operator* (power iteration μ ← μP), and that law is measurably shifted from the ideal π.
#[test]
fn pbit_non_idealities_match_their_own_stationary_law() {
    let sparse = builders::random_sparse(10, 0.35, 0.6, 0.3, 1.0, 101);
    let rbm = rbm_biased();
    let n = sparse.n_spins();
    let spread = Pbit::ideal().with_spread(n, 0.3, 0.4, 77).expect("pbit");
    let spread_bits = Pbit::ideal()
        .with_spread(n, 0.2, 0.3, 78)
        .and_then(|p| p.with_bits(4))
        .expect("pbit");
    let bits_only = Pbit::ideal().with_bits(3).expect("pbit");
    let cases: Vec<(&str, &dyn EnergyModel, KernelKind, Pbit)> = vec![
        (
            "sparse/rs1/spread",
            &sparse,
            KernelKind::Rs1,
            spread.clone(),
        ),
        ("sparse/blk-sym/spread", &sparse, KernelKind::BlkSym, spread),
        (
            "sparse/blk-rs/spread+4bit",
            &sparse,
            KernelKind::BlkRs,
            spread_bits,
        ),
        ("rbm/blk-alt/3bit", &rbm, KernelKind::BlkAlt, bits_only),
    ];
    let n_mom: usize = cases
        .iter()
        .map(|c| c.1.n_spins() + c.1.graph().n_edges())
        .sum();
    let z = bonferroni_z(ALPHA, n_mom);
    for (k, (name, model, kind, pbit)) in cases.into_iter().enumerate() {
        let kernel = GibbsKernel::new(kind, model.graph(), None)
            .and_then(|g| g.with_pbit(pbit, model.n_spins()))
            .expect("kernel");
        let ek = ExactKernel::new(&kernel, model).expect("enumerable");
        let (pi_prime, iters) = stationary(&ek, 1e-15);
        let mut check_pi = pi_prime.clone();
        ek.apply_left(&mut check_pi);
        let resid = check_pi
            .iter()
            .zip(&pi_prime)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(resid < 1e-13, "{name}: π' not stationary ({resid:.1e})");
        let case = prepare(name.to_string(), model, &kernel, &pi_prime);
        check(&case, model, &kernel, z, 9000 + k as u64);
        // the shift from the ideal law, in units of this test's tolerance
        let ideal = ExactLaw::new(model).expect("enumerable");
        let table = moment_table(model);
        let shift = table
            .iter()
            .zip(&case.exact)
            .zip(&case.facts)
            .map(|((f, e), fa)| {
                let sigma = (fa.window / (CHAINS * SWEEPS) as f64).sqrt();
                (e - expect(&ideal.pi, f)).abs() / (z * sigma + case.d_b)
            })
            .fold(0.0, f64::max);
        eprintln!("{name}: π' after {iters} sweeps; max shift from ideal = {shift:.1} tolerances");
        assert!(
            shift > 3.0,
            "{name}: non-ideal law not measurably shifted from π ({shift:.2} tolerances)"
        );
    }
}
