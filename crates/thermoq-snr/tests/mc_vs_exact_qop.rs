//! Monte Carlo Q_op (real runs from a uniform start, real burn-in) against the exact Q_op.
//!
//! Gate (issue "Measuring from samples"): the exact value lies inside the Monte Carlo 95 %
//! confidence interval in at least 90 % of the cells. The interval comes from S independent
//! seeds (the seeds' squared errors are i.i.d., so the MSE's standard error is exact up to the
//! normal approximation); with a correct exact formula each cell misses with probability ≈ 5 %,
//! so ≥ 18 hits out of 20 is expected with high probability (P[≤ 17 | p = 0.95] ≈ 7.5 %; the fixed
//! seeds make the outcome deterministic). Windows are short (K = 2–20 τ_max) and burn-in is
//! sometimes deliberately small so that the bias term matters too.

use thermoq_data::patterns::{PatternLaw, PatternSpec};
use thermoq_models::{EnergyModel, IsingModel, ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::exact::{CellParams, Sweeps, analyze_cell};
use thermoq_snr::mc::{McParams, monte_carlo_q_op};

#[test]
fn exact_qop_lies_in_the_monte_carlo_interval() {
    let mut hits = 0;
    let mut cells = 0;
    let mut worst: f64 = 0.0;
    let kinds = [
        KernelKind::Rs1,
        KernelKind::BlkSym,
        KernelKind::Mh1,
        KernelKind::BlkRs,
    ];
    for k in 0..20u64 {
        let kind = kinds[k as usize % kinds.len()];
        let n = 6 + (k as usize % 3);
        let model: IsingModel = match k % 4 {
            0 => builders::sherrington_kirkpatrick(n, 1.0 + 0.1 * k as f64, k),
            1 => builders::hopfield(n, 2, 1.5, k).0,
            2 => builders::curie_weiss(n, 0.8),
            _ => builders::random_sparse(n, 0.6, 0.7, 0.0, 1.0, k),
        };
        let kernel = GibbsKernel::new(kind, model.graph(), None).unwrap();
        let data = PatternLaw::new(n, &PatternSpec::new(2, 0.1, 100 + k).unwrap())
            .unwrap()
            .observable_means(model.graph(), false)
            .unwrap();
        // First pass fixes B and τ_max; then a short window of m·τ_max sweeps.
        let auto = analyze_cell(
            &model,
            &kernel,
            &data,
            Sweeps::Auto,
            Sweeps::Auto,
            1,
            &CellParams::default(),
        )
        .unwrap();
        let tau = auto.tau_max.unwrap();
        let b = if k % 3 == 0 { 1 } else { auto.config.burn_in };
        let window = ((2.0 + (k % 4) as f64 * 6.0) * tau).ceil() as u64;
        let chains = 1 + k % 2;
        let exact = analyze_cell(
            &model,
            &kernel,
            &data,
            Sweeps::Fixed(b),
            Sweeps::Fixed(window),
            chains,
            &CellParams::default(),
        )
        .unwrap();
        let law = ExactLaw::new(&model).unwrap();
        let table = law.observable_table(&model, ObservableSet::Couplings);
        let g: Vec<f64> = table
            .iter()
            .zip(&data)
            .map(|(f, d)| d - law.expect(f))
            .collect();
        let p = McParams::new(300, b as usize, window as usize)
            .chains(chains as usize)
            .seed(7_000 + k);
        let mc =
            monte_carlo_q_op(&model, &kernel, ObservableSet::Couplings, &data, &g, &p).unwrap();
        let q = exact.qop.q_op;
        let inside = mc.q_lo <= q && q <= mc.q_hi;
        worst = worst.max((mc.q_op - q).abs() / q);
        eprintln!(
            "cell {k:2} {kind:7} n={n} B={b:3} K={window:4} C={chains}: exact {q:10.4} mc {:10.4} [{:.4}, {:.4}] {}",
            mc.q_op,
            mc.q_lo,
            mc.q_hi,
            if inside { "ok" } else { "MISS" }
        );
        hits += usize::from(inside);
        cells += 1;
    }
    eprintln!(
        "{hits}/{cells} cells inside the 95 % interval; worst relative difference {worst:.3}"
    );
    assert!(
        hits * 10 >= cells * 9,
        "only {hits}/{cells} cells have the exact Q_op inside the MC interval"
    );
}
