//! Benchmark helpers: the DTM benchmark model and a Rust-only timing loop.
//!
//! [`time_sweeps`] times `FastSampler::sweep` exactly as `cargo xtask bench peers` does (one
//! sampler, one warm-up call, then `reps` timed calls, no Python in the loop), so the benchmark
//! script can measure the Python call's overhead against the Rust bench in the same process and
//! build.

use crate::model::{Inner, PyModel};
use crate::value_err;
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Instant;
use thermoq_core::{Coloring, Spin};
use thermoq_models::EnergyModel;
use thermoq_models::dtm::{DtmLayer, DtmLayout, ForwardProcess, TorusGrid, VisibleSpec};
use thermoq_samplers::fast::{Engine, FastModel, FastSampler};
use thermoq_samplers::{ChainBatch, KernelKind};

/// The negative-phase conditional of a DTM layer on grid `grid` (784 image + 10 classes × 5
/// label spots, layout seed 0, forward step 0) with learned parameters `theta` and input `x_t`
/// (±1, one per visible node); returns the model and its colouring (one colour per block).
#[pyfunction]
pub fn dtm_conditional(
    grid: &str,
    theta: PyReadonlyArray1<'_, f64>,
    x_t: PyReadonlyArray1<'_, i8>,
) -> PyResult<(PyModel, Vec<u32>)> {
    let g = TorusGrid::named(grid).map_err(|e| PyValueError::new_err(format!("grid: {e}")))?;
    let spec = VisibleSpec {
        n_image: 784,
        n_classes: 10,
        label_spots: 5,
    };
    let layout = DtmLayout::new(g, spec, 0).map_err(value_err)?;
    let mut layer =
        DtmLayer::new(Arc::new(layout), &ForwardProcess::default(), 0, 1.0).map_err(value_err)?;
    let theta = theta.as_array().to_vec();
    if theta.len() != layer.n_params() {
        return Err(PyValueError::new_err(format!(
            "theta: has length {}, expected {}",
            theta.len(),
            layer.n_params()
        )));
    }
    layer
        .set_params(&theta)
        .map_err(|e| PyValueError::new_err(format!("theta: {e}")))?;
    let x: Vec<Spin> = x_t.as_array().to_vec();
    let m = layer
        .conditional_model(&x)
        .map_err(|e| PyValueError::new_err(format!("x_t: {e}")))?;
    Ok((
        PyModel {
            inner: Inner::Ising(m),
        },
        layer.coloring().colors().to_vec(),
    ))
}

/// Median seconds of `reps` calls `FastSampler::sweep(batch, sweeps)` after one warm-up call:
/// the Rust bench loop of `cargo xtask bench peers`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn time_sweeps(
    py: Python<'_>,
    model: Bound<'_, PyModel>,
    engine: &str,
    generator: &str,
    colors: Vec<u32>,
    chains: usize,
    seed: u64,
    sweeps: usize,
    reps: usize,
) -> PyResult<f64> {
    let m = model.get();
    let engine = Engine::from_name(engine)
        .filter(|e| *e != Engine::SparseF32)
        .ok_or_else(|| PyValueError::new_err(format!("engine: {engine:?} is not benchmarked")))?;
    let gen_ = crate::sample::parse_generator(generator)?;
    let fm: FastModel<'_> = match &m.inner {
        Inner::Ising(i) => i.into(),
        Inner::Rbm(r) => r.into(),
    };
    let g = m.ising().graph();
    let coloring = Coloring::from_colors(g, colors).map_err(value_err)?;
    let mut s =
        FastSampler::with_engine(fm, KernelKind::BlkAlt, Some(coloring), chains, seed, engine)
            .map_err(value_err)?;
    s.set_generator(gen_).map_err(value_err)?;
    let mut batch = ChainBatch::uniform(chains, g.n(), seed);
    py.detach(|| {
        s.sweep(&mut batch, sweeps)?;
        let mut t = Vec::with_capacity(reps);
        for _ in 0..reps.max(1) {
            let t0 = Instant::now();
            s.sweep(&mut batch, sweeps)?;
            t.push(t0.elapsed().as_secs_f64());
        }
        t.sort_by(f64::total_cmp);
        Ok::<f64, thermoq_samplers::SamplerError>(t[t.len() / 2])
    })
    .map_err(value_err)
}
