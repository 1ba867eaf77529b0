//! Closed-form oracles for the enumerated law and algebraic identities of the model layer.
//!
//! * independent spins: `⟨x_i⟩ = tanh(β h_i)`;
//! * open bias-free chain (a tree): `⟨x_i x_{i+1}⟩ = tanh(β J_i)`;
//! * bias-free ring of `N` spins, uniform `J`, `t = tanh βJ`: `⟨x_i x_{i+1}⟩ = (t + t^{N−1})/(1 + t^N)`;
//! * Curie–Weiss: `⟨x_i x_j⟩` from the magnetization sum over `k` up spins;
//! * energy is linear in θ with gradient observables `f_a`: `E(x) = Σ_a θ_a f_a(x)`;
//! * `flip_delta(x, i) = E(x with x_i flipped) − E(x)`;
//! * `Rbm` (dense local fields) equals its Ising form on every state.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

use proptest::prelude::*;
use thermoq_core::Graph;
use thermoq_core::state::spins_from_index;
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel, ObservableSet, Rbm, builders};

fn binom(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[test]
fn independent_spins() {
    let h = vec![0.3, -1.2, 0.0, 2.5];
    let m = IsingModel::new(Graph::new(4, &[]).unwrap(), vec![], h.clone(), 0.7).unwrap();
    let law = ExactLaw::new(&m).unwrap();
    for (got, hi) in law.m1().iter().zip(&h) {
        assert!((got - (0.7 * hi).tanh()).abs() < 1e-14);
    }
}

#[test]
fn open_chain_and_ring() {
    let js = [0.4, -0.9, 1.3, 0.2, -0.05];
    let edges: Vec<(usize, usize)> = (0..5).map(|i| (i, i + 1)).collect();
    let m = IsingModel::new(
        Graph::new(6, &edges).unwrap(),
        js.to_vec(),
        vec![0.0; 6],
        1.1,
    )
    .unwrap();
    let law = ExactLaw::new(&m).unwrap();
    for (got, j) in law.m2(edges.iter().copied()).iter().zip(js) {
        assert!(
            (got - (1.1 * j).tanh()).abs() < 1e-14,
            "{got} vs tanh({})",
            1.1 * j
        );
    }
    for n in [3usize, 5, 8, 11] {
        let ring: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let (j, beta) = (0.8, 0.9);
        let m = IsingModel::new(
            Graph::new(n, &ring).unwrap(),
            vec![j; n],
            vec![0.0; n],
            beta,
        )
        .unwrap();
        let law = ExactLaw::new(&m).unwrap();
        let t: f64 = (beta * j).tanh();
        let want = (t + t.powi(n as i32 - 1)) / (1.0 + t.powi(n as i32));
        for got in law.m2(ring.iter().copied()) {
            assert!((got - want).abs() < 1e-13, "ring {n}: {got} vs {want}");
        }
    }
}

#[test]
fn curie_weiss_pair_correlation() {
    // E = −(1/N) Σ_{i<j} x_i x_j = −(M² − N)/(2N) with M = 2k − N for k up spins;
    // ⟨x_i x_j⟩ = (⟨M²⟩ − N) / (N(N − 1)).
    for (n, beta) in [(6usize, 0.5), (9, 1.0), (12, 2.0)] {
        let law = ExactLaw::new(&builders::curie_weiss(n, beta)).unwrap();
        let (mut z, mut m2) = (0.0, 0.0);
        for k in 0..=n as u64 {
            let mag = 2.0 * k as f64 - n as f64;
            let w = binom(n as u64, k) * (beta * (mag * mag - n as f64) / (2.0 * n as f64)).exp();
            z += w;
            m2 += w * mag * mag;
        }
        let want = (m2 / z - n as f64) / (n as f64 * (n as f64 - 1.0));
        for got in law.m2([(0, 1), (2, n - 1)]) {
            assert!(
                (got - want).abs() < 1e-12,
                "CW n={n} β={beta}: {got} vs {want}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0de1_0001),
        ..ProptestConfig::default()
    })]

    #[test]
    fn energy_is_theta_dot_f_and_flip_delta_is_consistent(
        n in 2usize..9, p in 0.1f64..1.0, j in 0.0f64..2.0, h in 0.0f64..1.0, seed in any::<u64>()
    ) {
        let m = builders::random_sparse(n, p, j, h, 1.0, seed);
        let theta = m.params();
        let mut f = vec![0.0; m.n_observables(ObservableSet::All)];
        let mut x = vec![0i8; n];
        for s in 0..1u64 << n {
            spins_from_index(s, &mut x);
            m.observables(&x, ObservableSet::All, &mut f);
            let lin: f64 = theta.iter().zip(&f).map(|(a, b)| a * b).sum();
            prop_assert!((lin - m.energy(&x)).abs() <= 1e-12 * (1.0 + lin.abs()));
            for i in 0..n {
                let e0 = m.energy(&x);
                x[i] = -x[i];
                let e1 = m.energy(&x);
                x[i] = -x[i];
                prop_assert!((m.flip_delta(&x, i) - (e1 - e0)).abs() <= 1e-12 * (1.0 + e0.abs()));
            }
        }
    }

    #[test]
    fn rbm_dense_fields_equal_ising_form(
        nv in 1usize..6, nh in 1usize..5, std in 0.0f64..2.0, seed in any::<u64>()
    ) {
        let base = Rbm::random(nv, nh, std, 1.3, seed).unwrap();
        let b: Vec<f64> = (0..nv).map(|i| 0.1 * i as f64 - 0.2).collect();
        let c: Vec<f64> = (0..nh).map(|j| 0.3 - 0.15 * j as f64).collect();
        let r = Rbm::new(nv, nh, base.weights().to_vec(), b, c, 1.3).unwrap();
        let ising = r.as_ising();
        let n = nv + nh;
        let mut x = vec![0i8; n];
        for s in 0..1u64 << n {
            spins_from_index(s, &mut x);
            prop_assert!((r.energy(&x) - ising.energy(&x)).abs() <= 1e-12);
            for i in 0..n {
                prop_assert!((r.local_field(&x, i) - ising.local_field(&x, i)).abs() <= 1e-12);
            }
        }
        let le = ExactLaw::new(&r).unwrap();
        let li = ExactLaw::new(ising).unwrap();
        prop_assert!(le.pi.iter().zip(&li.pi).all(|(a, b)| (a - b).abs() <= 1e-15));
    }
}
