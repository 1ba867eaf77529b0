//! Cross-checks of the dense decomposition, the Poisson solvers and the certificates on fixed
//! small models (exact oracles: everything is enumerated).

use thermoq_models::{EnergyModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind, exact::ExactKernel};
use thermoq_spectral::certificate::certify;
use thermoq_spectral::poisson::PoissonMethod;
use thermoq_spectral::{
    Parity, PoissonParams, SpectralParams, Spectrum, asymptotic_variances, decompose,
};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn sk_phi2_is_odd_and_invisible_to_couplings() {
    for beta in [0.5, 1.0, 2.0] {
        let m = builders::sherrington_kirkpatrick(8, beta, 3);
        let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None).unwrap();
        let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
        assert_eq!(sp.phi2_parity(), Parity::Odd, "β = {beta}");
        let law = ExactLaw::new(&m).unwrap();
        let t = law.observable_table(&m, ObservableSet::Couplings);
        let ov = sp.overlaps(&t);
        assert!(Spectrum::phi2_max_overlap(ov.as_ref()) <= 1e-12);
    }
}

#[test]
fn spectral_and_poisson_variances_agree() {
    let m = builders::random_sparse(7, 0.6, 0.8, 0.3, 1.0, 5);
    let law = ExactLaw::new(&m).unwrap();
    let t = law.observable_table(&m, ObservableSet::All);
    for kind in [
        KernelKind::Rs1,
        KernelKind::Mh1,
        KernelKind::BlkSym,
        KernelKind::BlkRs,
    ] {
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let sp = decompose(&k, &m, &SpectralParams::default()).unwrap();
        let ov = sp.overlaps(&t);
        let vs = sp.asymptotic_variances(ov.as_ref());
        let op = ExactKernel::new(&k, &m).unwrap();
        for method in [
            PoissonMethod::Auto,
            PoissonMethod::SweepCg,
            PoissonMethod::BiCgStab,
        ] {
            let mut p = PoissonParams::default();
            p.method = method;
            let res = asymptotic_variances(&op, &law.pi, &t, &p).unwrap();
            for (a, r) in res.iter().enumerate() {
                assert!(
                    rel(r.asymptotic_variance, vs[a]) <= 1e-8,
                    "{kind} {method:?} obs {a}: poisson {} spectral {} (res {}, it {})",
                    r.asymptotic_variance,
                    vs[a],
                    r.residual,
                    r.iterations
                );
                assert!(
                    r.residual <= 1e-8,
                    "{kind} {method:?}: residual {}",
                    r.residual
                );
            }
        }
    }
}

#[test]
fn certificates_separate_reversible_from_not() {
    let m = builders::random_sparse(7, 0.6, 0.8, 0.3, 1.0, 9);
    let law = ExactLaw::new(&m).unwrap();
    for kind in KernelKind::ALL {
        let op = ExactKernel::of_kind(kind, &m).unwrap();
        let c = certify(&op, &law.pi).unwrap();
        assert!(c.stationarity <= 1e-12, "{kind}: {c:?}");
        if kind.is_reversible() {
            assert!(c.reversibility <= 1e-12, "{kind}: {c:?}");
        } else {
            assert!(c.reversibility > 1e-4, "{kind}: {c:?}");
        }
    }
    let _ = m.n_spins();
}
