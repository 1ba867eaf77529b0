//! # thermoq-py — the native half of the `thermoq` Python package
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! This crate is compiled by maturin into the extension module `thermoq._native`; the pure-Python
//! package in `python/thermoq/` validates arguments, shapes results into dataclasses and numpy
//! arrays, and documents the API (`.pyi` stubs beside it). Nothing here is meant to be imported
//! directly by users.
//!
//! * [`model`] — [`model::PyModel`]: Ising/Boltzmann machines (dense or edge-list couplings),
//!   RBMs, the builders and `thermoq-ising-v1` files, exact enumeration of small models;
//! * [`sample`] — `sample()` and `sample_pt()`: every kernel and engine behind one thin adapter
//!   ([`sample::Runner`]), run in chunks of sweeps with the GIL released and signals checked
//!   between chunks;
//! * [`estimators`] — τ_int (emcee's rule), split-chain ESS and R̂ (ArviZ's), the doubling rule;
//! * [`analysis`] — the exact cell analysis (spectrum summary, Q_op, predictors) and
//!   ∂Q_struct⊥/∂θ, as JSON;
//! * [`dtm`] — DTM checkpoints: class-conditional generation of digits, training on digit arrays,
//!   the inpainting check;
//! * [`bench`] — the DTM benchmark model and a Rust-only timing loop for the Python benchmark.
//!
//! Every error a user can cause becomes a `ValueError` (or `TypeError` for wrong types, raised by
//! pyo3's argument extraction) whose message names the argument; a Rust panic becomes a
//! `RuntimeError` instead of unwinding into the interpreter.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pub mod analysis;
pub mod bench;
pub mod dtm;
pub mod estimators;
pub mod model;
pub mod sample;

/// A `ValueError` carrying `e`'s message (thermoq's errors name the field and the expected form).
pub(crate) fn value_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Runs `f`, turning a panic into a `RuntimeError` so that the interpreter survives it.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            Err(PyRuntimeError::new_err(format!(
                "{what}: internal error (a Rust panic, caught): {msg}"
            )))
        }
    }
}

/// Panics on purpose inside a guarded call (and on a rayon worker), so that the tests can check
/// that a panic surfaces as `RuntimeError` and the interpreter keeps running.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    guarded("_panic_for_tests", || {
        py.detach(|| {
            use rayon::prelude::*;
            let v: Vec<usize> = (0..4usize).collect();
            v.par_iter().for_each(|&i| {
                if i == 3 {
                    panic!("deliberate panic for the test suite");
                }
            });
        });
        Ok(())
    })
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::PyModel>()?;
    m.add_class::<dtm::PyDtm>()?;
    m.add_function(wrap_pyfunction!(sample::sample, m)?)?;
    m.add_function(wrap_pyfunction!(sample::sample_pt, m)?)?;
    m.add_function(wrap_pyfunction!(estimators::tau_pooled, m)?)?;
    m.add_function(wrap_pyfunction!(estimators::ess_mean, m)?)?;
    m.add_function(wrap_pyfunction!(estimators::rhat_split, m)?)?;
    m.add_function(wrap_pyfunction!(estimators::tau_doubling, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::analyze, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::ladder, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::struct_perp_gradient, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::struct_perp_t_o, m)?)?;
    m.add_function(wrap_pyfunction!(bench::dtm_conditional, m)?)?;
    m.add_function(wrap_pyfunction!(bench::time_sweeps, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}
