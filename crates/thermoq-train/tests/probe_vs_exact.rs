//! The DTM gradient-SNR probe's estimator against the exact operator Q on models small enough to
//! enumerate (issue 18, item 8).
//!
//! The probe ([`QProbe::from_replicates`], the code `DtmRun::probe` calls) takes `R` independent
//! gradient estimates ĝ_r and reports `Q̂ = max(‖ḡ‖² − V/R, 0)/V` with `V` the replicates' spread.
//! Its target is `‖E ĝ‖² / tr Cov ĝ`. A DTM layer itself cannot be enumerated (its visible layer
//! alone has 196 or 784 pixels), so here the replicates are the one-chain estimator of SCIENCE.md
//! §II.4 on 8-spin Ising models — uniform start, `B` sweeps discarded, `f` averaged over the next
//! `K` sweeps, exactly what a probe replicate does per phase — and the probe's Q̂ is compared with
//! the exact value from `thermoq_snr::exact::analyze_cell`, which gives `bias_a = E ĝ_a − g_a` and
//! `Var ĝ_a` (the finite-window variance, so every autocorrelation is in it):
//!
//! ```text
//! Q_target = Σ_a (g_a + bias_a)² / Σ_a Var ĝ_a          (= Q_op when the bias is negligible)
//! ```
//!
//! **Tolerance from the probe's own Monte Carlo error.** Write N̂ = ‖ḡ‖² − V̂/R and V̂ = tr Ŝ
//! (Ŝ the replicates' sample covariance, R − 1 in the denominator). For Gaussian replicates (each
//! ĝ_r is a K-sweep window average, close to Gaussian) ḡ and Ŝ are independent and, with
//! μ = E ĝ, Σ = Cov ĝ:
//!
//! ```text
//! Var ‖ḡ‖² = 4 μᵀΣμ / R + 2 tr Σ² / R²,   Var V̂ = 2 tr Σ² / (R − 1),
//! Var N̂ = Var ‖ḡ‖² + Var V̂ / R²,          Cov(N̂, V̂) = −Var V̂ / R,
//! Var Q̂ ≈ Var N̂ / V² + N² Var V̂ / V⁴ − 2 N Cov(N̂, V̂) / V³        (delta method)
//! ```
//!
//! evaluated with the replicates' own ḡ and Ŝ (the plug-in SE). Each cell asserts
//! |Q̂ − Q_target| ≤ 4 SE (two-sided normal tail 6.3e-5 per cell, ≤ 3.2e-4 for the five cells;
//! seeds are fixed, so the outcome is deterministic). The τ-correction is not a separate factor:
//! V̂ is the spread of whole-window estimates, so it contains every autocorrelation of the chain.
//! A probe that used the per-sample variance divided by K (ignoring τ) is shown to miss the band
//! on the slow cells (the negative control at the end of each cell).
#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use thermoq_core::rng::chain_rng;
use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{
    EnergyModel, EnergyModelExt, IsingModel, ObservableSet, builders, exact::ExactLaw,
};
use thermoq_samplers::{GibbsKernel, Kernel, KernelKind};
use thermoq_snr::exact::{CellParams, Sweeps, analyze_cell};
use thermoq_train::dtm::QProbe;

/// One cell's outcome.
struct Cell {
    q_hat: f64,
    se: f64,
    target: f64,
    q_op: f64,
    /// Q from the per-sample variance / K (what a τ-blind probe would report).
    q_naive: f64,
}

/// R replicates of the one-chain estimator ĝ_a = E_data[f_a] − (1/K) Σ f_a(x_k).
fn replicates(
    model: &IsingModel,
    kernel: &GibbsKernel,
    data: &[f64],
    burn_in: usize,
    window: usize,
    r: usize,
    seed: u64,
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = model.n_spins();
    let na = data.len();
    let mut gs = Vec::with_capacity(r);
    // Per-sample (stationary-part) variance of f_a, pooled over replicates, for the naive control.
    let (mut s1, mut s2, mut cnt) = (vec![0.0; na], vec![0.0; na], 0.0);
    for rep in 0..r {
        let mut rng = chain_rng(seed, rep as u64);
        let mut x: Vec<i8> = (0..n)
            .map(|_| {
                if rand::Rng::next_u32(&mut rng) & 1 == 1 {
                    1
                } else {
                    -1
                }
            })
            .collect();
        for _ in 0..burn_in {
            kernel.sweep(model, &mut x, &mut rng);
        }
        let mut f = vec![0.0; na];
        let mut acc = vec![0.0; na];
        for _ in 0..window {
            kernel.sweep(model, &mut x, &mut rng);
            model.observables(&x, ObservableSet::Couplings, &mut f);
            for a in 0..na {
                acc[a] += f[a];
                s1[a] += f[a];
                s2[a] += f[a] * f[a];
            }
            cnt += 1.0;
        }
        gs.push(
            data.iter()
                .zip(&acc)
                .map(|(d, s)| d - s / window as f64)
                .collect(),
        );
    }
    let per_sample_var = (0..na)
        .map(|a| s2[a] / cnt - (s1[a] / cnt).powi(2))
        .collect();
    (gs, per_sample_var)
}

/// The delta-method standard error of the probe's Q̂ from its own replicates (module docs).
fn probe_se(gs: &[Vec<f64>]) -> f64 {
    let r = gs.len() as f64;
    let d = gs[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|a| gs.iter().map(|g| g[a]).sum::<f64>() / r)
        .collect();
    let mut cov = vec![0.0; d * d];
    for g in gs {
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] += (g[a] - mean[a]) * (g[b] - mean[b]) / (r - 1.0);
            }
        }
    }
    let v: f64 = (0..d).map(|a| cov[a * d + a]).sum();
    let tr_s2: f64 = cov.iter().map(|c| c * c).sum();
    let mu_s_mu: f64 = (0..d)
        .map(|a| {
            (0..d)
                .map(|b| mean[a] * cov[a * d + b] * mean[b])
                .sum::<f64>()
        })
        .sum();
    let n = mean.iter().map(|m| m * m).sum::<f64>() - v / r;
    let var_g2 = 4.0 * mu_s_mu / r + 2.0 * tr_s2 / (r * r);
    let var_v = 2.0 * tr_s2 / (r - 1.0);
    let var_n = var_g2 + var_v / (r * r);
    let cov_nv = -var_v / r;
    let var_q = var_n / v.powi(2) + n * n * var_v / v.powi(4) - 2.0 * n * cov_nv / v.powi(3);
    var_q.sqrt()
}

fn run_cell(
    model: &IsingModel,
    kind: KernelKind,
    burn_in: u64,
    window: u64,
    r: usize,
    seed: u64,
) -> Cell {
    let kernel = GibbsKernel::new(kind, model.graph(), None).unwrap();
    let data = PatternLaw::new(model.n_spins(), &PatternSpec::new(2, 0.1, seed).unwrap())
        .unwrap()
        .observable_means(model.graph(), false)
        .unwrap();
    let exact = analyze_cell(
        model,
        &kernel,
        &data,
        Sweeps::Fixed(burn_in),
        Sweeps::Fixed(window),
        1,
        &CellParams::default(),
    )
    .unwrap();
    let law = ExactLaw::new(model).unwrap();
    let table = law.observable_table(model, ObservableSet::Couplings);
    let g: Vec<f64> = table
        .iter()
        .zip(&data)
        .map(|(f, d)| d - law.expect(f))
        .collect();
    let qx = &exact.qop;
    let mean_ghat2: f64 = g.iter().zip(&qx.bias_a).map(|(g, b)| (g + b).powi(2)).sum();
    let target = mean_ghat2 / qx.variance;
    let (gs, per_sample_var) = replicates(
        model,
        &kernel,
        &data,
        burn_in as usize,
        window as usize,
        r,
        seed,
    );
    let probe = QProbe::from_replicates(&gs).unwrap();
    let naive_v: f64 = per_sample_var.iter().sum::<f64>() / window as f64;
    Cell {
        q_hat: probe.q,
        se: probe_se(&gs),
        target,
        q_op: qx.q_op,
        q_naive: (probe.mean_norm2 - probe.spread / r as f64).max(0.0) / naive_v,
    }
}

#[test]
fn probe_q_matches_the_exact_operator_q() {
    let cells: [(&str, IsingModel, KernelKind, u64, u64); 5] = [
        (
            "SK n=8 β=1.2 RS1",
            builders::sherrington_kirkpatrick(8, 1.2, 3),
            KernelKind::Rs1,
            200,
            40,
        ),
        (
            "Curie-Weiss n=8 β=0.8 BLK-SYM",
            builders::curie_weiss(8, 0.8),
            KernelKind::BlkSym,
            200,
            60,
        ),
        (
            "Hopfield n=8 β=1.5 MH1",
            builders::hopfield(8, 2, 1.5, 5).0,
            KernelKind::Mh1,
            300,
            80,
        ),
        (
            "sparse n=7 RS1, short burn-in (bias in the target)",
            builders::random_sparse(7, 0.6, 0.7, 0.0, 1.0, 4),
            KernelKind::Rs1,
            1,
            20,
        ),
        (
            "Curie-Weiss n=8 β=1.1 RS1 (slow)",
            builders::curie_weiss(8, 1.1),
            KernelKind::Rs1,
            400,
            100,
        ),
    ];
    let r = 2000;
    let mut naive_missed = 0;
    for (k, (name, model, kind, b, w)) in cells.into_iter().enumerate() {
        let c = run_cell(&model, kind, b, w, r, 900 + k as u64);
        let z = (c.q_hat - c.target) / c.se;
        eprintln!(
            "{name}: probe Q̂ {:.5} ± {:.5}, exact target {:.5} (Q_op {:.5}), z = {z:+.2}; τ-blind Q {:.5}",
            c.q_hat, c.se, c.target, c.q_op, c.q_naive
        );
        assert!(
            z.abs() <= 4.0,
            "{name}: probe Q̂ {} is {z:.2} SE from the exact {}",
            c.q_hat,
            c.target
        );
        // Negative control: ignoring the autocorrelation inside the window moves Q by 2τ_int.
        if (c.q_naive - c.target).abs() > 4.0 * c.se {
            naive_missed += 1;
        }
    }
    eprintln!("τ-blind probe outside the 4-SE band in {naive_missed}/5 cells");
    assert!(
        naive_missed >= 3,
        "the band is too loose to tell a τ-blind probe apart ({naive_missed}/5)"
    );
}

#[test]
fn from_replicates_refuses_degenerate_input() {
    assert!(QProbe::from_replicates(&[vec![1.0, 2.0]]).is_err());
    assert!(QProbe::from_replicates(&[vec![1.0, 2.0], vec![1.0]]).is_err());
    assert!(QProbe::from_replicates(&[vec![1.0, 2.0], vec![1.0, 2.0]]).is_err());
    // Two replicates (1, 0) and (3, 0): ḡ = (2, 0), V = 2, Q̂ = (4 − 1)/2.
    let p = QProbe::from_replicates(&[vec![1.0, 0.0], vec![3.0, 0.0]]).unwrap();
    assert_eq!(
        (p.q, p.mean_norm2, p.spread, p.replicates),
        (1.5, 4.0, 2.0, 2)
    );
}
