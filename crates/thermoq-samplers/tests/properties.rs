//! Algebraic properties of every kernel's exact sweep operator on random small models
//! (N = 3..8, Erdős–Rényi graphs, random J, h and β), checked on the dense matrix built from
//! `ExactKernel::apply_left` on unit vectors:
//!
//! * rows are probability vectors (non-negative, sum to 1 within 1e-12) and agree with
//!   `Kernel::transition_row`;
//! * the Boltzmann law π is stationary for every kernel (`‖πP − π‖_∞ ≤ 1e-12`);
//! * RS1, MH1, BLK-SYM and BLK-RS satisfy detailed balance (`max |π_x P_xy − π_y P_yx| ≤ 1e-12`);
//! * SS1 and BLK-ALT violate it (negative control): on a fixed generic model by more than 1e-4, and on
//!   every random draw with a coupling `β|J| ≥ 0.1` by more than 1e-8 (a clear margin above the
//!   1e-12 rounding floor of the reversible kernels);
//! * bias-free models are flip-symmetric (energy and π); colourings are proper;
//! * a p-bit array with gain spread makes RS1 non-reversible while its own stationary law π' is
//!   still stationary.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

mod common;

use common::*;
use proptest::prelude::*;
use thermoq_core::Coloring;
use thermoq_core::state::{flip_all, spins_from_index};
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel, builders};
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::{GibbsKernel, Kernel, KernelKind, Pbit};

/// Random model parameters: N, edge probability, coupling and bias scales, β, seed.
fn model_strategy_beta(beta_max: f64) -> impl Strategy<Value = IsingModel> {
    (
        3usize..=8,
        0.2f64..1.0,
        0.1f64..1.2,
        prop_oneof![Just(0.0), 0.05f64..0.6],
        0.2f64..beta_max,
        any::<u64>(),
    )
        .prop_map(|(n, p, j, h, beta, seed)| builders::random_sparse(n, p, j, h, beta, seed))
}

/// Random models with β up to 2.
fn model_strategy() -> impl Strategy<Value = IsingModel> {
    model_strategy_beta(2.0)
}

fn max_coupling(m: &IsingModel) -> f64 {
    m.couplings()
        .iter()
        .map(|j| (m.beta() * j).abs())
        .fold(0.0, f64::max)
}

proptest! {
    // fixed seed: the suite is deterministic; no regression files are written beside the tests
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7e57_0001),
        ..ProptestConfig::default()
    })]

    #[test]
    fn rows_stationarity_and_detailed_balance(m in model_strategy()) {
        let law = ExactLaw::new(&m).unwrap();
        for kind in KernelKind::ALL {
            let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
            let ek = ExactKernel::new(&k, &m).unwrap();
            let p = dense_matrix(&ek);
            for (x, row) in p.iter().enumerate() {
                prop_assert!(row.iter().all(|&v| v >= 0.0), "{kind}: negative entry in row {x}");
                let s: f64 = row.iter().sum();
                prop_assert!((s - 1.0).abs() <= 1e-12, "{kind}: row {x} sums to {s}");
            }
            let last = (p.len() - 1) as u64;
            let row = k.transition_row(&m, last).unwrap();
            prop_assert!(row.iter().zip(&p[last as usize]).all(|(a, b)| (a - b).abs() <= 1e-15));
            let stat = stationarity_residual(&p, &law.pi);
            prop_assert!(stat <= 1e-12, "{kind}: ‖πP − π‖∞ = {stat:.2e}");
            let db = detailed_balance_residual(&p, &law.pi);
            if kind.is_reversible() {
                prop_assert!(db <= 1e-12, "{kind}: detailed-balance residual {db:.2e}");
            } else if max_coupling(&m) >= 0.1 {
                prop_assert!(db > 1e-8, "{kind}: negative control too close to reversible: {db:.2e}");
            }
        }
    }

    #[test]
    fn bias_free_models_are_flip_symmetric(
        n in 3usize..=10, p in 0.2f64..1.0, j in 0.1f64..1.5, beta in 0.2f64..3.0, seed in any::<u64>()
    ) {
        let m = builders::random_sparse(n, p, j, 0.0, beta, seed);
        let law = ExactLaw::new(&m).unwrap();
        let (mut x, mut y) = (vec![0i8; n], vec![0i8; n]);
        for s in 0..1u64 << n {
            spins_from_index(s, &mut x);
            spins_from_index(flip_all(s, n), &mut y);
            prop_assert!((m.energy(&x) - m.energy(&y)).abs() <= 1e-12);
            prop_assert!((law.pi[s as usize] - law.pi[flip_all(s, n) as usize]).abs() <= 1e-15);
        }
        prop_assert!(law.m1().iter().all(|v| v.abs() <= 1e-12));
    }

    #[test]
    fn colorings_are_proper(m in model_strategy()) {
        let g = m.graph();
        prop_assert!(Coloring::dsatur(g).is_proper(g));
        prop_assert!(Coloring::greedy(g).is_proper(g));
        for kind in [KernelKind::BlkAlt, KernelKind::BlkSym, KernelKind::BlkRs] {
            let k = GibbsKernel::new(kind, g, None).unwrap();
            let c = k.coloring().unwrap();
            prop_assert!(c.is_proper(g));
            // the classes partition the spins
            let mut all: Vec<u32> = c.classes().iter().flatten().copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..g.n() as u32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn pbit_law_is_stationary_for_its_own_operator(
        m in model_strategy_beta(1.0), gain in 0.05f64..0.5, offset in 0.0f64..0.5, seed in any::<u64>(),
        bits in prop_oneof![Just(None), (2u32..12).prop_map(Some)],
        kind in prop_oneof![Just(KernelKind::Rs1), Just(KernelKind::Ss1), Just(KernelKind::BlkSym)],
    ) {
        let mut pbit = Pbit::ideal().with_spread(m.n_spins(), gain, offset, seed).unwrap();
        if let Some(b) = bits {
            pbit = pbit.with_bits(b).unwrap();
        }
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap().with_pbit(pbit, m.n_spins()).unwrap();
        let ek = ExactKernel::new(&k, &m).unwrap();
        let (pi2, _) = stationary(&ek, 1e-15);
        let p = dense_matrix(&ek);
        prop_assert!(pi2.iter().all(|&v| v >= 0.0));
        let stat = stationarity_residual(&p, &pi2);
        prop_assert!(stat <= 1e-12, "{kind}: ‖π'P − π'‖∞ = {stat:.2e}");
    }
}

/// A fixed generic model (biased, couplings of both signs, 3 colours): the negative controls fail
/// detailed balance clearly, the reversible kernels pass at rounding level.
#[test]
fn negative_control_on_a_generic_model() {
    let m = builders::random_sparse(6, 0.7, 0.8, 0.3, 1.0, 12345);
    assert!(m.graph().n_edges() >= 6);
    let law = ExactLaw::new(&m).unwrap();
    for kind in KernelKind::ALL {
        let k = GibbsKernel::new(kind, m.graph(), None).unwrap();
        let ek = ExactKernel::new(&k, &m).unwrap();
        let p = dense_matrix(&ek);
        let db = detailed_balance_residual(&p, &law.pi);
        let stat = stationarity_residual(&p, &law.pi);
        eprintln!("{kind}: detailed-balance residual {db:.2e}, ‖πP − π‖∞ = {stat:.2e}");
        assert!(stat <= 1e-12);
        if kind.is_reversible() {
            assert!(db <= 1e-12, "{kind}: {db:.2e}");
        } else {
            assert!(db > 1e-4, "{kind}: negative control residual only {db:.2e}");
        }
        assert_eq!(
            Kernel::<IsingModel>::is_reversible(&k),
            kind.is_reversible()
        );
    }
}

/// Gain spread breaks the symmetry of the effective couplings (`g_i J_ij ≠ g_j J_ji`), so RS1 is no
/// longer reversible — not even with respect to its own stationary law π', which is still stationary
/// and differs from π.
#[test]
fn pbit_gain_spread_makes_rs1_non_reversible() {
    let m = builders::random_sparse(6, 0.7, 0.8, 0.3, 1.0, 12345);
    let law = ExactLaw::new(&m).unwrap();
    let pbit = Pbit::ideal().with_spread(6, 0.3, 0.0, 3).unwrap();
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None)
        .unwrap()
        .with_pbit(pbit, 6)
        .unwrap();
    assert!(!Kernel::<IsingModel>::is_reversible(&k));
    let ek = ExactKernel::new(&k, &m).unwrap();
    let (pi2, _) = stationary(&ek, 1e-15);
    let p = dense_matrix(&ek);
    let stat = stationarity_residual(&p, &pi2);
    let db = detailed_balance_residual(&p, &pi2);
    let shift = pi2
        .iter()
        .zip(&law.pi)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "p-bit RS1: ‖π'P − π'‖∞ = {stat:.2e}, DB residual {db:.2e}, max|π' − π| = {shift:.2e}"
    );
    assert!(stat <= 1e-12);
    assert!(db > 1e-6, "gain spread left RS1 reversible ({db:.2e})");
    assert!(shift > 1e-4);
    // offsets alone only shift the biases: still reversible w.r.t. its own law
    let off = Pbit::ideal()
        .with_gain_offset(vec![1.0; 6], vec![0.3, -0.2, 0.1, 0.0, 0.25, -0.4])
        .unwrap();
    let k = GibbsKernel::new(KernelKind::Rs1, m.graph(), None)
        .unwrap()
        .with_pbit(off, 6)
        .unwrap();
    let ek = ExactKernel::new(&k, &m).unwrap();
    let (pi3, _) = stationary(&ek, 1e-15);
    let db = detailed_balance_residual(&dense_matrix(&ek), &pi3);
    assert!(db <= 1e-12, "offset-only cells: {db:.2e}");
}
