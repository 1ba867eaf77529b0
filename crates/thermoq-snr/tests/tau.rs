//! Cross-crate checks of the τ_int estimators: reference fixtures (emcee, ArviZ) and AR(1)
//! processes whose τ_int = (1 + φ)/(1 − φ) is exact.
//!
//! Statistical tolerances are 4 × the standard error each estimator states for itself
//! (`TauEstimate::std_err`, derived in its documentation), with fixed seeds.

#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thermoq_snr::SnrError;
use thermoq_snr::tau::{
    self, ChainSet, TauMethod, TauVerdict, ar1, batch_means, doubling_run, doubling_run_multi,
    geyer, geyer_split, sokal, sokal_pooled, split_rhat,
};

const FIXTURE: &str = include_str!("fixtures/ar1_phi09.txt");
const EXPECTED: &str = include_str!("fixtures/ar1_phi09.expected.json");

fn fixture() -> Vec<f64> {
    FIXTURE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<f64>().expect("fixture holds numbers"))
        .collect()
}

/// Reads `"key": number` from the flat expected-values JSON (no JSON dependency needed).
fn expected(key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let start = EXPECTED.find(&pat).expect("key present") + pat.len();
    let rest = &EXPECTED[start..];
    let end = rest.find([',', '\n', '}']).expect("value terminated");
    rest[..end].trim().parse().expect("numeric value")
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn chains(phi: f64, m: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    (0..m)
        .map(|c| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(c as u64);
            ar1::series(phi, n, &mut rng)
        })
        .collect()
}

fn refs(xs: &[Vec<f64>]) -> Vec<&[f64]> {
    xs.iter().map(Vec::as_slice).collect()
}

#[test]
fn emcee_fixture_sokal_matches_integrated_time() {
    let x = fixture();
    assert_eq!(x.len(), 20_000);
    let e = sokal(&x).unwrap();
    let want = expected("emcee_integrated_time_c5");
    assert!(rel(e.tau, want) < 1e-6, "tau {} vs emcee {want}", e.tau);
    assert_eq!(e.window, expected("emcee_window") as usize);
    assert!(e.window_found);
    assert_eq!(e.method, TauMethod::Sokal);
}

#[test]
fn emcee_fixture_pooled_matches_four_walkers() {
    let x = fixture();
    let set = ChainSet::from_flat(&x, 4).unwrap();
    let e = sokal_pooled(&set).unwrap();
    let want = expected("emcee_integrated_time_c5_4walkers");
    assert!(rel(e.tau, want) < 1e-6, "tau {} vs emcee {want}", e.tau);
}

#[test]
fn arviz_fixture_split_ess_and_rhat_match() {
    let x = fixture();
    let set = ChainSet::from_flat(&x, 4).unwrap();
    let ess = tau::ess(&set).unwrap();
    let want = expected("arviz_ess_mean_4x5000");
    assert!(rel(ess, want) < 1e-6, "ess {ess} vs arviz {want}");
    let r = split_rhat(&set).unwrap();
    let want = expected("arviz_rhat_split_4x5000");
    assert!(rel(r, want) < 1e-9, "rhat {r} vs arviz {want}");
    let g = geyer(&ChainSet::single(&x).unwrap()).unwrap();
    let want = expected("arviz_ess_unsplit_1chain");
    assert!(rel(g.ess, want) < 1e-6, "ess {} vs arviz {want}", g.ess);
}

/// AR(1) at φ = 0.9 and 0.99 (run lengths ≈ 10⁴ τ): Sokal's τ̂ within 4 stated standard errors.
#[test]
fn ar1_sokal_within_stated_error() {
    for (phi, len, seed) in [(0.9, 200_000, 90), (0.99, 2_000_000, 99)] {
        let x = ar1::series(phi, len, &mut ChaCha8Rng::seed_from_u64(seed));
        let e = sokal(&x).unwrap();
        let exact = ar1::tau_exact(phi);
        assert!(e.window_found, "φ = {phi}");
        assert!(
            (e.tau - exact).abs() <= 4.0 * e.std_err,
            "φ = {phi}: tau {} exact {exact} err {}",
            e.tau,
            e.std_err
        );
    }
}

#[test]
fn geyer_batch_means_and_pooled_agree_with_exact() {
    let phi = 0.9;
    let exact = ar1::tau_exact(phi);
    let xs = chains(phi, 4, 100_000, 7);
    let set = ChainSet::new(&refs(&xs)).unwrap();
    for e in [
        sokal_pooled(&set).unwrap(),
        geyer(&set).unwrap(),
        geyer_split(&set).unwrap(),
        batch_means(&set).unwrap(),
    ] {
        assert!(
            (e.tau - exact).abs() <= 4.0 * e.std_err,
            "{:?}: tau {} exact {exact} err {}",
            e.method,
            e.tau,
            e.std_err
        );
        assert!(rel(e.ess, (e.chains * e.n) as f64 / e.tau) < 1e-12);
    }
}

#[test]
fn too_short_chain_is_a_lower_bound() {
    // τ_int = 1999 for φ = 0.999: a 2000-sample chain cannot resolve it, whatever the seed.
    let phi = 0.999;
    for seed in 0..20 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let report = doubling_run(2000, 4000, |buf: &mut Vec<f64>, len| {
            let start = buf.len();
            buf.resize(len, 0.0);
            ar1::extend(phi, buf, start, &mut rng);
        })
        .unwrap();
        assert_eq!(report.rows.len(), 2);
        assert!(
            matches!(report.verdict, TauVerdict::LowerBound { .. }),
            "seed {seed}: {report:?}"
        );
        assert_eq!(report.verdict.value(), None);
        assert!(report.verdict.bound_or_value() < ar1::tau_exact(phi));
    }
    // A single length can never be resolved.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let single = doubling_run(2000, 2000, |buf: &mut Vec<f64>, len| {
        *buf = ar1::series(phi, len, &mut rng);
    })
    .unwrap();
    assert_eq!(single.rows.len(), 1);
    assert!(!single.verdict.is_resolved());
}

#[test]
fn doubling_resolves_a_continued_chain() {
    let phi = 0.9;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut calls = Vec::new();
    let report = doubling_run(500, 1 << 20, |buf: &mut Vec<f64>, len| {
        calls.push((buf.len(), len));
        let start = buf.len();
        buf.resize(len, 0.0);
        ar1::extend(phi, buf, start, &mut rng);
    })
    .unwrap();
    // The buffer persists: each call extends the previous chain.
    for w in calls.windows(2) {
        assert_eq!(w[1].0, w[0].1);
        assert_eq!(w[1].1, 2 * w[0].1);
    }
    let last = report.rows.last().unwrap();
    assert!(last.resolved && last.ratio_to_prev.unwrap() < tau::TAU_TOL);
    let t = report.verdict.value().expect("resolved");
    assert!(
        (t - ar1::tau_exact(phi)).abs() <= 4.0 * last.std_err,
        "{report:?}"
    );
}

#[test]
fn doubling_multi_resolves_and_rejects_short_fill() {
    let phi = 0.8;
    let mut rngs: Vec<ChaCha8Rng> = (0..4)
        .map(|c| {
            let mut r = ChaCha8Rng::seed_from_u64(11);
            r.set_stream(c);
            r
        })
        .collect();
    let report = doubling_run_multi(200, 1 << 18, 4, |bufs, len| {
        for (b, rng) in bufs.iter_mut().zip(&mut rngs) {
            let start = b.len();
            b.resize(len, 0.0);
            ar1::extend(phi, b, start, rng);
        }
    })
    .unwrap();
    let t = report.verdict.value().expect("resolved");
    let last = report.rows.last().unwrap();
    assert!(
        (t - ar1::tau_exact(phi)).abs() <= 4.0 * last.std_err,
        "{report:?}"
    );

    let err = doubling_run_multi(8, 64, 3, |bufs, len| {
        for (c, b) in bufs.iter_mut().enumerate() {
            b.resize(if c == 2 { len + 1 } else { len }, 0.5 + c as f64);
        }
    })
    .unwrap_err();
    assert!(matches!(
        err,
        SnrError::SampleLength {
            chain: 2,
            requested: 8,
            found: 9
        }
    ));
}

#[test]
fn rhat_near_one_when_mixed_and_large_when_stuck() {
    let xs = chains(0.5, 4, 10_000, 5);
    let r = split_rhat(&ChainSet::new(&refs(&xs)).unwrap()).unwrap();
    // For independent chains R̂ − 1 is O(1/n_eff) ≈ 1e-4 here.
    assert!((r - 1.0).abs() < 0.01, "rhat {r}");

    // Same dynamics, chains stuck around means 0, 0, 3, 3 (stationary sd ≈ 1.15).
    let mut stuck = chains(0.5, 4, 10_000, 6);
    for (c, x) in stuck.iter_mut().enumerate() {
        let shift = if c < 2 { 0.0 } else { 3.0 };
        x.iter_mut().for_each(|v| *v += shift);
    }
    let r = split_rhat(&ChainSet::new(&refs(&stuck)).unwrap()).unwrap();
    assert!(r > 1.1, "rhat {r}");
}

#[test]
fn bad_input_is_reported_with_its_position() {
    let mut x = ar1::series(0.5, 100, &mut ChaCha8Rng::seed_from_u64(2));
    x[42] = f64::NAN;
    assert!(matches!(
        sokal(&x).unwrap_err(),
        SnrError::NonFinite {
            chain: 0,
            index: 42,
            ..
        }
    ));
    assert!(matches!(
        sokal(&[]).unwrap_err(),
        SnrError::EmptySeries { chain: 0 }
    ));
    // Unequal chain lengths: `ChainSet`'s own tests.
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Fixed RNG seed: the same 32 cases on every run (issue 18, item 8).
        #![proptest_config(ProptestConfig {
            cases: 32,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x7a0_0001),
            ..ProptestConfig::default()
        })]
        /// τ̂ is a property of the correlation structure: invariant under x → a·x + b.
        #[test]
        fn sokal_is_affine_invariant(seed in 0u64..1000, a in 0.1f64..10.0, b in -100.0f64..100.0) {
            let x = ar1::series(0.6, 2000, &mut ChaCha8Rng::seed_from_u64(seed));
            let y: Vec<f64> = x.iter().map(|v| a * v + b).collect();
            let (ex, ey) = (sokal(&x).unwrap(), sokal(&y).unwrap());
            prop_assert!((ex.tau - ey.tau).abs() < 1e-9 * ex.tau);
            prop_assert_eq!(ex.window, ey.window);
        }
    }
}

/// A series that switches once between two values — a chain that crosses between two modes once
/// in its window — has a Sokal window (c = 5), and its τ̂ is a fixed fraction of the length
/// whatever the length: 0.128 L for a switch near the middle (the largest value a one-switch series
/// gives), 0.127 L at 0.3 L, 0.0815 L at 0.1 L (the same rule evaluated in closed form for a ±1
/// step: 0.12781 / 0.12825 / 0.12832 at L = 1k / 4k / 16k for the middle). So a within-chain
/// τ̂/L near 0.13 that stays put as L doubles is what the estimator returns for chains that cross
/// about once per window: it says the chains do not equilibrate within L (the doubling rule fails,
/// status lower bound), not that τ has been measured. Deterministic input, so the bands are the
/// closed-form values ± 5e-4, not a sampling tolerance.
#[test]
fn one_switch_gives_a_fixed_fraction_of_the_length() {
    for len in [1_000usize, 4_000, 16_000] {
        for (p, lo, hi) in [
            (0.5, 0.1273, 0.1288),
            (0.3, 0.1264, 0.1276),
            (0.1, 0.0810, 0.0821),
        ] {
            let k = (p * len as f64) as usize;
            let x: Vec<f64> = (0..len).map(|i| if i < k { 1.0 } else { -1.0 }).collect();
            let est = sokal(&x).unwrap();
            assert!(est.window_found, "L = {len}, switch at {p} L: no window");
            let r = est.tau / len as f64;
            assert!(
                (lo..=hi).contains(&r),
                "L = {len}, switch at {p} L: τ̂/L = {r}, expected {lo}..{hi}"
            );
            if len == 16_000 && p == 0.5 {
                assert!((r - tau::ONE_CROSSING_TAU_OVER_L).abs() < 1e-4, "τ̂/L = {r}");
            }
        }
    }
}
