//! The exact cell analysis and ladder design, returned as JSON for the Python layer to shape.

use crate::model::PyModel;
use crate::{guarded, value_err};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use thermoq_core::Coloring;
use thermoq_models::{EnergyModel, ObservableSet};
use thermoq_samplers::pt::Ladder;
use thermoq_samplers::{GibbsKernel, KernelKind};
use thermoq_snr::exact::cell::{CellParams, Sweeps};

fn sweeps(name: &'static str, s: &str) -> PyResult<Sweeps> {
    Sweeps::parse(name, s).map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

/// Exact analysis of `model` under `kernel` (enumerable models): spectrum summary, exact `Q_op`
/// for burn-in `burn_in`, window `window` (`"auto"` or a number of sweeps) and `chains` chains,
/// every predictor with its verdict. `data_means` are `E_data[f_a]` for the observables
/// (`"couplings"` or `"all"`). Returns the report as a JSON document.
#[pyfunction]
#[pyo3(signature = (model, kernel, data_means, burn_in, window, chains, observables, colors=None))]
#[allow(clippy::too_many_arguments)]
pub fn analyze(
    py: Python<'_>,
    model: Bound<'_, PyModel>,
    kernel: &str,
    data_means: Vec<f64>,
    burn_in: &str,
    window: &str,
    chains: u64,
    observables: &str,
    colors: Option<Vec<u32>>,
) -> PyResult<String> {
    let m = model.get().ising().clone();
    let kind = crate::sample::parse_kernel(kernel)?;
    let set = observable_set(observables)?;
    let b = sweeps("burn_in", burn_in)?;
    let w = sweeps("window", window)?;
    let coloring = match colors {
        Some(c) => Some(
            Coloring::from_colors(m.graph(), c)
                .map_err(|e| PyValueError::new_err(format!("colors: {e}")))?,
        ),
        None => None,
    };
    let k = GibbsKernel::new(kind, m.graph(), coloring).map_err(value_err)?;
    let params = CellParams::with_observables(set);
    guarded("analyze", || {
        let report = py
            .detach(|| {
                thermoq_snr::analyze_cell(&m, &k, &data_means, b, w, chains, &params)
                    .map_err(|e| e.to_string())
            })
            .map_err(PyValueError::new_err)?;
        serde_json::to_string(&report).map_err(value_err)
    })
}

/// A PT ladder: `"uniform"` or `"geometric"` with `rungs` and `alpha_top`, or
/// `"equal-length"` from specific heats `c` measured at grid points `points`.
#[pyfunction]
#[pyo3(signature = (kind, rungs, alpha_top=None, points=None, c=None))]
pub fn ladder(
    kind: &str,
    rungs: usize,
    alpha_top: Option<f64>,
    points: Option<Vec<f64>>,
    c: Option<Vec<f64>>,
) -> PyResult<Vec<f64>> {
    let need_top = || {
        alpha_top.ok_or_else(|| PyValueError::new_err(format!("alpha_top: required by {kind:?}")))
    };
    let l = match kind {
        "uniform" => Ladder::uniform(rungs, need_top()?),
        "geometric" => Ladder::geometric(rungs, need_top()?),
        "equal-length" => {
            let p =
                points.ok_or_else(|| PyValueError::new_err("points: required by equal-length"))?;
            let c = c.ok_or_else(|| PyValueError::new_err("c: required by equal-length"))?;
            Ladder::equal_length(&p, &c, rungs)
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "kind: is {kind:?}, expected \"uniform\", \"geometric\" or \"equal-length\""
            )));
        }
    }
    .map_err(value_err)?;
    Ok(l.alphas().to_vec())
}

fn observable_set(observables: &str) -> PyResult<ObservableSet> {
    match observables {
        "couplings" => Ok(ObservableSet::Couplings),
        "all" => Ok(ObservableSet::All),
        _ => Err(PyValueError::new_err(format!(
            "observables: is {observables:?}, expected \"couplings\" or \"all\""
        ))),
    }
}

/// The ideal heat-bath `rs1` kernel the differentiable predictor is defined for.
fn rs1(m: &thermoq_models::IsingModel) -> PyResult<GibbsKernel> {
    GibbsKernel::new(KernelKind::Rs1, m.graph(), None).map_err(value_err)
}

/// `Q_struct⊥` of `model` (ideal heat-bath `rs1`, window `window` sweeps) and its analytic
/// gradient in every parameter (couplings in edge order, then biases), the cluster chosen at the
/// current parameters and held fixed; `eps_cluster` as in the predictor (`None`: the default).
/// Returns the `StructPerpGradient` as a JSON document.
#[pyfunction]
#[pyo3(signature = (model, data_means, observables, window, eps_cluster=None))]
pub fn struct_perp_gradient(
    py: Python<'_>,
    model: Bound<'_, PyModel>,
    data_means: Vec<f64>,
    observables: &str,
    window: f64,
    eps_cluster: Option<f64>,
) -> PyResult<String> {
    let m = model.get().ising().clone();
    let set = observable_set(observables)?;
    let k = rs1(&m)?;
    let mut sp = thermoq_snr::predict::StructPerp::default();
    if let Some(e) = eps_cluster {
        if !(e.is_finite() && e >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "eps_cluster: is {e}, expected a finite number ≥ 0"
            )));
        }
        sp.eps_cluster = e;
    }
    guarded("struct_perp_gradient", || {
        let g = py
            .detach(|| {
                thermoq_snr::exact::struct_perp_gradient(&m, &k, &data_means, set, window, &sp)
                    .map_err(|e| e.to_string())
            })
            .map_err(PyValueError::new_err)?;
        serde_json::to_string(&g).map_err(value_err)
    })
}

/// `T_O` of `model` under ideal heat-bath `rs1` with the cluster held at `cluster` (step-order
/// mode indices, as returned by [`struct_perp_gradient`]): the function whose derivative that
/// gradient is, for finite-difference checks.
#[pyfunction]
pub fn struct_perp_t_o(
    py: Python<'_>,
    model: Bound<'_, PyModel>,
    observables: &str,
    cluster: Vec<usize>,
) -> PyResult<f64> {
    let m = model.get().ising().clone();
    let set = observable_set(observables)?;
    let k = rs1(&m)?;
    guarded("struct_perp_t_o", || {
        py.detach(|| {
            thermoq_snr::exact::t_o_fixed_cluster(&m, &k, set, &cluster).map_err(|e| e.to_string())
        })
        .map_err(|e| PyValueError::new_err(format!("cluster: {e}")))
    })
}
