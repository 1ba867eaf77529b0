//! The dense Poisson fallback agrees with the matrix-free solvers (reversible and not).

use thermoq_models::{ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{KernelKind, exact::ExactKernel};
use thermoq_snr::exact::cell::asymptotic_variances_dense;

#[test]
fn dense_fallback_matches_krylov() {
    let model = builders::random_sparse(7, 0.6, 0.7, 0.2, 1.0, 5);
    let law = ExactLaw::new(&model).unwrap();
    let table = law.observable_table(&model, ObservableSet::All);
    for kind in [
        KernelKind::Rs1,
        KernelKind::Ss1,
        KernelKind::BlkAlt,
        KernelKind::BlkSym,
    ] {
        let ek = ExactKernel::of_kind(kind, &model).unwrap();
        let dense = asymptotic_variances_dense(&ek, &law.pi, &table).unwrap();
        let krylov =
            thermoq_spectral::asymptotic_variances(&ek, &law.pi, &table, &Default::default())
                .unwrap();
        for (a, (d, r)) in dense.iter().zip(&krylov).enumerate() {
            let rel = (d - r.asymptotic_variance).abs() / r.asymptotic_variance;
            assert!(
                rel < 1e-8,
                "{kind} observable {a}: dense {d} vs Krylov {}",
                r.asymptotic_variance
            );
        }
    }
}
