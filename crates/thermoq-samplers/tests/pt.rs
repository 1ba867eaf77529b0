//! Parallel tempering against exact oracles: swap acceptance by two-replica enumeration, the
//! reversibility certificate of the joint PT operator (PT-SYM passes, PT-DEO fails by design),
//! cold-rung moments vs the enumerated law and vs plain Gibbs, the stale-weights guard, and the
//! ladder constructors.

#![allow(clippy::unwrap_used)] // in tests a failed unwrap is a failed test

mod common;

use common::*;
use rand::Rng;
use thermoq_core::rng::chain_rng;
use thermoq_core::state::spins_from_index;
use thermoq_models::exact::ExactLaw;
use thermoq_models::exact::state_by_inversion;
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel, builders};
use thermoq_samplers::exact::ExactKernel;
use thermoq_samplers::observe::MomentObserver;
use thermoq_samplers::pt::{
    DELTA_STAR, Ladder, ParallelTempering, PtStats, SwapScheme, deo_round_trip_rate, r_star,
    thermodynamic_length,
};
use thermoq_samplers::{GibbsKernel, KernelKind};

fn pt(
    model: &IsingModel,
    ladder: Ladder,
    kind: KernelKind,
    scheme: SwapScheme,
) -> ParallelTempering<GibbsKernel> {
    let k = GibbsKernel::new(kind, model.graph(), None).expect("kernel");
    ParallelTempering::new(model, ladder, k, scheme).expect("pt")
}

/// Draws a state index from `pi` by inversion.
fn draw<R: Rng + ?Sized>(pi: &[f64], rng: &mut R) -> usize {
    let u: f64 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    state_by_inversion(pi, u)
}

fn spins(s: usize, n: usize) -> Vec<i8> {
    let mut x = vec![0i8; n];
    spins_from_index(s as u64, &mut x);
    x
}

/// (a) The swap move, fed replicas drawn exactly from π_1 ⊗ π_2, accepts at the rate
/// E_{π_1⊗π_2}[min(1, e^{(α_1−α_2)β(E_1−E_2)})] computed by summing over all 2^N × 2^N pairs.
///
/// Tolerance: the `n` draws are independent, so the accept count is Binomial(n, p) and the sampled
/// rate has standard error √(p(1−p)/n); we allow 5 SE (two-sided false alarm 6e-7). The mean of the
/// acceptance *probabilities* a ∈ [0, 1] has Var[a] ≤ E[a](1 − E[a]), so the same bound covers it.
#[test]
fn swap_acceptance_matches_two_replica_enumeration() {
    let model = builders::random_sparse(5, 0.7, 1.0, 0.4, 1.2, 11);
    let ladder = Ladder::new(vec![1.0, 0.55]).unwrap();
    let s = pt(&model, ladder, KernelKind::BlkSym, SwapScheme::PtSym);
    let (a1, a2) = (1.0, 0.55);
    let beta = model.beta();
    let law1 = ExactLaw::new(&s.replicas()[0]).unwrap();
    let law2 = ExactLaw::new(&s.replicas()[1]).unwrap();
    // The exact expectation, with the formula written out independently of the library.
    let mut p = 0.0;
    for (i, (&p1, &e1)) in law1.pi.iter().zip(&law1.energy).enumerate() {
        for (&p2, &e2) in law2.pi.iter().zip(&law2.energy) {
            p += p1 * p2 * ((a1 - a2) * beta * (e1 - e2)).exp().min(1.0);
        }
        assert!((e1 - model.energy(&spins(i, 5))).abs() < 1e-12);
    }
    let n = 200_000u64;
    let mut rng = chain_rng(2024, 0);
    let mut st = PtStats::new(2);
    for _ in 0..n {
        let (u, v) = (draw(&law1.pi, &mut rng), draw(&law2.pi, &mut rng));
        let mut c = s.chain_from_states(vec![spins(u, 5), spins(v, 5)]).unwrap();
        let acc = s.swap_pair(&mut c, 0, Some(&mut st), &mut rng).unwrap();
        // An accepted swap exchanges configurations, energies and labels.
        let (cold, hot) = if acc { (v, u) } else { (u, v) };
        assert_eq!(c.states()[0], spins(cold, 5));
        assert_eq!(c.states()[1], spins(hot, 5));
        assert_eq!(c.labels(), if acc { vec![1, 0] } else { vec![0, 1] });
    }
    let se = (p * (1.0 - p) / n as f64).sqrt();
    let rate = st.acceptance(0).unwrap();
    let rb = st.mean_acceptance_prob(0).unwrap();
    eprintln!(
        "exact E[min(1,e^Δ)] = {p:.6}, sampled rate = {rate:.6}, mean prob = {rb:.6}, SE = {se:.2e}"
    );
    assert!(
        p > 0.05 && p < 0.95,
        "choose a model with a non-trivial acceptance, got {p}"
    );
    assert!(
        (rate - p).abs() < 5.0 * se,
        "rate {rate} vs exact {p} (SE {se})"
    );
    assert!(
        (rb - p).abs() < 5.0 * se,
        "mean prob {rb} vs exact {p} (SE {se})"
    );
}

fn db_residual(k: &faer::Mat<f64>, pi: &[f64]) -> f64 {
    let mut m: f64 = 0.0;
    for i in 0..pi.len() {
        for j in 0..pi.len() {
            m = m.max((pi[i] * k[(i, j)] - pi[j] * k[(j, i)]).abs());
        }
    }
    m
}

fn stationarity_residual(k: &faer::Mat<f64>, pi: &[f64]) -> f64 {
    (0..pi.len())
        .map(|j| ((0..pi.len()).map(|i| pi[i] * k[(i, j)]).sum::<f64>() - pi[j]).abs())
        .fold(0.0, f64::max)
}

fn row_sum_residual(k: &faer::Mat<f64>) -> f64 {
    (0..k.nrows())
        .map(|i| ((0..k.ncols()).map(|j| k[(i, j)]).sum::<f64>() - 1.0).abs())
        .fold(0.0, f64::max)
}

/// (b) Reversibility certificate of the joint operator on 2^{N R} = 2^9 states (N = 3, R = 3):
/// PT-SYM ½(L S + S L) is in detailed balance with ⊗_r π_{α_r β} to ≤ 1e-12 (for BLK-SYM and RS1
/// local sweeps); PT-DEO's period L S_even L S_odd is stationary but *not* reversible (> 1e-4,
/// the negative control that shows the certificate bites).
#[test]
fn exact_joint_operator_certificate() {
    let model = builders::random_sparse(3, 1.0, 1.2, 0.5, 1.5, 5);
    let ladder = Ladder::geometric(3, 0.3).unwrap();
    for kind in [KernelKind::BlkSym, KernelKind::Rs1] {
        let sym = pt(&model, ladder.clone(), kind, SwapScheme::PtSym);
        let deo = pt(&model, ladder.clone(), kind, SwapScheme::PtDeo);
        let pi = sym.exact_product_law().unwrap();
        assert!((pi.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for k in 0..2 {
            let s = sym.exact_swap_operator(k).unwrap();
            assert!(row_sum_residual(&s) < 1e-12);
            assert!(
                db_residual(&s, &pi) < 1e-12,
                "single swap must be reversible"
            );
        }
        let ks = sym.exact_sweep_operator().unwrap();
        let kd = deo.exact_sweep_operator().unwrap();
        let (db_s, st_s) = (db_residual(&ks, &pi), stationarity_residual(&ks, &pi));
        let (db_d, st_d) = (db_residual(&kd, &pi), stationarity_residual(&kd, &pi));
        eprintln!(
            "{kind}: PT-SYM detailed balance {db_s:.2e}, stationarity {st_s:.2e}; \
             PT-DEO detailed balance {db_d:.2e}, stationarity {st_d:.2e}"
        );
        assert!(row_sum_residual(&ks) < 1e-12 && row_sum_residual(&kd) < 1e-12);
        assert!(db_s <= 1e-12, "PT-SYM detailed balance residual {db_s}");
        assert!(st_s <= 1e-12, "PT-SYM stationarity residual {st_s}");
        assert!(st_d <= 1e-12, "PT-DEO stationarity residual {st_d}");
        assert!(db_d > 1e-4, "PT-DEO must fail detailed balance, got {db_d}");
        assert!(sym.is_reversible() && !deo.is_reversible());
    }
}

/// (c) Cold-rung moments of PT (both schemes) agree with the enumerated law, and with plain
/// BLK-SYM Gibbs at α = 1.
///
/// Tolerance derivation. PT: `C` independent chains each give a `K`-sweep mean of every moment;
/// the chain means are i.i.d., so their sample standard deviation / √C is the standard error with
/// all autocorrelation (τ_int) included — no τ model needed for a non-Markov cold marginal.
/// Gibbs: the exact window variance from the sweep operator's autocovariances
/// (`common::variance_facts`, i.e. τ-corrected) divided by `C·K`. Per-moment z-tests use the
/// two-sided Bonferroni value over all 2·(2m + 5) comparisons of the test (m moments vs exact and
/// vs Gibbs, 4 specific heats and 1 energy, two schemes) at family-wise rate 1e-4 (the ratio to
/// the estimated SE is t-distributed with C − 1 = 47 dof; at these tail levels, z ≈ 4.8, the
/// Cornish–Fisher t_47 quantile is ≈ 1.15 z, so we widen z by 1.2). Burn-in 300 PT sweeps from the uniform law; the cold
/// rung's τ is a few sweeps here, so the residual start bias is far below the SE.
#[test]
fn cold_rung_moments_match_exact_and_gibbs() {
    const C: usize = 48;
    const B: usize = 300;
    const K: usize = 3000;
    let model = builders::random_sparse(6, 0.6, 1.0, 0.3, 1.3, 21);
    let law = ExactLaw::new(&model).unwrap();
    let table = moment_table(&model);
    let exact: Vec<f64> = table.iter().map(|f| law.expect(f)).collect();
    let m = exact.len();
    let z = bonferroni_z(1e-4, 2 * (2 * m + 5)) * 1.2;

    // Gibbs reference at α = 1 with exact τ-corrected SE.
    let gk = GibbsKernel::new(KernelKind::BlkSym, model.graph(), None).unwrap();
    let ek = ExactKernel::new(&gk, &model).unwrap();
    let gibbs = flat(&sample_moments(&model, &gk, C, B, K, 77));
    let gibbs_se: Vec<f64> = table
        .iter()
        .map(|f| (variance_facts(&ek, &law.pi, f, K).window / (C * K) as f64).sqrt())
        .collect();

    for scheme in [SwapScheme::PtSym, SwapScheme::PtDeo] {
        let s = pt(
            &model,
            Ladder::geometric(4, 0.3).unwrap(),
            KernelKind::BlkSym,
            scheme,
        );
        let cold = &s.replicas()[0];
        let run = s.run(C, 99, B, K, |_| MomentObserver::new(cold)).unwrap();
        let per_chain: Vec<Vec<f64>> = run.observers.iter().map(|o| flat(&o.moments())).collect();
        let mean: Vec<f64> = (0..m)
            .map(|a| per_chain.iter().map(|v| v[a]).sum::<f64>() / C as f64)
            .collect();
        let se: Vec<f64> = (0..m)
            .map(|a| {
                let v = per_chain
                    .iter()
                    .map(|c| (c[a] - mean[a]).powi(2))
                    .sum::<f64>()
                    / (C - 1) as f64;
                (v / C as f64).sqrt()
            })
            .collect();
        let dot: f64 = mean.iter().zip(&exact).map(|(a, b)| a * b).sum();
        let cos = dot
            / (mean.iter().map(|a| a * a).sum::<f64>().sqrt()
                * exact.iter().map(|a| a * a).sum::<f64>().sqrt());
        let cos_g = {
            let d: f64 = mean.iter().zip(&gibbs).map(|(a, b)| a * b).sum();
            d / (mean.iter().map(|a| a * a).sum::<f64>().sqrt()
                * gibbs.iter().map(|a| a * a).sum::<f64>().sqrt())
        };
        let mut worst_exact: f64 = 0.0;
        let mut worst_gibbs: f64 = 0.0;
        for a in 0..m {
            let ze = (mean[a] - exact[a]).abs() / se[a];
            let zg = (mean[a] - gibbs[a]).abs() / (se[a].powi(2) + gibbs_se[a].powi(2)).sqrt();
            worst_exact = worst_exact.max(ze);
            worst_gibbs = worst_gibbs.max(zg);
            assert!(
                ze < z,
                "{}: moment {a} PT {} vs exact {} (SE {})",
                scheme.name(),
                mean[a],
                exact[a],
                se[a]
            );
            assert!(
                zg < z,
                "{}: moment {a} PT {} vs Gibbs {}",
                scheme.name(),
                mean[a],
                gibbs[a]
            );
        }
        let pooled = run.pooled();
        let acc: Vec<f64> = (0..3)
            .map(|k| pooled.mean_acceptance_prob(k).unwrap())
            .collect();
        eprintln!(
            "{}: cos(PT, exact) = {cos:.6}, cos(PT, Gibbs) = {cos_g:.6}, max z vs exact {worst_exact:.2}, \
             vs Gibbs {worst_gibbs:.2} (limit {z:.2}); edge acceptance {acc:.3?}; round trips {} over {} chains × {K} sweeps \
             = {:.4} trips/sweep/chain; Λ_rej = {:.3}, DEO prediction {:.4} trips/sweep/chain",
            scheme.name(),
            pooled.round_trips,
            C,
            pooled.round_trips as f64 / pooled.sweeps as f64,
            pooled.lambda_rej().unwrap(),
            deo_round_trip_rate(&acc.iter().map(|a| 1.0 - a).collect::<Vec<_>>()).unwrap()
        );
        assert!(cos > 0.99 && cos_g > 0.99);
        // Per-rung energy statistics: rung 0 mean energy matches the exact one within z SE.
        let e_chain: Vec<f64> = run
            .stats
            .iter()
            .map(|s| s.energy_mean(0).unwrap())
            .collect();
        let em = e_chain.iter().sum::<f64>() / C as f64;
        let ese =
            (e_chain.iter().map(|e| (e - em).powi(2)).sum::<f64>() / ((C - 1) * C) as f64).sqrt();
        // Per-rung specific heat C(α_r) = β² Var(E) vs the enumerated value, SE across chains. The
        // per-chain variance has a −Var·τ/K bias (K = 3000, τ of a few sweeps): ≲ 1e-3 relative,
        // well below the ≈ 1e-2 relative SE, so the same z applies.
        let c_chain: Vec<Vec<f64>> = run
            .stats
            .iter()
            .map(|st| s.specific_heat(st).unwrap())
            .collect();
        for (r, rep) in s.replicas().iter().enumerate() {
            let c_exact = exact_heat(rep, model.beta());
            let (cm, cse) = rung_mean_se(&c_chain, r);
            eprintln!(
                "{}: rung {r} α = {:.3}: C measured {cm:.4} ± {cse:.4}, exact {c_exact:.4}",
                scheme.name(),
                s.ladder().alphas()[r]
            );
            assert!(
                (cm - c_exact).abs() < z * cse,
                "rung {r}: C {cm} vs exact {c_exact}"
            );
        }
        assert!(
            (em - law.energy_mean()).abs() < z * ese,
            "rung-0 energy {em} vs {}",
            law.energy_mean()
        );
    }
}

/// The sampler is deterministic for a fixed seed regardless of thread scheduling.
#[test]
fn runs_are_deterministic() {
    let model = builders::random_sparse(6, 0.6, 1.0, 0.3, 1.3, 21);
    let s = pt(
        &model,
        Ladder::uniform(3, 0.4).unwrap(),
        KernelKind::Rs1,
        SwapScheme::PtDeo,
    );
    let cold = &s.replicas()[0];
    let a = s.run(4, 5, 10, 50, |_| MomentObserver::new(cold)).unwrap();
    let b = s.run(4, 5, 10, 50, |_| MomentObserver::new(cold)).unwrap();
    assert_eq!(a.stats, b.stats);
    for (x, y) in a.chains.iter().zip(&b.chains) {
        assert_eq!(x.states(), y.states());
        assert_eq!(x.labels(), y.labels());
    }
}

/// (d) A sampler built after `set_params` runs the new weights: every replica carries the
/// current couplings and biases at α_r β; a sampler built before keeps its own snapshot.
#[test]
fn sampler_built_after_set_params_uses_current_weights() {
    let mut model = builders::random_sparse(5, 0.8, 1.0, 0.3, 1.0, 3);
    let ladder = Ladder::uniform(4, 0.5).unwrap();
    let before = pt(
        &model,
        ladder.clone(),
        KernelKind::BlkSym,
        SwapScheme::PtSym,
    );
    let theta: Vec<f64> = model.params().iter().map(|t| 0.5 * t + 0.25).collect();
    model.set_params(&theta).unwrap();
    let after = pt(
        &model,
        ladder.clone(),
        KernelKind::BlkSym,
        SwapScheme::PtSym,
    );
    for (r, rep) in after.replicas().iter().enumerate() {
        assert_eq!(rep.couplings(), model.couplings());
        assert_eq!(rep.biases(), model.biases());
        assert_eq!(rep.beta(), ladder.alphas()[r] * model.beta());
    }
    assert_ne!(before.replicas()[0].couplings(), model.couplings());
}

/// (e) Ladder constructors, thermodynamic length, R* and the DEO prediction.
#[test]
fn ladder_constructors_and_formulas() {
    let u = Ladder::uniform(5, 0.2).unwrap();
    for w in u.alphas().windows(2) {
        assert!((w[0] - w[1] - 0.2).abs() < 1e-12);
    }
    assert_eq!(u.alphas()[0], 1.0);
    assert_eq!(u.alpha_top(), 0.2);
    let g = Ladder::geometric(6, 0.01).unwrap();
    for w in g.alphas().windows(2) {
        assert!((w[1] / w[0] - 0.01f64.powf(0.2)).abs() < 1e-12);
    }
    assert_eq!(g.alpha_top(), 0.01);

    // C constant ⇒ √C constant ⇒ equal length is equal Δα (exact under trapezoid + linear inverse).
    let pts: Vec<f64> = (0..=10).map(|k| 1.0 - 0.07 * k as f64).collect();
    let e = Ladder::equal_length(&pts, &vec![4.0; pts.len()], 5).unwrap();
    let uu = Ladder::uniform(5, 0.3).unwrap();
    for (a, b) in e.alphas().iter().zip(uu.alphas()) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    assert!((thermodynamic_length(&pts, &vec![4.0; pts.len()]).unwrap() - 2.0 * 0.7).abs() < 1e-12);

    // C = 1/α² ⇒ Λ(α) = ln(1/α) ⇒ equal length is geometric. On a fine grid (Δα = 1e-4) the
    // trapezoid error of ∫ dα/α is O(Δα² /α³) ≲ 1e-6 and the linear inversion error is of the same
    // order, so rungs agree with the geometric ladder to 1e-5.
    let pts: Vec<f64> = (0..=9000).map(|k| 1.0 - 1e-4 * k as f64).collect();
    let c: Vec<f64> = pts.iter().map(|a| 1.0 / (a * a)).collect();
    let e = Ladder::equal_length(&pts, &c, 7).unwrap();
    let gg = Ladder::geometric(7, pts[9000]).unwrap();
    for (a, b) in e.alphas().iter().zip(gg.alphas()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let lam = thermodynamic_length(&pts, &c).unwrap();
    assert!((lam - (1.0 / pts[9000]).ln()).abs() < 1e-5);

    // R* = 1 + round(Λ/δ*), δ* from erfc(δ*/2) ≈ 0.234.
    assert!((erfc(DELTA_STAR / 2.0) - 0.234).abs() < 5e-4);
    assert_eq!(r_star(0.0).unwrap(), 1);
    assert_eq!(r_star(10.0 * DELTA_STAR).unwrap(), 11);
    assert_eq!(r_star(10.4 * DELTA_STAR).unwrap(), 11);
    assert_eq!(r_star(10.6 * DELTA_STAR).unwrap(), 12);
    assert!(r_star(f64::NAN).is_err() && r_star(-1.0).is_err());

    assert_eq!(deo_round_trip_rate(&[0.0, 0.0, 0.0]).unwrap(), 0.5);
    assert_eq!(deo_round_trip_rate(&[0.5, 0.5]).unwrap(), 0.25);
    assert!(deo_round_trip_rate(&[1.5]).is_err() && deo_round_trip_rate(&[f64::NAN]).is_err());

    // Invalid ladders are rejected with typed errors.
    assert!(Ladder::new(vec![]).is_err());
    assert!(Ladder::new(vec![0.9, 0.5]).is_err());
    assert!(Ladder::new(vec![1.0, 0.5, 0.5]).is_err());
    assert!(Ladder::new(vec![1.0, f64::NAN]).is_err());
    assert!(Ladder::new(vec![1.0, 0.0]).is_err());
    assert!(Ladder::uniform(1, 0.5).is_err() && Ladder::geometric(3, 1.0).is_err());
    assert!(Ladder::equal_length(&[0.9, 0.5], &[1.0, 1.0], 3).is_err()); // grid misses α = 1
    assert!(Ladder::equal_length(&[1.0, 0.5], &[1.0, -1.0], 3).is_err());
    assert!(Ladder::equal_length(&[1.0, 0.5], &[0.0, 0.0], 3).is_err());
    assert!(Ladder::new(vec![1.0]).is_ok());
}

/// Round-trip bookkeeping on a two-rung ladder with C = 0 energy differences: with J = h = 0 every
/// swap is accepted, so under PT-DEO the labels alternate deterministically and each label
/// completes a round trip every 4 sweeps (even edge fires on even steps only).
#[test]
fn round_trips_are_counted_on_a_free_model() {
    let mut model = builders::random_sparse(4, 1.0, 1.0, 0.0, 1.0, 1);
    let zero = vec![0.0; model.n_params()];
    model.set_params(&zero).unwrap();
    let s = pt(
        &model,
        Ladder::new(vec![1.0, 0.5]).unwrap(),
        KernelKind::Rs1,
        SwapScheme::PtDeo,
    );
    let cold = &s.replicas()[0];
    let run = s.run(1, 0, 0, 400, |_| MomentObserver::new(cold)).unwrap();
    let st = &run.stats[0];
    assert_eq!(st.swap_attempts[0], 200);
    assert_eq!(st.swap_accepts[0], 200);
    // Label 0: cold → hot (step 0) → cold (step 2) → …: one trip per 4 sweeps after the first
    // return, for both labels: label 0 returns at steps 2, 6, …; label 1 first reaches cold at
    // step 0, hot at 2, cold at 4, ….
    assert_eq!(st.round_trips, 199);
}

/// The sampler runs the operator it certifies: from a fixed joint state, the empirical law of one
/// PT-SYM sweep (two PT-DEO sweeps, one period, starting at step 0) matches the corresponding row
/// of `exact_sweep_operator` on 2^{N R} = 2^6 joint states.
///
/// Tolerance: `n` independent repetitions make each cell count Binomial(n, p); each cell's
/// frequency is within z·√(p(1−p)/n) + 1/n, z the two-sided Bonferroni value over the 2 · 64 cells
/// at family-wise rate 1e-4.
#[test]
fn sampled_transitions_match_exact_operator_rows() {
    let model = builders::random_sparse(2, 1.0, 1.0, 0.5, 1.5, 8);
    let ladder = Ladder::geometric(3, 0.2).unwrap();
    let start = vec![vec![1i8, -1], vec![-1, -1], vec![1, 1]];
    let joint = |x: &[Vec<i8>]| -> usize {
        x.iter()
            .enumerate()
            .map(|(r, xs)| (thermoq_core::state::index_from_spins(xs) as usize) << (2 * r))
            .sum()
    };
    let n = 100_000usize;
    let z = bonferroni_z(1e-4, 2 * 64);
    for (scheme, steps) in [(SwapScheme::PtSym, 1), (SwapScheme::PtDeo, 2)] {
        let s = pt(&model, ladder.clone(), KernelKind::BlkSym, scheme);
        let k = s.exact_sweep_operator().unwrap();
        let j0 = joint(&start);
        let mut counts = vec![0usize; 64];
        let mut rng = chain_rng(31, scheme as u64);
        for _ in 0..n {
            let mut c = s.chain_from_states(start.clone()).unwrap();
            for _ in 0..steps {
                s.step(&mut c, None, &mut rng).unwrap();
            }
            counts[joint(c.states())] += 1;
        }
        let mut worst: f64 = 0.0;
        for (j, &cnt) in counts.iter().enumerate() {
            let p = k[(j0, j)];
            let f = cnt as f64 / n as f64;
            let tol = z * (p * (1.0 - p) / n as f64).sqrt() + 1.0 / n as f64;
            worst = worst.max((f - p).abs() / tol);
            assert!(
                (f - p).abs() <= tol,
                "{}: cell {j} freq {f} vs exact {p}",
                scheme.name()
            );
        }
        eprintln!("{}: worst |freq − exact| / tol = {worst:.3}", scheme.name());
    }
}

/// Misuse is a typed error, never a panic: out-of-range edges, non-finite energies, chains and
/// statistics made for another sampler, kernels for a larger model, wrong start states.
#[test]
fn misuse_is_rejected_with_typed_errors() {
    let model = builders::random_sparse(4, 0.8, 1.0, 0.3, 1.0, 2);
    let s3 = pt(
        &model,
        Ladder::uniform(3, 0.5).unwrap(),
        KernelKind::Rs1,
        SwapScheme::PtSym,
    );
    let s2 = pt(
        &model,
        Ladder::uniform(2, 0.5).unwrap(),
        KernelKind::Rs1,
        SwapScheme::PtDeo,
    );
    let mut rng = chain_rng(1, 0);
    let mut c3 = s3.uniform_chain(&mut rng);
    let mut c2 = s2.uniform_chain(&mut rng);
    assert!(s3.swap_acceptance(2, 0.0, 0.0).is_err());
    assert!(s3.swap_acceptance(0, f64::NAN, 0.0).is_err());
    assert!(s3.swap_pair(&mut c3, 2, None, &mut rng).is_err());
    assert!(s3.step(&mut c2, None, &mut rng).is_err());
    assert!(s2.local_sweep(&mut c3, &mut rng).is_err());
    let mut st2 = PtStats::new(2);
    assert!(s3.step(&mut c3, Some(&mut st2), &mut rng).is_err());
    assert!(s3.step(&mut c3, None, &mut rng).is_ok());
    assert!(s3.chain_from_states(vec![vec![1; 4]; 2]).is_err());
    assert!(s3.chain_from_states(vec![vec![1, 0, 1, 1]; 3]).is_err());
    assert!(s3.run(0, 1, 0, 1, |_| MomentObserver::new(&model)).is_err());
    let big = builders::random_sparse(6, 0.8, 1.0, 0.3, 1.0, 2);
    let k = GibbsKernel::new(KernelKind::Rs1, big.graph(), None).unwrap();
    assert!(
        ParallelTempering::new(
            &model,
            Ladder::uniform(2, 0.5).unwrap(),
            k,
            SwapScheme::PtSym
        )
        .is_err()
    );
    // Exact operators refuse joint spaces beyond 2^12.
    let s4 = pt(
        &model,
        Ladder::uniform(4, 0.5).unwrap(),
        KernelKind::Rs1,
        SwapScheme::PtSym,
    );
    assert!(s4.exact_sweep_operator().is_err());
}

/// The fast PT driver (temperature swaps over the conditioned block-Gibbs engine): for both
/// schemes the cold-rung moments match the enumerated law and every rung's C(α_r) = β² Var(E)
/// matches its exact value, within z standard errors across independent chains; the run is
/// bit-reproducible for a fixed seed.
#[test]
fn fast_pt_matches_exact_laws_and_is_deterministic() {
    use thermoq_core::Coloring;
    use thermoq_samplers::pt::FastPt;
    const C: usize = 48;
    const B: usize = 300;
    const K: usize = 3000;
    let model = builders::random_sparse(6, 0.6, 1.0, 0.3, 1.3, 21);
    let col = Coloring::dsatur(model.graph());
    let law = ExactLaw::new(&model).unwrap();
    let table = moment_table(&model);
    let exact: Vec<f64> = table.iter().map(|f| law.expect(f)).collect();
    let m = exact.len();
    let n = model.n_spins();
    let edges: Vec<(usize, usize)> = model.graph().edges().collect();
    let z = bonferroni_z(1e-4, 2 * (m + 4)) * 1.2;
    for scheme in [SwapScheme::PtSym, SwapScheme::PtDeo] {
        let ladder = Ladder::geometric(4, 0.3).unwrap();
        let mut s = FastPt::new(&model, &col, KernelKind::BlkSym, ladder, scheme, C, 99).unwrap();
        let mut sums = vec![vec![0.0; m]; C];
        s.run(B, K, |_, pt| {
            for (c, acc) in sums.iter_mut().enumerate() {
                let x = pt.state(c, 0);
                for i in 0..n {
                    acc[i] += f64::from(x[i]);
                }
                for (e, &(i, j)) in edges.iter().enumerate() {
                    acc[n + e] += f64::from(x[i] * x[j]);
                }
            }
        })
        .unwrap();
        for a in 0..m {
            let v: Vec<f64> = sums.iter().map(|s| s[a] / K as f64).collect();
            let mean = v.iter().sum::<f64>() / C as f64;
            let se =
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / ((C - 1) * C) as f64).sqrt();
            assert!(
                (mean - exact[a]).abs() < z * se.max(1e-4),
                "{}: moment {a} fast PT {mean} vs exact {} (SE {se})",
                scheme.name(),
                exact[a]
            );
        }
        let c_chain: Vec<Vec<f64>> = s
            .stats()
            .iter()
            .map(|st| s.specific_heat(st).unwrap())
            .collect();
        for (r, &alpha) in s.ladder().alphas().iter().enumerate() {
            let c_exact = exact_heat(
                &model.with_beta(alpha * model.beta()).unwrap(),
                model.beta(),
            );
            let (cm, cse) = rung_mean_se(&c_chain, r);
            assert!(
                (cm - c_exact).abs() < z * cse,
                "{}: rung {r}: C {cm} vs exact {c_exact} (SE {cse})",
                scheme.name()
            );
        }
        let pooled = s.pooled();
        assert_eq!(pooled.sweeps, (C * K) as u64);
        assert!(pooled.round_trips > 0, "{}: no round trips", scheme.name());
        let run = |seed| {
            let mut a = FastPt::new(
                &model,
                &col,
                KernelKind::BlkAlt,
                Ladder::uniform(3, 0.4).unwrap(),
                scheme,
                4,
                seed,
            )
            .unwrap();
            a.run(10, 50, |_, _| {}).unwrap();
            (
                a.pooled(),
                (0..4).map(|c| a.state(c, 0).to_vec()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(run(5), run(5));
    }
}

/// `β² Var[E]` under the enumerated law of `rung` (the rung's own inverse temperature inside).
fn exact_heat(rung: &IsingModel, beta: f64) -> f64 {
    let lr = ExactLaw::new(rung).unwrap();
    let mean_e = lr.energy_mean();
    let var_e: f64 = lr
        .pi
        .iter()
        .zip(&lr.energy)
        .map(|(p, e)| p * (e - mean_e).powi(2))
        .sum();
    beta.powi(2) * var_e
}

/// Mean over chains of rung `r`'s per-chain value, and its standard error.
fn rung_mean_se(per_chain: &[Vec<f64>], r: usize) -> (f64, f64) {
    let c = per_chain.len() as f64;
    let m = per_chain.iter().map(|v| v[r]).sum::<f64>() / c;
    let se = (per_chain.iter().map(|v| (v[r] - m).powi(2)).sum::<f64>() / ((c - 1.0) * c)).sqrt();
    (m, se)
}

/// FastPt's swap acceptance against two-replica enumeration: at stationarity the rungs are
/// independent draws from the product law, so the mean acceptance probability of edge `k` is
/// `E_{π_k⊗π_{k+1}}[min(1, e^{(α_k−α_{k+1})β(E_k−E_{k+1})})]`, summed here over all `2^N × 2^N`
/// pairs with the formula written out independently of the library.
///
/// Tolerance: the `C = 64` chains are independent replicates, so the spread of their per-chain
/// mean acceptance probabilities gives an SE that includes the autocorrelation
/// (`SE = sd/√C`, Student-t with 63 degrees of freedom). We accept `|mean − exact| ≤ 6·SE`; with
/// 2 edges × 2 schemes = 4 comparisons, `P(|t₆₃| > 6) ≈ 1.1e-7` each, the family-wise false-alarm
/// rate is below 5e-7. The engine's 24-bit `f32` update perturbs the law by at most ~1e-6, far
/// below the SE.
#[test]
fn fast_pt_swap_acceptance_matches_two_replica_enumeration() {
    use thermoq_core::Coloring;
    use thermoq_samplers::pt::FastPt;
    const C: usize = 64;
    let model = builders::random_sparse(6, 0.6, 1.0, 0.3, 1.3, 21);
    let col = Coloring::dsatur(model.graph());
    let alphas = [1.0, 0.7, 0.45];
    let beta = model.beta();
    let laws: Vec<ExactLaw> = alphas
        .iter()
        .map(|&a| ExactLaw::new(&model.with_beta(a * beta).unwrap()).unwrap())
        .collect();
    let exact: Vec<f64> = (0..2)
        .map(|k| {
            let mut p = 0.0;
            for (&p1, &e1) in laws[k].pi.iter().zip(&laws[k].energy) {
                for (&p2, &e2) in laws[k + 1].pi.iter().zip(&laws[k + 1].energy) {
                    p += p1
                        * p2
                        * ((alphas[k] - alphas[k + 1]) * beta * (e1 - e2))
                            .exp()
                            .min(1.0);
                }
            }
            p
        })
        .collect();
    for scheme in [SwapScheme::PtSym, SwapScheme::PtDeo] {
        let ladder = Ladder::new(alphas.to_vec()).unwrap();
        let mut s = FastPt::new(&model, &col, KernelKind::BlkSym, ladder, scheme, C, 41).unwrap();
        s.run(300, 3000, |_, _| {}).unwrap();
        for (k, &p) in exact.iter().enumerate() {
            assert!(
                p > 0.05 && p < 0.95,
                "edge {k}: choose a non-trivial acceptance, got {p}"
            );
            let per_chain: Vec<Vec<f64>> = s
                .stats()
                .iter()
                .map(|st| vec![st.mean_acceptance_prob(k).unwrap()])
                .collect();
            let (m, se) = rung_mean_se(&per_chain, 0);
            eprintln!(
                "{} edge {k}: exact {p:.5}, fast PT {m:.5} (SE {se:.1e})",
                scheme.name()
            );
            assert!(
                (m - p).abs() <= 6.0 * se,
                "{} edge {k}: mean acceptance {m} vs exact {p} (SE {se})",
                scheme.name()
            );
        }
    }
}

/// The PT-DEO round-trip count against its exact expectation, on a model where the
/// efficient-local-exploration (ELE) assumption holds exactly: zero couplings and non-zero
/// fields, sampled with the systematic-scan heat bath `SS1`. One sweep then redraws every spin
/// from its exact marginal, so before every swap round the R rung energies are fresh independent
/// draws from π_{α_r β}, and a swap at edge k is accepted with probability exactly
/// A_k = E_{x∼π_k, y∼π_{k+1}} min(1, e^{(α_k−α_{k+1}) β (E(x)−E(y))}) (enumerated below),
/// independently of everything before. Each replica label is then a Markov chain on
/// (rung, phase ∈ {unknown, left cold, reached hot}) driven by the DEO parity schedule, and the
/// expected number of completed round trips in the recorded sweeps is the sum, over labels and
/// recorded steps, of the probability that the label completes a trip at that step — computed
/// here by propagating each label's exact law from the uniform start through burn-in and the
/// recorded sweeps (an independent computation: it uses neither the sampler nor Syed et al.'s
/// large-R formula, which is printed for comparison).
///
/// Tolerance: the C chains are independent, so the per-chain counts' sample standard deviation
/// / √C is the standard error of the mean count (every correlation between trips within a chain
/// included). |mean − expected| ≤ 4.5 SE: a two-sided false-alarm rate of 3.0e-5 for the t
/// distribution with C − 1 = 63 dof (6.8e-6 for the normal); the outcome is fixed by the seed. For scale: Syed et al.'s large-R rate × K (543.6 here) lies ≈ 46 SE away, and a
/// counter that dropped the "reached the hot rung" condition would count every return to rung 0.
#[test]
fn deo_round_trips_match_their_exact_expectation_when_ele_holds() {
    const C: usize = 64;
    const B: usize = 50;
    const K: usize = 2000;
    let n = 6;
    let mut model = builders::random_sparse(n, 0.5, 1.0, 0.0, 1.0, 3);
    let m = model.graph().n_edges();
    let fields = [0.9, -0.6, 1.2, 0.4, -1.1, 0.7];
    let mut theta = vec![0.0; model.n_params()];
    theta[m..].copy_from_slice(&fields);
    model.set_params(&theta).unwrap();
    let s = pt(
        &model,
        Ladder::geometric(5, 0.15).unwrap(),
        KernelKind::Ss1,
        SwapScheme::PtDeo,
    );
    let r = s.ladder().len();
    let top = r - 1;
    // Exact mean acceptance of every edge.
    let energies: Vec<f64> = (0..1usize << n)
        .map(|i| {
            let mut x = vec![0; n];
            spins_from_index(i as u64, &mut x);
            s.replicas()[0].energy(&x)
        })
        .collect();
    let laws: Vec<Vec<f64>> = s
        .replicas()
        .iter()
        .map(|rep| ExactLaw::new(rep).unwrap().pi)
        .collect();
    let acc: Vec<f64> = (0..top)
        .map(|k| {
            let mut a = 0.0;
            for (x, px) in laws[k].iter().enumerate() {
                for (y, py) in laws[k + 1].iter().enumerate() {
                    a += px * py * s.swap_acceptance(k, energies[x], energies[y]).unwrap();
                }
            }
            a
        })
        .collect();
    // Each label's law over (rung, phase), phase 0 unknown, 1 left cold, 2 reached hot.
    let mut expected = 0.0;
    for label in 0..r {
        let mut p = vec![[0.0f64; 3]; r];
        p[label][if label == 0 { 1 } else { 0 }] = 1.0;
        for t in 0..B + K {
            let parity = t % 2;
            let mut q = vec![[0.0f64; 3]; r];
            let mut trips = 0.0;
            for i in 0..r {
                for ph in 0..3 {
                    let w = p[i][ph];
                    if w == 0.0 {
                        continue;
                    }
                    // The active edge touching rung i this round, if any.
                    let edge = if i % 2 == parity && i < top {
                        Some(i)
                    } else if i >= 1 && (i - 1) % 2 == parity {
                        Some(i - 1)
                    } else {
                        None
                    };
                    let Some(k) = edge else {
                        q[i][ph] += w;
                        continue;
                    };
                    let dest = if k == i { i + 1 } else { i - 1 };
                    let a = acc[k];
                    q[i][ph] += w * (1.0 - a);
                    let mut nph = ph;
                    if dest == 0 {
                        if ph == 2 {
                            trips += w * a;
                        }
                        nph = 1;
                    } else if dest == top && ph == 1 {
                        nph = 2;
                    }
                    q[dest][nph] += w * a;
                }
            }
            if t >= B {
                expected += trips;
            }
            p = q;
        }
    }
    let run = s.run(C, 31, B, K, |_| MomentObserver::new(&model)).unwrap();
    let counts: Vec<f64> = run.stats.iter().map(|st| st.round_trips as f64).collect();
    assert!(run.stats.iter().all(|st| st.sweeps == K as u64));
    let mean = counts.iter().sum::<f64>() / C as f64;
    let sd = (counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (C - 1) as f64).sqrt();
    let se = sd / (C as f64).sqrt();
    let syed = deo_round_trip_rate(&acc.iter().map(|a| 1.0 - a).collect::<Vec<_>>()).unwrap();
    eprintln!(
        "PT-DEO, R = {r}, ELE exact: edge acceptance {acc:.4?}; round trips per chain {mean:.2} ± \
         {se:.2} over {K} sweeps, exact expectation {expected:.2} (Syed et al. large-R rate × K: {:.2})",
        syed * K as f64
    );
    assert!(
        (mean - expected).abs() <= 4.5 * se,
        "round trips {mean} ± {se}, expected {expected}"
    );
}

/// On the lanes engine (8 chains × 4 rungs = 32 slots) `FastPt` carries each slot's energy along
/// the local sweep (`f32` changes, exact `f64` recompute every `FAST_PT_EXACT_EVERY` sweeps). After
/// every one of 200 steps, with either comparison-word generator, every carried energy is within
/// `1e-4·(1 + |E|)` of the model's exact energy of the slot's state (a wrong sign or a missed update
/// moves it by ≥ 2·min|φ|, orders of magnitude more; `f32` rounding of ~10³ terms moves it by
/// ~1e-5). And `advance(n)` (states written back once) gives the same run, bit for bit, as `n`
/// calls of `step`.
#[test]
fn fast_pt_carried_energies_are_exact_and_advance_equals_steps() {
    use thermoq_core::Coloring;
    use thermoq_samplers::fast::Generator;
    use thermoq_samplers::pt::FAST_PT_EXACT_EVERY;
    let model = builders::random_sparse(40, 0.15, 0.7, 0.3, 1.0, 8);
    let col = Coloring::dsatur(model.graph());
    let chains = 8;
    let make = |g: Generator| fast_pt_deo4(&model, &col, KernelKind::BlkSym, chains, 7, g);
    assert!(200 > 2 * FAST_PT_EXACT_EVERY as usize);
    for g in [Generator::ChaCha8, Generator::Xoshiro128Plus] {
        let mut a = make(g);
        let mut worst = 0.0f64;
        for _ in 0..200 {
            a.step(true).unwrap();
            for c in 0..chains {
                for r in 0..4 {
                    let exact = model.energy(a.state(c, r));
                    let err = (a.energy(c, r) - exact).abs();
                    assert!(
                        err <= 1e-4 * (1.0 + exact.abs()),
                        "{} step {}: chain {c} rung {r}: carried {} vs exact {exact}",
                        g.name(),
                        a.steps(),
                        a.energy(c, r)
                    );
                    worst = worst.max(err);
                }
            }
        }
        eprintln!("{}: largest carried-energy error {worst:.2e}", g.name());
        let mut b = make(g);
        b.advance(200, true).unwrap();
        assert_eq!(a.pooled(), b.pooled(), "{}", g.name());
        for c in 0..chains {
            for r in 0..4 {
                assert_eq!(a.state(c, r), b.state(c, r));
                assert_eq!(a.energy(c, r).to_bits(), b.energy(c, r).to_bits());
            }
        }
    }
}

/// `FastPt` gives the same states, energies and swap statistics on any thread count. With
/// 16 chains × 4 rungs (4 lane blocks) under `BLK-ALT` on an AVX-512 CPU, 1 and 2 threads sweep
/// the blocks in pairs and 3 threads one by one, so this also compares the paired sweep with the
/// lone one, energy changes included.
#[test]
fn fast_pt_is_the_same_on_any_thread_count() {
    use thermoq_core::Coloring;
    use thermoq_samplers::fast::Generator;
    let model = builders::random_sparse(40, 0.15, 0.7, 0.3, 1.0, 8);
    let col = Coloring::dsatur(model.graph());
    let chains = 16;
    for g in [Generator::ChaCha8, Generator::Xoshiro128Plus] {
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a rayon pool")
                .install(|| {
                    let mut s = fast_pt_deo4(&model, &col, KernelKind::BlkAlt, chains, 5, g);
                    s.advance(150, true).unwrap();
                    let slots: Vec<(usize, usize)> = (0..chains)
                        .flat_map(|c| (0..4).map(move |r| (c, r)))
                        .collect();
                    let states: Vec<Vec<i8>> =
                        slots.iter().map(|&(c, r)| s.state(c, r).to_vec()).collect();
                    let energies: Vec<u64> = slots
                        .iter()
                        .map(|&(c, r)| s.energy(c, r).to_bits())
                        .collect();
                    let accepted: Vec<String> =
                        s.stats().iter().map(|st| format!("{st:?}")).collect();
                    (states, energies, accepted)
                })
        };
        let one = run(1);
        assert!(one == run(2), "{}: 2 threads changed the run", g.name());
        assert!(one == run(3), "{}: 3 threads changed the run", g.name());
    }
}

/// A `FastPt` of `chains` PT-DEO chains on a geometric 4-rung ladder (`α_min = 0.3`) with
/// generator `g`.
fn fast_pt_deo4(
    model: &IsingModel,
    col: &thermoq_core::Coloring,
    kind: KernelKind,
    chains: usize,
    seed: u64,
    g: thermoq_samplers::fast::Generator,
) -> thermoq_samplers::pt::FastPt {
    let ladder = Ladder::geometric(4, 0.3).unwrap();
    let mut s = thermoq_samplers::pt::FastPt::new(
        model,
        col,
        kind,
        ladder,
        SwapScheme::PtDeo,
        chains,
        seed,
    )
    .unwrap();
    s.set_generator(g).unwrap();
    s
}
