//! Monte Carlo Q_op against closed forms.

use thermoq_core::Graph;
use thermoq_models::{IsingModel, ObservableSet};
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::mc::{McParams, monte_carlo_q_op};

/// One spin with bias h: an RS1 sweep is one heat-bath update, which draws x exactly from π
/// whatever the current state. So the K recorded samples of each chain are i.i.d. from π, the
/// estimator is unbiased and MSE = Var_π[f]/(C·K) with Var_π[f] = 1 − tanh²(βh). Hence
/// Q_op = g² C K / (1 − tanh²(βh)) exactly.
#[test]
fn iid_single_spin_matches_closed_form() {
    let (beta, h) = (0.7, 0.4);
    let model = IsingModel::new(Graph::new(1, &[]).unwrap(), vec![], vec![h], beta).unwrap();
    let kernel = GibbsKernel::new(
        KernelKind::Rs1,
        thermoq_models::EnergyModel::graph(&model),
        None,
    )
    .unwrap();
    let m = (beta * h).tanh();
    let data_mean = [-0.2]; // E_data[f] for f = −x
    let g = [data_mean[0] + m]; // g = E_data f − E_π f, E_π f = −m
    let (k, c) = (20, 3);
    let exact = g[0] * g[0] * (c * k) as f64 / (1.0 - m * m);
    let p = McParams::new(400, 0, k).chains(c).seed(11).z(3.0);
    let r = monte_carlo_q_op(&model, &kernel, ObservableSet::All, &data_mean, &g, &p).unwrap();
    // A z = 3 interval from 400 independent seeds: a false alarm has probability ≈ 0.3 %.
    assert!(
        r.q_lo <= exact && exact <= r.q_hi,
        "exact {exact} outside [{}, {}] (q = {})",
        r.q_lo,
        r.q_hi,
        r.q_op
    );
    // Determinism: the same seed gives the same numbers.
    let r2 = monte_carlo_q_op(&model, &kernel, ObservableSet::All, &data_mean, &g, &p).unwrap();
    assert_eq!(r, r2);
}

#[test]
fn rejects_bad_inputs() {
    let model = IsingModel::new(Graph::new(1, &[]).unwrap(), vec![], vec![0.1], 1.0).unwrap();
    let kernel = GibbsKernel::new(
        KernelKind::Rs1,
        thermoq_models::EnergyModel::graph(&model),
        None,
    )
    .unwrap();
    let p = McParams::new(10, 0, 5);
    assert!(
        monte_carlo_q_op(&model, &kernel, ObservableSet::All, &[0.0, 1.0], &[0.0], &p).is_err()
    );
    assert!(
        monte_carlo_q_op(&model, &kernel, ObservableSet::All, &[f64::NAN], &[0.0], &p).is_err()
    );
    assert!(
        monte_carlo_q_op(
            &model,
            &kernel,
            ObservableSet::All,
            &[0.0],
            &[0.0],
            &McParams::new(1, 0, 5)
        )
        .is_err()
    );
}
