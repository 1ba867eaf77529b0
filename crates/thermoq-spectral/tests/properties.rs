//! Property tests of the spectral algebra on random small models (N = 3..8, bias-free and
//! biased): π-orthonormality, cluster projectors, parity, spectral vs Poisson asymptotic
//! variances, dense vs matrix-free operators, certificates. All oracles are exact (enumeration);
//! tolerances are rounding-level.

use faer::Mat;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::matrix_free::LinOp;
use proptest::prelude::*;
use thermoq_models::{EnergyModel, IsingModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::certificate::certify;
use thermoq_spectral::operator::{
    PlanOperator, dense_plan_matrix, dense_step_matrix, dense_sweep_matrix, split_repeat,
};
use thermoq_spectral::{
    Parity, PoissonParams, SpectralParams, Spectrum, asymptotic_variances, decompose,
};

const REVERSIBLE: [KernelKind; 4] = [
    KernelKind::Rs1,
    KernelKind::Mh1,
    KernelKind::BlkSym,
    KernelKind::BlkRs,
];

/// A random model: `n` spins, edge probability `p`, couplings N(0, 0.8²), biases N(0, 0.3²)
/// unless bias-free.
fn model(n: usize, p: f64, bias_free: bool, beta: f64, seed: u64) -> IsingModel {
    builders::random_sparse(n, p, 0.8, if bias_free { 0.0 } else { 0.3 }, beta, seed)
}

fn kernel_strategy() -> impl Strategy<Value = KernelKind> {
    prop::sample::select(REVERSIBLE.to_vec())
}

fn pseudo(seed: u64, len: usize) -> Vec<f64> {
    let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            z ^= z << 13;
            z ^= z >> 7;
            z ^= z << 17;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

fn dot_pi(pi: &[f64], a: &[f64], b: &[f64]) -> f64 {
    pi.iter().zip(a).zip(b).map(|((p, x), y)| p * x * y).sum()
}

proptest! {
    // Fixed RNG seed: the same 24 models on every run (issue 18, item 8).
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5bec_0001),
        ..ProptestConfig::default()
    })]

    /// ΦᵀDΦ = I, φ_0 = 1, σ_0 = 1, σ descending, and the spectral asymptotic variance equals the
    /// Poisson-solver value (≤ 1e-8 relative) for every observable.
    #[test]
    fn orthonormal_and_poisson_agrees(
        n in 3usize..=8, p in 0.3f64..1.0, bias_free in any::<bool>(), beta in 0.2f64..1.5,
        seed in 0u64..1000, kind in kernel_strategy(),
    ) {
        let m = model(n, p, bias_free, beta, seed);
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
        let ns = sp.n_states();
        let mut gram = Mat::<f64>::zeros(ns, ns);
        for i in 0..ns {
            for j in 0..=i {
                let v: f64 = (0..ns).map(|s| sp.pi[s] * sp.phi[(s, i)] * sp.phi[(s, j)]).sum();
                gram[(i, j)] = v;
            }
        }
        for i in 0..ns {
            for j in 0..=i {
                let want = if i == j { 1.0 } else { 0.0 };
                prop_assert!((gram[(i, j)] - want).abs() <= 1e-10, "gram[{i},{j}] = {}", gram[(i, j)]);
            }
        }
        prop_assert!((sp.sigma[0] - 1.0).abs() <= 1e-12);
        // φ = D^{-1/2} ψ: pointwise rounding is amplified by 1/√π_s, so compare in ψ-space
        // (weights √π_s), the L²(π)-meaningful scale.
        let e0 = (0..ns).map(|s| sp.pi[s].sqrt() * (sp.phi[(s, 0)] - 1.0).abs()).fold(0.0, f64::max);
        prop_assert!(e0 <= 1e-12, "φ_0 − 1 = {e0}");
        prop_assert!(sp.sigma.windows(2).all(|w| w[0] >= w[1]));
        prop_assert!(sp.sigma[1] < 1.0 - 1e-12);

        let law = ExactLaw::new(&m).unwrap();
        let t = law.observable_table(&m, ObservableSet::All);
        let ov = sp.overlaps(&t);
        let vs = sp.asymptotic_variances(ov.as_ref());
        let op = ExactKernel::new(&k, &m).unwrap();
        let res = asymptotic_variances(&op, &law.pi, &t, &PoissonParams::default()).unwrap();
        for (a, r) in res.iter().enumerate() {
            if r.variance == 0.0 { continue; }
            let rel = (r.asymptotic_variance - vs[a]).abs() / vs[a].abs();
            prop_assert!(rel <= 1e-8, "{kind} obs {a}: poisson {} spectral {}", r.asymptotic_variance, vs[a]);
            prop_assert!((r.tau_int - vs[a] / r.variance).abs() <= 1e-8 * r.tau_int);
        }
    }

    /// Π_C u = Σ_{j∈C} ⟨u, φ_j⟩_π φ_j is idempotent and self-adjoint in L²(π) for a random C.
    #[test]
    fn cluster_projector_is_orthogonal(
        n in 3usize..=7, bias_free in any::<bool>(), beta in 0.2f64..1.5, seed in 0u64..1000,
        kind in kernel_strategy(), mask in any::<u64>(),
    ) {
        let m = model(n, 0.7, bias_free, beta, seed);
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
        let ns = sp.n_states();
        let c: Vec<usize> = (0..ns).filter(|j| (mask.rotate_left(*j as u32) & 1) == 1).collect();
        let u = pseudo(seed + 1, ns);
        let v = pseudo(seed + 2, ns);
        let pu = sp.project(&c, &u);
        let ppu = sp.project(&c, &pu);
        let idem = pu.iter().zip(&ppu).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        prop_assert!(idem <= 1e-10, "idempotence {idem}");
        let pv = sp.project(&c, &v);
        let sa = (dot_pi(&sp.pi, &pu, &v) - dot_pi(&sp.pi, &u, &pv)).abs();
        prop_assert!(sa <= 1e-10, "self-adjointness {sa}");
    }

    /// h = 0: every eigenfunction is even or odd (checked on the vectors, not just the labels),
    /// and odd modes have zero overlap with every coupling observable.
    #[test]
    fn bias_free_modes_have_parity(
        n in 3usize..=8, p in 0.3f64..1.0, beta in 0.2f64..2.0, seed in 0u64..1000,
        kind in kernel_strategy(),
    ) {
        let m = model(n, p, true, beta, seed);
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
        let ns = sp.n_states();
        let full = ns - 1;
        for j in 0..ns {
            let sign = match sp.parity[j] {
                Parity::Even => 1.0,
                Parity::Odd => -1.0,
                Parity::None => { prop_assert!(false, "mode {j} has no parity"); 0.0 }
            };
            // π(s̄) = π(s) here; compared in ψ-space (weights √π_s) as for φ_0 above.
            let err = (0..ns)
                .map(|s| sp.pi[s].sqrt() * (sp.phi[(s ^ full, j)] - sign * sp.phi[(s, j)]).abs())
                .fold(0.0, f64::max);
            prop_assert!(err <= 1e-12, "mode {j}: parity error {err}");
        }
        let law = ExactLaw::new(&m).unwrap();
        let t = law.observable_table(&m, ObservableSet::Couplings);
        let ov = sp.overlaps(&t);
        for j in (0..ns).filter(|&j| sp.parity[j] == Parity::Odd) {
            for a in 0..t.len() {
                prop_assert!(ov[(a, j)].abs() <= 1e-12, "odd mode {j}, obs {a}: {}", ov[(a, j)]);
            }
        }
    }

    /// The matrix-free LinOp, the dense sweep matrix, the directly filled site-mixture step and
    /// the plan-applied step all agree; reversible kernels pass both certificates at 1e-12.
    #[test]
    fn dense_and_matrix_free_agree(
        n in 3usize..=7, bias_free in any::<bool>(), beta in 0.2f64..1.5, seed in 0u64..1000,
        kind in prop::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let m = model(n, 0.6, bias_free, beta, seed);
        let op = ExactKernel::of_kind(kind, &m).unwrap();
        let ns = op.n_states();
        let dense = dense_sweep_matrix(&op).unwrap();
        let lin = PlanOperator::sweep(&op);
        let rhs = Mat::from_fn(ns, 2, |s, c| pseudo(seed + c as u64, ns)[s]);
        let mut out = Mat::<f64>::zeros(ns, 2);
        let mut mem = MemBuffer::new(lin.apply_scratch(2, faer::Par::Seq));
        lin.apply(out.as_mut(), rhs.as_ref(), faer::Par::Seq, MemStack::new(&mut mem));
        let want = &dense * &rhs;
        let err = (0..ns).flat_map(|s| (0..2).map(move |c| (s, c)))
            .map(|(s, c)| (out[(s, c)] - want[(s, c)]).abs()).fold(0.0, f64::max);
        prop_assert!(err <= 1e-13, "LinOp vs dense: {err}");
        let (q, kpow) = dense_step_matrix(&op).unwrap();
        let (step, k2) = split_repeat(op.plan());
        prop_assert_eq!(kpow, k2);
        let q2 = dense_plan_matrix(&op, step).unwrap();
        let err = (0..ns).flat_map(|x| (0..ns).map(move |y| (x, y)))
            .map(|(x, y)| (q[(x, y)] - q2[(x, y)]).abs()).fold(0.0, f64::max);
        prop_assert!(err <= 1e-14, "step fill vs plan: {err}");
        let law = ExactLaw::new(&m).unwrap();
        let c = certify(&op, &law.pi).unwrap();
        prop_assert!(c.stationarity <= 1e-12, "{kind}: {c:?}");
        if kind.is_reversible() {
            prop_assert!(c.reversibility <= 1e-12, "{kind}: {c:?}");
        }
    }
}

/// σ_j of the decomposition (λ_j^N for RS1) match the eigenvalues of the explicit dense sweep
/// matrix, and `eigenvalues_general` matches too.
#[test]
fn powered_step_eigenvalues_match_the_dense_sweep() {
    let m = model(6, 0.7, false, 1.0, 42);
    for kind in REVERSIBLE {
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
        let op = ExactKernel::new(&k, &m).unwrap();
        let p = dense_sweep_matrix(&op).unwrap();
        // Largest |Re λ − σ| with the real parts sorted in descending order, as `sigma` is.
        let err = |re: Vec<f64>| {
            let mut re = re;
            re.sort_by(|a, b| b.total_cmp(a));
            re.iter()
                .zip(&sp.sigma)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        };
        let dense = err(p.eigenvalues().unwrap().iter().map(|z| z.re).collect());
        assert!(dense <= 1e-10, "{kind}: {dense}");
        let g = thermoq_spectral::eigenvalues_general(&k, &m).unwrap();
        let general = err(g.iter().map(|z| z.re).collect());
        assert!(general <= 1e-10, "{kind} general: {general}");
    }
}

/// The overlaps helper agrees with a direct sum, and malformed tables are typed errors.
#[test]
fn overlaps_validate_input() {
    let m = model(4, 1.0, false, 0.7, 1);
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
    let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
    assert!(sp.try_overlaps(&[vec![0.0; 3]]).is_err());
    assert!(sp.try_overlaps(&[vec![f64::NAN; 16]]).is_err());
    assert_eq!(Spectrum::phi2_max_overlap(sp.overlaps(&[]).as_ref()), 0.0);
}
