//! Exact gradient and exact `Q_op`: every closed form against a brute-force oracle.

use faer::Mat;
use faer::linalg::solvers::Solve;
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{EnergyModel, IsingModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_snr::exact::cell::asymptotic_variances_spectral;
use thermoq_snr::exact::{
    ExactGradient, StartLaw, WindowConfig, bias_propagated, dense::dense_matrix, dense_spectrum,
    gradient_jacobian, overlaps, qop_spectral, stationary_variance_propagated,
};
use thermoq_snr::predict::{Predictor, PredictorInput, SpectralView, StructPerp};
use thermoq_spectral::Spectrum;

fn kernel(kind: KernelKind, m: &IsingModel) -> GibbsKernel {
    GibbsKernel::new(kind, m.graph(), None).expect("kernel")
}

/// The exact facts of one cell: the law, the observable table of `set`, the gradient against the
/// pattern data (seed `data_seed`), the dense spectrum of `k` and the observables' overlaps.
fn exact_cell(
    m: &IsingModel,
    k: &GibbsKernel,
    set: ObservableSet,
    data_seed: u64,
) -> (ExactLaw, Vec<Vec<f64>>, ExactGradient, Spectrum, Mat<f64>) {
    let law = ExactLaw::new(m).expect("law");
    let table = law.observable_table(m, set);
    let dm = data_means(m, set, data_seed);
    let eg = ExactGradient::new(&law.pi, &table, &dm).expect("g");
    let spec = dense_spectrum(k, m).expect("spectrum");
    let fhat = overlaps(&spec, &table).expect("overlaps");
    (law, table, eg, spec, fhat)
}

fn data_means(m: &IsingModel, set: ObservableSet, seed: u64) -> Vec<f64> {
    PatternLaw::new(m.n_spins(), &PatternSpec::new(3, 0.1, seed).expect("spec"))
        .expect("law")
        .observable_means(m.graph(), set == ObservableSet::All)
        .expect("means")
}

/// The data law draws the same patterns as the planted-Hopfield builder for the same seed.
#[test]
fn data_patterns_match_hopfield_builder() {
    let law = PatternLaw::new(9, &PatternSpec::new(3, 0.1, 42).expect("spec")).expect("law");
    assert_eq!(
        law.patterns(),
        builders::random_patterns(9, 3, 42).as_slice()
    );
}

/// `∂g_a/∂θ_b = β Cov_π(f_a, f_b)` against central differences of `g` (h = 1e-5; the FD error is
/// O(h²) ≈ 1e-10 relative, rounding O(1e-16/h) ≈ 1e-11).
#[test]
fn gradient_jacobian_matches_finite_differences() {
    let m = builders::random_sparse(5, 0.7, 0.6, 0.4, 0.9, 3);
    let law = ExactLaw::new(&m).expect("law");
    let table = law.observable_table(&m, ObservableSet::All);
    let dm = data_means(&m, ObservableSet::All, 1);
    let jac = gradient_jacobian(m.beta(), &law.pi, &table, &table).expect("jac");
    let theta = thermoq_models::EnergyModelExt::params(&m);
    let g_at = |th: &[f64]| {
        let mut mm = m.clone();
        mm.set_params(th).expect("params");
        let l = ExactLaw::new(&mm).expect("law");
        ExactGradient::new(&l.pi, &table, &dm).expect("g").g
    };
    let h = 1e-5;
    for b in 0..theta.len() {
        let (mut tp, mut tm) = (theta.clone(), theta.clone());
        tp[b] += h;
        tm[b] -= h;
        let (gp, gm) = (g_at(&tp), g_at(&tm));
        for a in 0..table.len() {
            let fd = (gp[a] - gm[a]) / (2.0 * h);
            assert!(
                (fd - jac[(a, b)]).abs() < 1e-8,
                "∂g_{a}/∂θ_{b}: fd {fd} vs analytic {}",
                jac[(a, b)]
            );
        }
    }
}

/// Spectral bias (eigen-expansion of μ₀P^k) equals plain propagation through the kernel's plan.
#[test]
fn spectral_bias_equals_propagated_bias() {
    for (m, kind) in [
        (
            builders::random_sparse(6, 0.6, 0.8, 0.3, 1.0, 11),
            KernelKind::Rs1,
        ),
        (
            builders::sherrington_kirkpatrick(6, 1.5, 2),
            KernelKind::Rs1,
        ),
        (
            builders::random_sparse(6, 0.6, 0.8, 0.3, 1.0, 12),
            KernelKind::BlkSym,
        ),
        (builders::curie_weiss(5, 2.0), KernelKind::Mh1),
    ] {
        let k = kernel(kind, &m);
        let (law, table, eg, spec, fhat) = exact_cell(&m, &k, ObservableSet::All, 5);
        let ek = ExactKernel::new(&k, &m).expect("ek");
        for (b, kw) in [(0u64, 1u64), (0, 7), (3, 20), (10, 5)] {
            let cfg = WindowConfig::new(b, kw, 1).expect("cfg");
            let q =
                qop_spectral(&spec, fhat.as_ref(), &eg.g, &StartLaw::Uniform, &cfg).expect("qop");
            let bp =
                bias_propagated(&ek, &law.pi, &table, &StartLaw::Uniform, b, kw).expect("bias");
            for (a, (x, y)) in q.bias_a.iter().zip(&bp).enumerate() {
                assert!(
                    (x - y).abs() < 1e-10,
                    "{kind} B={b} K={kw} a={a}: spectral {x} vs propagated {y}"
                );
            }
        }
    }
}

/// Brute force `Var[(1/K)Σ_k f(x_k)] = (1/K²) Σ_{k,l} Cov_π(f(x_k), f(x_l))` from dense powers
/// `P^{|k−l|}` on a 4-spin model, against the spectral closed form (reversible) and the
/// propagated autocovariance sum (any kernel, here also SS1).
#[test]
fn window_variance_matches_brute_force() {
    let m = builders::random_sparse(4, 0.9, 0.9, 0.4, 1.2, 7);
    let law = ExactLaw::new(&m).expect("law");
    let table = law.observable_table(&m, ObservableSet::All);
    let ns = law.n_states();
    for kind in [KernelKind::Rs1, KernelKind::Ss1, KernelKind::BlkRs] {
        let k = kernel(kind, &m);
        let ek = ExactKernel::new(&k, &m).expect("ek");
        let p = dense_matrix(&ek, ek.plan());
        let kw = 13usize;
        // powers P^t for t < K
        let mut pows = vec![Mat::<f64>::identity(ns, ns)];
        for t in 1..kw {
            pows.push(&pows[t - 1] * &p);
        }
        let brute: Vec<f64> = table
            .iter()
            .map(|f| {
                let mu = law.expect(f);
                let fb: Vec<f64> = f.iter().map(|v| v - mu).collect();
                let gamma: Vec<f64> = (0..kw)
                    .map(|t| {
                        (0..ns)
                            .map(|s| {
                                let pf: f64 = (0..ns).map(|u| pows[t][(s, u)] * fb[u]).sum();
                                law.pi[s] * fb[s] * pf
                            })
                            .sum()
                    })
                    .collect();
                let mut acc = 0.0;
                for a in 0..kw {
                    for b in 0..kw {
                        acc += gamma[a.abs_diff(b)];
                    }
                }
                acc / (kw * kw) as f64
            })
            .collect();
        let prop = stationary_variance_propagated(&ek, &law.pi, &table, kw as u64).expect("var");
        for (a, (x, y)) in brute.iter().zip(&prop).enumerate() {
            assert!(
                (x - y).abs() < 1e-12,
                "{kind} a={a}: brute {x} vs propagated {y}"
            );
        }
        if kind.is_reversible() {
            let spec = dense_spectrum(&k, &m).expect("spectrum");
            let fhat = overlaps(&spec, &table).expect("overlaps");
            let g = vec![0.1; table.len()];
            let cfg = WindowConfig::new(0, kw as u64, 3).expect("cfg");
            let q = qop_spectral(&spec, fhat.as_ref(), &g, &StartLaw::Uniform, &cfg).expect("q");
            for (a, (x, y)) in brute.iter().zip(&q.var_a).enumerate() {
                // C = 3 chains divide the variance by 3
                assert!(
                    (x / 3.0 - y).abs() < 1e-12,
                    "{kind} a={a}: brute {x}/3 vs {y}"
                );
            }
        }
    }
}

/// Exact asymptotic variances by a dense Poisson solve, `(I − P + 1πᵀ) u = f̄` (so `E_π u = 0`),
/// `v = 2⟨f̄,u⟩_π − ⟨f̄,f̄⟩_π`.
fn poisson_dense(p: &Mat<f64>, pi: &[f64], table: &[Vec<f64>]) -> Vec<f64> {
    let ns = pi.len();
    let a = Mat::from_fn(ns, ns, |s, t| {
        f64::from(u8::from(s == t)) - p[(s, t)] + pi[t]
    });
    let lu = a.partial_piv_lu();
    table
        .iter()
        .map(|f| {
            let mu: f64 = pi.iter().zip(f).map(|(x, y)| x * y).sum();
            let fb = Mat::from_fn(ns, 1, |s, _| f[s] - mu);
            let u = lu.solve(&fb);
            (0..ns)
                .map(|s| pi[s] * (2.0 * fb[(s, 0)] * u[(s, 0)] - fb[(s, 0)].powi(2)))
                .sum()
        })
        .collect()
}

/// Struct-perp with the full cluster (ε_cluster = 0) has `T = Σ_a v_a / 2` with `v_a` the exact
/// asymptotic variance from the Poisson equation.
#[test]
fn full_cluster_t_equals_poisson_half_variance() {
    for (m, kind) in [
        (
            builders::random_sparse(6, 0.7, 0.7, 0.3, 1.0, 21),
            KernelKind::Rs1,
        ),
        (builders::hopfield(7, 2, 1.5, 4).0, KernelKind::Rs1),
        (
            builders::random_sparse(6, 0.7, 0.7, 0.3, 1.0, 22),
            KernelKind::BlkSym,
        ),
    ] {
        let k = kernel(kind, &m);
        let law = ExactLaw::new(&m).expect("law");
        let table = law.observable_table(&m, ObservableSet::Couplings);
        let spec = dense_spectrum(&k, &m).expect("spectrum");
        let fhat = overlaps(&spec, &table).expect("overlaps");
        let ek = ExactKernel::new(&k, &m).expect("ek");
        let v = poisson_dense(&dense_matrix(&ek, ek.plan()), &law.pi, &table);
        let vs = asymptotic_variances_spectral(&spec.sigma, fhat.as_ref());
        // the project's matrix-free Poisson solver (relative residual tolerance 1e-10)
        let vp = thermoq_snr::exact::cell::asymptotic_variances_poisson(&ek, &law.pi, &table)
            .expect("poisson");
        for (x, y) in v.iter().zip(&vp) {
            assert!(
                (x - y).abs() < 1e-8 * x.abs().max(1.0),
                "{kind}: dense {x} vs matrix-free {y}"
            );
        }
        for (x, y) in v.iter().zip(&vs) {
            assert!(
                (x - y).abs() < 1e-9 * x.abs().max(1.0),
                "{kind}: poisson {x} vs spectral {y}"
            );
        }
        let var_pi: Vec<f64> = table
            .iter()
            .map(|f| {
                let mu = law.expect(f);
                law.expect(&f.iter().map(|x| (x - mu).powi(2)).collect::<Vec<_>>())
            })
            .collect();
        let sv = SpectralView {
            sigma: &spec.sigma,
            overlaps: fhat.as_ref(),
            parity: &spec.parity,
        };
        let input = PredictorInput::new(100.0, 1.0, &var_pi, Some(sv), None).expect("input");
        let p = StructPerp::full().predict(&input).expect("predict");
        let half: f64 = 0.5 * v.iter().sum::<f64>();
        assert!(
            (p.t - half).abs() < 1e-9 * half,
            "{kind}: T_full {} vs Σv/2 {half}",
            p.t
        );
    }
}

/// With an adequate burn-in, exact `Q_op` approaches `Q_struct⊥(full)` as `K/τ` grows, and the
/// relative difference falls like 1/K: `K · Var_K = Σ_a v_a − (2/K) Σ_{a,j} |f̂|² s(1−s^K)/(1−s)²`.
#[test]
fn qop_approaches_full_struct_perp_like_one_over_k() {
    let m = builders::sherrington_kirkpatrick(6, 1.0, 9);
    let k = kernel(KernelKind::Rs1, &m);
    let (_, _, eg, spec, fhat) = exact_cell(&m, &k, ObservableSet::Couplings, 3);
    let v = asymptotic_variances_spectral(&spec.sigma, fhat.as_ref());
    // every coupling of the SK model has Var_π > 0, so no observable is left out
    assert!(eg.var_pi.iter().all(|s| *s > 0.0));
    let tau_max = eg.tau_max(&v);
    let gap = 1.0 - spec.sigma[1];
    let b = (40.0 / gap).ceil() as u64; // bias ∝ σ_2^B < e^{-40}: negligible
    let sv = SpectralView {
        sigma: &spec.sigma,
        overlaps: fhat.as_ref(),
        parity: &spec.parity,
    };
    let mut rels = Vec::new();
    for mult in [10.0, 100.0, 1000.0] {
        let kw = (mult * tau_max).ceil() as u64;
        let cfg = WindowConfig::new(b, kw, 1).expect("cfg");
        let q = qop_spectral(&spec, fhat.as_ref(), &eg.g, &StartLaw::Uniform, &cfg).expect("q");
        let input =
            PredictorInput::new(kw as f64, eg.norm2(), &eg.var_pi, Some(sv), None).expect("in");
        let p = StructPerp::full().predict(&input).expect("p");
        let rel = (q.q_op / p.q - 1.0).abs();
        rels.push((kw, rel));
    }
    for w in rels.windows(2) {
        let ((k1, r1), (k2, r2)) = (w[0], w[1]);
        let scaled = (r1 * k1 as f64) / (r2 * k2 as f64);
        assert!(
            (0.8..1.25).contains(&scaled),
            "rel·K not constant: {rels:?}"
        );
    }
    assert!(rels[2].1 < 1e-2, "{rels:?}");
}
