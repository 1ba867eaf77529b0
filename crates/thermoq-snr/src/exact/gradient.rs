//! The exact gradient `g_a = E_data[f_a] − E_π[f_a]` and its Jacobian in the parameters.
//!
//! With `π_θ ∝ exp(−β E_θ)` and `f_b = ∂E/∂θ_b`, `∂ ln π(x)/∂θ_b = −β (f_b(x) − E_π f_b)`, so
//!
//! ```text
//! ∂E_π[f_a]/∂θ_b = −β Cov_π(f_a, f_b),      ∂g_a/∂θ_b = β Cov_π(f_a, f_b)
//! ```
//!
//! (the data phase does not depend on θ; `f_a` itself does not depend on θ for pairwise models).

use crate::SnrError;
use faer::Mat;

/// The exact gradient of one model against a data law, with the moments it is made of.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExactGradient {
    /// `E_data[f_a]`.
    pub e_data: Vec<f64>,
    /// `E_π[f_a]`.
    pub e_pi: Vec<f64>,
    /// `Var_π[f_a]`.
    pub var_pi: Vec<f64>,
    /// `g_a = E_data[f_a] − E_π[f_a]`.
    pub g: Vec<f64>,
}

impl ExactGradient {
    /// Computes `g` from the stationary law `pi`, the observable table `table[a][s] = f_a(s)` and
    /// the data means (one per observable).
    pub fn new(pi: &[f64], table: &[Vec<f64>], e_data: &[f64]) -> Result<Self, SnrError> {
        check_table(pi, table)?;
        if e_data.len() != table.len() {
            return Err(SnrError::Shape {
                what: "data means",
                found: e_data.len(),
                expected: table.len(),
            });
        }
        if let Some(i) = e_data.iter().position(|v| !v.is_finite()) {
            return Err(SnrError::NonFiniteInput {
                what: "data means",
                index: i,
                value: e_data[i],
            });
        }
        let e_pi: Vec<f64> = table.iter().map(|f| dot(pi, f)).collect();
        let var_pi = table
            .iter()
            .zip(&e_pi)
            .map(|(f, m)| pi.iter().zip(f).map(|(p, v)| p * (v - m) * (v - m)).sum())
            .collect();
        let g = e_data.iter().zip(&e_pi).map(|(d, m)| d - m).collect();
        Ok(Self {
            e_data: e_data.to_vec(),
            e_pi,
            var_pi,
            g,
        })
    }

    /// `‖g‖²`.
    pub fn norm2(&self) -> f64 {
        self.g.iter().map(|v| v * v).sum()
    }

    /// `τ_max = max_a v_a / Var_π[f_a]` (sweeps) from the asymptotic variances `v` (one per
    /// observable), over the observables with `Var_π[f_a] > 0`; 0 when there are none.
    pub fn tau_max(&self, v: &[f64]) -> f64 {
        v.iter()
            .zip(&self.var_pi)
            .filter(|(_, s)| **s > 0.0)
            .map(|(v, s)| v / s)
            .fold(0.0f64, f64::max)
    }
}

/// `∂g_a/∂θ_b = β Cov_π(f_a, f_b)` as an `n_obs × n_params` matrix, for observables `table_obs`
/// and parameter observables `table_params` (both tabulated on all states).
pub fn gradient_jacobian(
    beta: f64,
    pi: &[f64],
    table_obs: &[Vec<f64>],
    table_params: &[Vec<f64>],
) -> Result<Mat<f64>, SnrError> {
    check_table(pi, table_obs)?;
    check_table(pi, table_params)?;
    let centred = |t: &[Vec<f64>]| -> Vec<Vec<f64>> {
        t.iter()
            .map(|f| {
                let m = dot(pi, f);
                f.iter().map(|v| v - m).collect()
            })
            .collect()
    };
    let (a, b) = (centred(table_obs), centred(table_params));
    Ok(Mat::from_fn(a.len(), b.len(), |i, j| {
        beta * pi
            .iter()
            .zip(&a[i])
            .zip(&b[j])
            .map(|((p, x), y)| p * x * y)
            .sum::<f64>()
    }))
}

/// `Σ_s π_s f_s`.
pub(crate) fn dot(pi: &[f64], f: &[f64]) -> f64 {
    pi.iter().zip(f).map(|(p, v)| p * v).sum()
}

/// Validates that every row of `table` has one entry per state of `pi`.
pub(crate) fn check_table(pi: &[f64], table: &[Vec<f64>]) -> Result<(), SnrError> {
    for f in table {
        if f.len() != pi.len() {
            return Err(SnrError::Shape {
                what: "observable table row",
                found: f.len(),
                expected: pi.len(),
            });
        }
    }
    Ok(())
}
