//! Parity-sector operators, Poisson solves and Lanczos spectra against the full-space and dense
//! computations on small models (exact oracles: everything is enumerated).

use thermoq_models::{EnergyModel, IsingModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::{
    LanczosParams, PoissonParams, Sector, SectorKernel, SpectralError, SpectralParams,
    asymptotic_variances, decompose, sector_asymptotic_variances, sector_law,
    sector_top_eigenvalues, top_of_spectrum,
};

/// The sector kernel of `k` on `m` (split by parity when `flip`), its law on the
/// representatives, and the rows of `set` with their sectors.
fn sectors_of(
    k: &GibbsKernel,
    m: &IsingModel,
    flip: bool,
    set: ObservableSet,
) -> (SectorKernel, Vec<f64>, Vec<Vec<f64>>, Vec<Sector>) {
    let sk = SectorKernel::new(k, m, flip).expect("sector kernel");
    let pi = sector_law(&sk, m).expect("sector law");
    let (rows, sectors) = sk.observable_rows(m, set).expect("observable rows");
    (sk, pi, rows, sectors)
}

const REVERSIBLE: [KernelKind; 4] = [
    KernelKind::Rs1,
    KernelKind::Mh1,
    KernelKind::BlkSym,
    KernelKind::BlkRs,
];

/// The sector step applied to an even/odd function equals the full step restricted to the
/// representatives (the same arithmetic up to the order of the site sum: ≤ 1e-14).
#[test]
fn sector_step_equals_full_step_on_even_and_odd_functions() {
    let m = builders::sherrington_kirkpatrick(7, 1.0, 2);
    for kind in REVERSIBLE {
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let op = ExactKernel::new(&k, &m).unwrap();
        let sk = SectorKernel::new(&k, &m, true).unwrap();
        let full = op.n_states() - 1;
        let half = sk.n_states();
        for (sector, eps) in [(Sector::Even, 1.0), (Sector::Odd, -1.0)] {
            let f_half: Vec<f64> = (0..half).map(|s| ((s * 37 % 11) as f64).sin()).collect();
            let mut f: Vec<f64> = vec![0.0; op.n_states()];
            for s in 0..half {
                f[s] = f_half[s];
                f[s ^ full] = eps * f_half[s];
            }
            let (step, _) = thermoq_spectral::operator::split_repeat(op.plan());
            op.plan_right(step, &mut f);
            let mut out = vec![vec![0.0; half]];
            sk.step_multi(sector, &[f_half.as_slice()], &mut out);
            for s in 0..half {
                assert!(
                    (out[0][s] - f[s]).abs() <= 1e-14,
                    "{kind} {sector:?} state {s}: {} vs {}",
                    out[0][s],
                    f[s]
                );
            }
        }
    }
}

/// Sector Poisson solves equal full-space solves to ≤ 1e-10 in τ_int.
///
/// Tolerance: both solves stop at relative residual `tol = 1e-13`; a residual `r` moves
/// `v = 2⟨f̄,u⟩ − ⟨f̄,f̄⟩` by at most `2 ‖f̄‖ ‖(I − P)^{−1}‖ ‖r‖ ≤ 2 Var f · tol / gap`, so τ_int by
/// `2 tol / gap` per solve; the test asserts that `4 tol / gap ≤ 1e-10` (gap from the dense
/// decomposition) and then the 1e-10 agreement.
#[test]
fn sector_poisson_equals_full_poisson() {
    let mut params = PoissonParams::default();
    params.tol = 1e-13;
    for (n, seed) in [(8, 1), (10, 2), (12, 3)] {
        let m = builders::sherrington_kirkpatrick(n, 1.0, seed);
        let law = ExactLaw::new(&m).unwrap();
        let table = law.observable_table(&m, ObservableSet::All);
        let kinds: &[KernelKind] = if n == 12 {
            &[KernelKind::Rs1]
        } else {
            &REVERSIBLE
        };
        for &kind in kinds {
            let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
            let gap = decompose(&k, &m, &SpectralParams::default()).unwrap().gap();
            assert!(
                4.0 * params.tol / gap <= 1e-10,
                "gap {gap} too small for the bound"
            );
            let op = ExactKernel::new(&k, &m).unwrap();
            let full = asymptotic_variances(&op, &law.pi, &table, &params).unwrap();
            let (sk, pi, rows, sectors) = sectors_of(&k, &m, true, ObservableSet::All);
            assert_eq!(sectors[0], Sector::Even);
            assert_eq!(*sectors.last().unwrap(), Sector::Odd);
            let sec = sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &params).unwrap();
            assert_eq!(sec.len(), full.len());
            for (a, (s, f)) in sec.iter().zip(&full).enumerate() {
                assert!(
                    (s.tau_int - f.tau_int).abs() <= 1e-10,
                    "N = {n} {kind} f[{a}]: sector τ {} vs full τ {}",
                    s.tau_int,
                    f.tau_int
                );
                assert!(
                    (s.mean - f.mean).abs() <= 1e-12 && (s.variance - f.variance).abs() <= 1e-12
                );
                assert!(s.residual <= 1e-10, "residual {}", s.residual);
            }
        }
    }
}

/// A model with biases runs on all states ([`Sector::Full`]) and matches the full solver.
#[test]
fn full_sector_poisson_with_biases_matches() {
    let m = builders::random_sparse(9, 0.6, 0.8, 0.3, 1.0, 4);
    let law = ExactLaw::new(&m).unwrap();
    let table = law.observable_table(&m, ObservableSet::All);
    let mut params = PoissonParams::default();
    params.tol = 1e-13;
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
    let gap = decompose(&k, &m, &SpectralParams::default()).unwrap().gap();
    assert!(4.0 * params.tol / gap <= 1e-10);
    let op = ExactKernel::new(&k, &m).unwrap();
    let full = asymptotic_variances(&op, &law.pi, &table, &params).unwrap();
    let (sk, pi, rows, sectors) = sectors_of(&k, &m, false, ObservableSet::All);
    assert!(sectors.iter().all(|s| *s == Sector::Full));
    let sec = sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &params).unwrap();
    for (s, f) in sec.iter().zip(&full) {
        assert!(
            (s.tau_int - f.tau_int).abs() <= 1e-10,
            "{} vs {}",
            s.tau_int,
            f.tau_int
        );
    }
}

/// The top ten sweep eigenvalues by Lanczos (per sector, merged) equal the dense ones, with the
/// same parities.
///
/// Tolerance: a Ritz value of the step with residual bound `ρ ≤ 1e-10` is within `ρ` of an
/// eigenvalue of the step (the step is self-adjoint in L²(π)); `σ = λ^K` with `|λ| ≤ 1` moves by at
/// most `K ρ`. The dense eigensolver adds ≈ `K · 1e-14`. So `|σ_lanczos − σ_dense| ≤ K·1e-10 + 1e-12`.
/// Random SK couplings have no repeated eigenvalues within a sector (a single Krylov space
/// would see one copy).
#[test]
fn lanczos_top_matches_dense() {
    let cases: Vec<(usize, u64, bool)> =
        vec![(9, 5, true), (11, 6, true), (13, 7, true), (9, 8, false)];
    for (n, seed, bias_free) in cases {
        let m = if bias_free {
            builders::sherrington_kirkpatrick(n, 1.0, seed)
        } else {
            builders::random_sparse(n, 0.7, 0.8, 0.3, 1.0, seed)
        };
        let kinds: &[KernelKind] = if n >= 13 {
            &[KernelKind::Rs1]
        } else {
            &REVERSIBLE
        };
        for &kind in kinds {
            let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
            let dense = decompose(&k, &m, &SpectralParams::default()).unwrap();
            let sk = SectorKernel::new(&k, &m, bias_free).unwrap();
            let pi = sector_law(&sk, &m).unwrap();
            let top = top_of_spectrum(&sk, &pi, &LanczosParams::default()).unwrap();
            let kpow = thermoq_spectral::operator::split_repeat(thermoq_samplers::Kernel::<
                thermoq_models::IsingModel,
            >::plan(&k))
            .1 as f64;
            let tol = kpow * 1e-10 + 1e-12;
            assert_eq!(top.sigma.len(), 10);
            for j in 0..10 {
                assert!(
                    (top.sigma[j] - dense.sigma[j]).abs() <= tol,
                    "N = {n} {kind} mode {j}: Lanczos {} vs dense {}",
                    top.sigma[j],
                    dense.sigma[j]
                );
                assert_eq!(top.parity[j], dense.parity[j], "N = {n} {kind} mode {j}");
            }
            assert!((top.gap - dense.gap()).abs() <= tol);
        }
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    // Biases break the flip symmetry.
    let biased = builders::random_sparse(6, 0.6, 0.8, 0.3, 1.0, 1);
    let k = GibbsKernel::new(KernelKind::Rs1, biased.graph(), None).unwrap();
    match SectorKernel::new(&k, &biased, true) {
        Err(SpectralError::Invalid { field, .. }) => assert_eq!(field, "model"),
        other => panic!("expected Invalid(model), got {other:?}"),
    }
    // A non-reversible kernel is refused by name.
    let m = builders::sherrington_kirkpatrick(6, 1.0, 1);
    let alt = GibbsKernel::new(KernelKind::BlkAlt, m.graph(), None).unwrap();
    let sk = SectorKernel::new(&alt, &m, true).unwrap().named("blk-alt");
    let pi = sector_law(&sk, &m).unwrap();
    let e = sector_top_eigenvalues(&sk, &pi, Sector::Even, &LanczosParams::default()).unwrap_err();
    assert!(
        matches!(&e, SpectralError::NotSelfAdjoint { kernel } if kernel == "blk-alt"),
        "{e}"
    );
    assert!(e.to_string().contains("blk-alt"));
    let (rows, sectors) = sk.observable_rows(&m, ObservableSet::Couplings).unwrap();
    assert!(matches!(
        sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &PoissonParams::default()),
        Err(SpectralError::NotSelfAdjoint { .. })
    ));
    // Wrong sector, wrong lengths, bad parameters.
    let rs = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
    let sk = SectorKernel::new(&rs, &m, true).unwrap();
    let e = sector_top_eigenvalues(&sk, &pi, Sector::Full, &LanczosParams::default()).unwrap_err();
    assert!(
        matches!(&e, SpectralError::Invalid { field, .. } if field == "sector"),
        "{e}"
    );
    let e =
        sector_top_eigenvalues(&sk, &pi[1..], Sector::Even, &LanczosParams::default()).unwrap_err();
    assert!(
        matches!(&e, SpectralError::Shape { field, .. } if field == "pi"),
        "{e}"
    );
    let mut bad = LanczosParams::default();
    bad.tol = f64::NAN;
    let e = sector_top_eigenvalues(&sk, &pi, Sector::Even, &bad).unwrap_err();
    assert!(
        matches!(&e, SpectralError::Invalid { field, .. } if field == "tol"),
        "{e}"
    );
    let e = sector_asymptotic_variances(&sk, &pi, &rows, &sectors[1..], &PoissonParams::default())
        .unwrap_err();
    assert!(
        matches!(&e, SpectralError::Shape { field, .. } if field == "sectors"),
        "{e}"
    );
    let mut nan_rows = rows.clone();
    nan_rows[0][3] = f64::NAN;
    let e = sector_asymptotic_variances(&sk, &pi, &nan_rows, &sectors, &PoissonParams::default())
        .unwrap_err();
    assert!(matches!(e, SpectralError::NonFinite { .. }), "{e}");
    let mut few = LanczosParams::default();
    few.max_iter = 3;
    let e = sector_top_eigenvalues(&sk, &pi, Sector::Odd, &few).unwrap_err();
    assert!(matches!(e, SpectralError::NotConverged { .. }), "{e}");
}

/// Same inputs, same bits, whatever the batch companions: a batch of several observables gives
/// each one exactly the result it gets alone.
#[test]
fn batched_solves_are_bit_identical_to_single_ones() {
    let m = builders::sherrington_kirkpatrick(10, 1.0, 9);
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
    let (sk, pi, rows, sectors) = sectors_of(&k, &m, true, ObservableSet::Couplings);
    let p = PoissonParams::default();
    let all = sector_asymptotic_variances(&sk, &pi, &rows[..5], &sectors[..5], &p).unwrap();
    for a in 0..5 {
        let one = sector_asymptotic_variances(&sk, &pi, &rows[a..=a], &sectors[a..=a], &p).unwrap();
        assert_eq!(one[0], all[a], "observable {a}");
    }
}

/// Kept Lanczos vectors (the default), regenerated ones (`store_bytes = 0`) and a budget that
/// fits only part of a batch (some observables keep theirs, one gives them up midway, the rest
/// regenerate) give the same results bit for bit, in both sectors.
#[test]
fn kept_and_regenerated_lanczos_vectors_give_identical_results() {
    let m = builders::sherrington_kirkpatrick(10, 1.0, 4);
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
    let (sk, pi, rows, sectors) = sectors_of(&k, &m, true, ObservableSet::All);
    let kept = PoissonParams::default();
    let all = sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &kept).unwrap();
    assert!(all.iter().all(|r| r.residual <= 1e-10));
    let vec_bytes = sk.n_states() * 8;
    for budget in [0, 3 * all[0].iterations * vec_bytes / 2, 40 * vec_bytes] {
        let mut p = PoissonParams::default();
        p.store_bytes = budget;
        let other = sector_asymptotic_variances(&sk, &pi, &rows, &sectors, &p).unwrap();
        assert_eq!(other, all, "store_bytes = {budget}");
    }
}

/// The dense parity blocks built per sector equal, bit for bit, the blocks split from the full
/// symmetrized step (so `decompose` gives the same numbers as before without the full matrix).
#[test]
fn direct_parity_blocks_are_bit_identical() {
    use thermoq_spectral::operator::{
        dense_step_matrix, direct_parity_blocks, parity_blocks, site_mixture, symmetrize_in_place,
    };
    for (n, seed) in [(1usize, 1u64), (2, 2), (5, 3), (8, 4)] {
        let m = builders::sherrington_kirkpatrick(n, 1.3, seed);
        let law = ExactLaw::new(&m).unwrap();
        for kind in [KernelKind::Rs1, KernelKind::Mh1] {
            let op = ExactKernel::of_kind(kind, &m).unwrap();
            let (step, _) = thermoq_spectral::operator::split_repeat(op.plan());
            let sites = site_mixture(step).unwrap();
            let (mut a, _) = dense_step_matrix(&op).unwrap();
            let res = symmetrize_in_place(&mut a, &law.pi);
            let (even, odd, flip) = parity_blocks(a.as_ref());
            let (e2, o2, res2, flip2) = direct_parity_blocks(&op, &sites, &law.pi);
            assert!(res2 <= 1e-12 && flip2 <= 1e-12 && res <= 1e-12 && flip <= 1e-12);
            for t in 0..even.ncols() {
                for s in 0..even.nrows() {
                    assert_eq!(
                        even[(s, t)].to_bits(),
                        e2[(s, t)].to_bits(),
                        "N = {n} {kind}"
                    );
                    assert_eq!(
                        odd[(s, t)].to_bits(),
                        o2[(s, t)].to_bits(),
                        "N = {n} {kind}"
                    );
                }
            }
        }
    }
}
