//! Estimators on numpy arrays: τ_int (emcee's rule), split-chain ESS and R̂ (ArviZ's), and the
//! doubling rule that says whether τ̂ is resolved or only a lower bound.
//!
//! Every function takes a C-contiguous `(chains, draws)` `float64` array; the Python layer
//! transposes emcee's `(draws, walkers)` convention before calling [`tau_pooled`].

use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use thermoq_snr::tau::{self, ChainSet, TauVerdict};

fn chain_set<'a>(name: &str, x: &'a PyReadonlyArray2<'_, f64>) -> PyResult<ChainSet<'a>> {
    let shape = x.shape();
    let data = x
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name}: expected a C-contiguous array")))?;
    ChainSet::from_flat(data, shape[0]).map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

/// The error of a computation on the array `x`.
fn x_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("x: {e}"))
}

/// Sets the keys every Sokal estimate has: `tau`, `window`, `window_found`, `std_err`.
fn set_window_items(
    d: &Bound<'_, PyDict>,
    tau: f64,
    window: usize,
    window_found: bool,
    std_err: f64,
) -> PyResult<()> {
    d.set_item("tau", tau)?;
    d.set_item("window", window)?;
    d.set_item("window_found", window_found)?;
    d.set_item("std_err", std_err)
}

/// Sokal's self-consistent window (c = 5) on the chain-averaged autocorrelation function: the
/// value of `emcee.autocorr.integrated_time` for one parameter. `x` is `(chains, draws)`.
#[pyfunction]
pub fn tau_pooled<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let set = chain_set("x", &x)?;
    let e = py.detach(|| tau::sokal_pooled(&set)).map_err(x_err)?;
    let d = PyDict::new(py);
    set_window_items(&d, e.tau, e.window, e.window_found, e.std_err)?;
    d.set_item("ess", e.ess)?;
    d.set_item("draws", e.n)?;
    d.set_item("chains", e.chains)?;
    Ok(d)
}

/// ArviZ `ess(x, method="mean")` for a `(chains, draws)` array.
#[pyfunction]
pub fn ess_mean(py: Python<'_>, x: PyReadonlyArray2<'_, f64>) -> PyResult<f64> {
    let set = chain_set("x", &x)?;
    py.detach(|| tau::ess(&set)).map_err(x_err)
}

/// ArviZ `rhat(x, method="split")` for a `(chains, draws)` array.
#[pyfunction]
pub fn rhat_split(py: Python<'_>, x: PyReadonlyArray2<'_, f64>) -> PyResult<f64> {
    let set = chain_set("x", &x)?;
    py.detach(|| tau::split_rhat(&set)).map_err(x_err)
}

/// The doubling rule on the prefixes of length ⌊n/2⌋ and 2⌊n/2⌋ of `(chains, draws)` data:
/// `verdict` is `"resolved"` or `"lower-bound"`, `tau` the estimate at the longer length.
#[pyfunction]
pub fn tau_doubling<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let set = chain_set("x", &x)?;
    let n = set.len();
    let half = n / 2;
    if half < 4 {
        return Err(PyValueError::new_err(format!(
            "x: has {n} draws per chain, expected at least 8 for the doubling rule"
        )));
    }
    let chains = set.chains().to_vec();
    let report = py
        .detach(|| {
            tau::doubling_run_multi(half, 2 * half, chains.len(), |bufs, len| {
                for (b, c) in bufs.iter_mut().zip(&chains) {
                    b.clear();
                    b.extend_from_slice(&c[..len]);
                }
            })
        })
        .map_err(x_err)?;
    let d = PyDict::new(py);
    let (verdict, tau) = match report.verdict {
        TauVerdict::Resolved { tau } => ("resolved", tau),
        TauVerdict::LowerBound { tau } => ("lower-bound", tau),
    };
    d.set_item("verdict", verdict)?;
    d.set_item("tau", tau)?;
    let rows = PyList::empty(py);
    for r in &report.rows {
        let row = PyDict::new(py);
        row.set_item("draws", r.len)?;
        set_window_items(&row, r.tau, r.window, r.window_found, r.std_err)?;
        row.set_item("resolved", r.resolved)?;
        rows.append(row)?;
    }
    d.set_item("rows", rows)?;
    Ok(d)
}
