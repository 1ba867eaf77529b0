//! Exact (enumerated) training oracles for small models: the exact gradient and KL(data‖model).
//!
//! For `N ≤ thermoq_core::state::MAX_ENUM_SPINS` the model law `π_θ` is enumerated
//! ([`ExactLaw`]), so
//!
//! ```text
//! g_a = E_data[f_a] − E_π[f_a],      KL(p‖π_θ) = Σ_x p(x) ln(p(x)/π_θ(x)),
//! ```
//!
//! and, since `−∂_a ln π_θ(x) = β (f_a(x) − E_π[f_a])`, the gradient of the KL is `β g`: descent
//! on `g` is descent on the KL. These are the oracles the sampled trainers are tested against.

use crate::TrainError;
use crate::error::{check_finite, check_len};
use crate::optim::Optimizer;
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel, ObservableSet};

/// `E_p[f_a]` of all parameters for a law `p` given on every state index (bit `i` ⇔ `x_i = +1`).
pub fn data_means<M: EnergyModel + ?Sized>(model: &M, p: &[f64]) -> Result<Vec<f64>, TrainError> {
    let law = ExactLaw::new(model)?;
    check_len("p_data", p.len(), law.n_states())?;
    check_finite("p_data", p)?;
    let table = law.observable_table(model, ObservableSet::All);
    Ok(table
        .iter()
        .map(|f| f.iter().zip(p).map(|(a, b)| a * b).sum())
        .collect())
}

/// The exact gradient `g_a = E_data[f_a] − E_π[f_a]` (couplings in edge order, then biases).
pub fn exact_gradient<M: EnergyModel + ?Sized>(
    model: &M,
    data_means: &[f64],
) -> Result<Vec<f64>, TrainError> {
    check_len("data means", data_means.len(), model.n_params())?;
    check_finite("data means", data_means)?;
    let law = ExactLaw::new(model)?;
    let table = law.observable_table(model, ObservableSet::All);
    Ok(table
        .iter()
        .zip(data_means)
        .map(|(f, d)| d - law.expect(f))
        .collect())
}

/// `KL(p‖π_θ)` in nats, by enumeration (`p` on every state index; terms with `p = 0` vanish).
pub fn kl_divergence<M: EnergyModel + ?Sized>(model: &M, p: &[f64]) -> Result<f64, TrainError> {
    let law = ExactLaw::new(model)?;
    check_len("p_data", p.len(), law.n_states())?;
    check_finite("p_data", p)?;
    Ok(p.iter()
        .zip(&law.pi)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| a * (a / b).ln())
        .sum())
}

/// One exact-gradient descent step on `model`; returns `‖g‖₂`.
pub fn exact_step(
    model: &mut IsingModel,
    data_means: &[f64],
    optimizer: &mut Optimizer,
) -> Result<f64, TrainError> {
    let g = exact_gradient(model, data_means)?;
    let mut theta = model.params();
    optimizer.step(&mut theta, &g)?;
    model.set_params(&theta)?;
    Ok(g.iter().map(|v| v * v).sum::<f64>().sqrt())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;
    use thermoq_core::Graph;

    #[test]
    fn gradient_vanishes_when_data_is_the_model() {
        let g = Graph::complete(4);
        let m =
            IsingModel::new(g, vec![0.3, -0.2, 0.1, 0.4, -0.5, 0.2], vec![0.1; 4], 1.0).unwrap();
        let p = ExactLaw::new(&m).unwrap().pi;
        let d = data_means(&m, &p).unwrap();
        let gr = exact_gradient(&m, &d).unwrap();
        assert!(gr.iter().all(|v| v.abs() < 1e-14));
        assert!(kl_divergence(&m, &p).unwrap().abs() < 1e-14);
    }

    #[test]
    fn gradient_matches_finite_difference_of_kl() {
        // ∂KL/∂θ_a = β g_a; check by central differences (h = 1e-5, error O(h²) ≈ 1e-10).
        let g = Graph::complete(3);
        let m = IsingModel::new(g, vec![0.2, -0.1, 0.3], vec![0.05, 0.0, -0.1], 0.7).unwrap();
        let p = vec![0.3, 0.05, 0.05, 0.1, 0.1, 0.05, 0.05, 0.3];
        let d = data_means(&m, &p).unwrap();
        let gr = exact_gradient(&m, &d).unwrap();
        let th = m.params();
        for a in 0..th.len() {
            let h = 1e-5;
            let mut mp = m.clone();
            let mut t = th.clone();
            t[a] += h;
            mp.set_params(&t).unwrap();
            let kp = kl_divergence(&mp, &p).unwrap();
            t[a] -= 2.0 * h;
            mp.set_params(&t).unwrap();
            let km = kl_divergence(&mp, &p).unwrap();
            let fd = (kp - km) / (2.0 * h);
            assert!(
                (fd - 0.7 * gr[a]).abs() < 1e-8,
                "a={a}: fd {fd} vs β g {}",
                0.7 * gr[a]
            );
        }
    }
}
