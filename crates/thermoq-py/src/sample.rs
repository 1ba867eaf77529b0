//! `sample()` and `sample_pt()`: chains on every kernel and engine, with the GIL released.
//!
//! All samplers of `thermoq-samplers` are reached through [`Runner`], the one place that knows
//! which [`ChainSampler`](thermoq_samplers::ChainSampler) a call built (reference kernels, fast
//! engines, the conditioned engine). It has two operations: advance without recording, and record
//! through the crate's [`Executor`]. (`ChainSampler::run_segment` is generic over the observer, so
//! the trait is not object-safe and `Runner` is an enum rather than a `Box<dyn ChainSampler>`.)
//!
//! Runs proceed in chunks of whole sweeps whose size depends only on the problem size (never on
//! time), so results are deterministic; between chunks the GIL is taken back and Python's signal
//! handlers run (`KeyboardInterrupt` stops the run). Chain `c` always uses stream `c` of the
//! seed and the streams continue across chunks, so chunking does not change the samples.

use crate::model::{Inner, PyModel};
use crate::{guarded, value_err};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::fast::conditioned::ConditionedSampler;
use thermoq_samplers::fast::{Engine, FastModel, FastSampler, Generator};
use thermoq_samplers::observe::{MomentObserver, Moments, Observer};
use thermoq_samplers::pt::{FastPt, Ladder, SwapScheme};
use thermoq_samplers::{BatchSampler, ChainBatch, Executor, GibbsKernel, KernelKind, SamplerError};

/// Spin updates per chunk between two signal checks (≈ 10–300 ms on two cores).
const CHUNK_UPDATES: usize = 1 << 24;

/// The same for the lattice and lanes engines, 16× larger: they are the fastest engines
/// (≈ 1.5–2.7e9 updates/s, so a chunk still takes ≈ 0.1–0.2 s), and each call re-lays every
/// chain into the engine's own layout (checkerboard halves; 16-chain SIMD rows) and back, a fixed
/// per-chunk cost: at 2^24 updates per chunk (16 sweeps of a 128×128 lattice, 72 sweeps of the
/// 60_12 DTM layer, × 64 chains) it made the Python call 31 % / 16 % slower than one Rust call
/// (`bench/overhead_pieces.py`, docs/performance.md).
const CHUNK_UPDATES_LATTICE: usize = 1 << 28;

/// Largest trace (`chains × sweeps × n` bytes) `sample` will allocate.
const MAX_TRACE_BYTES: usize = 1 << 34;

/// The thin adapter over today's samplers (see the module docs).
pub enum Runner<'a> {
    /// The reference kernels (`GibbsKernel` on `BatchSampler`): every kernel, bit-identical to
    /// the `thermoq sample` CLI.
    Reference(BatchSampler<'a, IsingModel, GibbsKernel>),
    /// The fast block engines.
    Fast(Box<FastSampler<'a>>),
    /// Block Gibbs with per-chain fields and temperatures.
    Conditioned(Box<ConditionedSampler>),
}

impl Runner<'_> {
    /// Advances every chain by `sweeps` sweeps.
    pub fn advance(&mut self, batch: &mut ChainBatch, sweeps: usize) -> Result<(), SamplerError> {
        match self {
            Self::Reference(s) => s.sweep(batch, sweeps),
            Self::Fast(s) => s.sweep(batch, sweeps),
            Self::Conditioned(s) => s.sweep(batch, sweeps),
        }
    }

    /// Records `sweeps` sweeps into one observer per chain, merged in chain order (the
    /// [`Executor`] run every sampler shares).
    pub fn record<O: Observer>(
        &mut self,
        batch: &mut ChainBatch,
        sweeps: usize,
        make: impl FnMut(usize) -> O,
    ) -> Result<O, SamplerError> {
        let mut ex = Executor::new(sweeps);
        let run = match self {
            Self::Reference(s) => ex.run(s, batch, make),
            Self::Fast(s) => ex.run(&mut **s, batch, make),
            Self::Conditioned(s) => ex.run(&mut **s, batch, make),
        };
        run.map(|r| r.observed)
    }
}

/// Records every state of every chain, chain after chain.
struct StateRecorder {
    chains: Vec<Vec<Spin>>,
}

impl StateRecorder {
    fn new() -> Self {
        Self {
            chains: vec![Vec::new()],
        }
    }
}

impl Observer for StateRecorder {
    fn observe(&mut self, _sweep: usize, x: &[Spin]) {
        if let Some(c) = self.chains.last_mut() {
            c.extend_from_slice(x);
        }
    }
    fn merge(&mut self, other: Self) {
        self.chains.extend(other.chains);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Moments,
    Trace,
    Final,
}

impl Output {
    /// The buffer of a `trace` output (`len` states' spins), empty for the others.
    fn trace_buffer(self, len: usize) -> Vec<Spin> {
        if self == Output::Trace {
            vec![0; len]
        } else {
            Vec::new()
        }
    }
}

/// `(done, k)`: the runs of at most `step` sweeps that cover `0..total`, in order (`done` sweeps
/// before each), so long runs return to Python between pieces.
fn pieces(total: usize, step: usize) -> impl Iterator<Item = (usize, usize)> {
    let step = step.max(1);
    (0..total)
        .step_by(step)
        .map(move |done| (done, step.min(total - done)))
}

fn parse_output(s: &str) -> PyResult<Output> {
    match s {
        "moments" => Ok(Output::Moments),
        "trace" => Ok(Output::Trace),
        "final" => Ok(Output::Final),
        _ => Err(PyValueError::new_err(format!(
            "output: is {s:?}, expected \"moments\", \"trace\" or \"final\""
        ))),
    }
}

pub(crate) fn parse_kernel(s: &str) -> PyResult<KernelKind> {
    KernelKind::parse(s).map_err(|_| {
        PyValueError::new_err(format!(
            "kernel: is {s:?}, expected one of rs1, ss1, mh1, blk-alt, blk-sym, blk-rs"
        ))
    })
}

/// `None` means the reference engine.
fn parse_engine(s: &str) -> PyResult<Option<Engine>> {
    match (s, Engine::from_name(s)) {
        ("reference", _) => Ok(None),
        (_, Some(e)) => Ok(Some(e)),
        _ => Err(PyValueError::new_err(format!(
            "engine: is {s:?}, expected one of auto, reference, sparse, sparse-f32, lattice, \
             dense, lanes"
        ))),
    }
}

pub(crate) fn parse_generator(s: &str) -> PyResult<Generator> {
    Generator::parse(s).ok_or_else(|| {
        PyValueError::new_err(format!(
            "generator: is {s:?}, expected \"chacha8\" or \"xoshiro128+\""
        ))
    })
}

/// Writes a run's output into `d`: the moments (`count`, `m1`, `m2_edges`, `energy_mean`,
/// `energy_var`) when there are some, the recorded states as a `chains × sweeps × n` array
/// (`states`) when `out` is a trace, and the last state of every chain (`final`, `chains × n`).
fn put_output(
    d: &Bound<'_, PyDict>,
    out: Output,
    moments: Option<Moments>,
    trace: Vec<Spin>,
    last: &[Spin],
    [chains, sweeps, n]: [usize; 3],
) -> PyResult<()> {
    let py = d.py();
    if let Some(mm) = moments {
        d.set_item("count", mm.count)?;
        d.set_item("m1", PyArray1::from_vec(py, mm.m1))?;
        d.set_item("m2_edges", PyArray1::from_vec(py, mm.m2_edges))?;
        d.set_item("energy_mean", mm.energy_mean)?;
        d.set_item("energy_var", mm.energy_var)?;
    }
    if out == Output::Trace {
        let states = PyArray1::from_vec(py, trace).reshape([chains, sweeps, n])?;
        d.set_item("states", states)?;
    }
    d.set_item(
        "final",
        PyArray1::from_slice(py, last).reshape([chains, n])?,
    )?;
    Ok(())
}

fn positive(name: &str, v: usize) -> PyResult<()> {
    if v == 0 {
        Err(PyValueError::new_err(format!(
            "{name}: is 0, expected at least 1"
        )))
    } else {
        Ok(())
    }
}

fn check_spins(name: &str, xs: &[Spin]) -> PyResult<()> {
    match thermoq_core::first_non_spin(xs) {
        Some(k) => Err(PyValueError::new_err(format!(
            "{name}: entry {k} is {}, expected -1 or +1",
            xs[k]
        ))),
        None => Ok(()),
    }
}

fn coloring_for(m: &PyModel, colors: Option<Vec<u32>>) -> PyResult<Option<Coloring>> {
    let g = m.ising().graph();
    match colors {
        Some(c) => Coloring::from_colors(g, c)
            .map(Some)
            .map_err(|e| PyValueError::new_err(format!("colors: {e}"))),
        None => match &m.inner {
            Inner::Rbm(r) => Coloring::from_colors(g, r.two_block_colors())
                .map(Some)
                .map_err(value_err),
            Inner::Ising(_) => Ok(None),
        },
    }
}

fn chunk_len(chains: usize, n: usize, forced: Option<usize>) -> usize {
    chunk_len_for(CHUNK_UPDATES, chains, n, forced)
}

fn chunk_len_for(updates: usize, chains: usize, n: usize, forced: Option<usize>) -> usize {
    forced.unwrap_or((updates / chains.saturating_mul(n).max(1)).max(1))
}

/// Samples `chains` chains of `model` (see `thermoq.sample` for the meaning of each argument).
#[pyfunction]
#[pyo3(signature = (model, kernel, engine, generator, seed, chains, sweeps, burn_in, output,
    colors=None, init=None, fields=None, betas=None, chunk=None))]
#[allow(clippy::too_many_arguments)]
pub fn sample<'py>(
    py: Python<'py>,
    model: Bound<'py, PyModel>,
    kernel: &str,
    engine: &str,
    generator: &str,
    seed: u64,
    chains: usize,
    sweeps: usize,
    burn_in: usize,
    output: &str,
    colors: Option<PyReadonlyArray1<'py, u32>>,
    init: Option<PyReadonlyArray2<'py, i8>>,
    fields: Option<PyReadonlyArray2<'py, f64>>,
    betas: Option<PyReadonlyArray1<'py, f64>>,
    chunk: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let m: &PyModel = model.get();
    let kind = parse_kernel(kernel)?;
    let eng = parse_engine(engine)?;
    let gen_ = parse_generator(generator)?;
    let out = parse_output(output)?;
    positive("chains", chains)?;
    positive("sweeps", sweeps)?;
    if chunk == Some(0) {
        return Err(PyValueError::new_err("chunk: is 0, expected at least 1"));
    }
    let n = m.n_spins_();
    if out == Output::Trace && chains.saturating_mul(sweeps).saturating_mul(n) > MAX_TRACE_BYTES {
        return Err(PyValueError::new_err(format!(
            "sweeps: a trace of {chains} chains × {sweeps} sweeps × {n} spins exceeds {} bytes; \
             use output=\"moments\" or fewer sweeps",
            MAX_TRACE_BYTES
        )));
    }
    let coloring = coloring_for(m, colors.map(|c| c.as_array().to_vec()))?;
    let ising = m.ising();
    let conditioned = fields.is_some() || betas.is_some();

    let mut batch = match &init {
        Some(a) => {
            let shape = a.shape();
            if shape[0] != chains || shape[1] != n {
                return Err(PyValueError::new_err(format!(
                    "init: has shape {shape:?}, expected (chains, n) = ({chains}, {n})"
                )));
            }
            let xs = a
                .as_slice()
                .map_err(|_| PyValueError::new_err("init: expected a C-contiguous array"))?;
            check_spins("init", xs)?;
            let mut b = ChainBatch::from_state(chains, &vec![1; n]);
            b.as_mut_slice().copy_from_slice(xs);
            b
        }
        None => ChainBatch::uniform(chains, n, seed),
    };
    let fields_v: Option<Vec<f64>> = match &fields {
        Some(f) => {
            let shape = f.shape();
            if shape[0] != chains || shape[1] != n {
                return Err(PyValueError::new_err(format!(
                    "fields: has shape {shape:?}, expected (chains, n) = ({chains}, {n})"
                )));
            }
            Some(f.as_array().iter().copied().collect())
        }
        None => None,
    };
    let betas_v: Option<Vec<f64>> = betas.as_ref().map(|b| b.as_array().to_vec());

    // The kernel of the reference engine must outlive the runner that borrows it.
    let ref_kernel = match eng {
        None => Some(GibbsKernel::new(kind, ising.graph(), coloring.clone()).map_err(value_err)?),
        Some(Engine::Auto) if !kind.is_block() && !conditioned => {
            Some(GibbsKernel::new(kind, ising.graph(), None).map_err(value_err)?)
        }
        _ => None,
    };
    let fast_model: FastModel<'_> = match &m.inner {
        Inner::Ising(i) => i.into(),
        Inner::Rbm(r) => r.into(),
    };
    let mut runner = if conditioned {
        let e = eng.ok_or_else(|| {
            PyValueError::new_err(
                "engine: fields/betas need a conditioned engine (auto, lanes or sparse-f32), \
                 not reference",
            )
        })?;
        let col = coloring
            .clone()
            .unwrap_or_else(|| Coloring::dsatur(ising.graph()));
        let mut s = ConditionedSampler::with_engine(ising, &col, kind, chains, seed, e)
            .map_err(value_err)?;
        s.set_fields(fields_v.as_deref()).map_err(value_err)?;
        if let Some(b) = &betas_v {
            s.set_betas(b).map_err(value_err)?;
        }
        s.set_generator(gen_).map_err(value_err)?;
        Runner::Conditioned(Box::new(s))
    } else if let Some(k) = &ref_kernel {
        if gen_ != Generator::ChaCha8 {
            return Err(PyValueError::new_err(format!(
                "generator: is {generator:?}; the reference kernels draw from chacha8 only \
                 (xoshiro128+ needs engine=\"lanes\", \"lattice\", \"dense\" or \"auto\" on a block kernel)"
            )));
        }
        Runner::Reference(BatchSampler::new(ising, k, chains, seed))
    } else {
        let e = eng.unwrap_or(Engine::Auto);
        let mut s = FastSampler::with_engine(fast_model, kind, coloring.clone(), chains, seed, e)
            .map_err(value_err)?;
        s.set_generator(gen_).map_err(value_err)?;
        Runner::Fast(Box::new(s))
    };
    let engine_name = match &runner {
        Runner::Reference(_) => "reference".to_string(),
        Runner::Fast(s) => s.engine().name().to_string(),
        Runner::Conditioned(s) => s.engine().name().to_string(),
    };

    let updates = match &runner {
        Runner::Fast(s) if matches!(s.engine(), Engine::Lattice | Engine::Lanes) => {
            CHUNK_UPDATES_LATTICE
        }
        _ => CHUNK_UPDATES,
    };
    let step = chunk_len_for(updates, chains, n, chunk);
    let d = PyDict::new(py);
    guarded("sample", || {
        for (_, k) in pieces(burn_in, step) {
            py.detach(|| runner.advance(&mut batch, k))
                .map_err(value_err)?;
            py.check_signals()?;
        }
        let mut moments: Option<MomentObserver<'_, IsingModel>> = None;
        let mut trace = out.trace_buffer(chains * sweeps * n);
        for (done, k) in pieces(sweeps, step) {
            match out {
                Output::Final => {
                    py.detach(|| runner.advance(&mut batch, k))
                        .map_err(value_err)?;
                }
                Output::Moments => {
                    let o = py
                        .detach(|| runner.record(&mut batch, k, |_| MomentObserver::new(ising)))
                        .map_err(value_err)?;
                    match &mut moments {
                        Some(a) => a.merge(o),
                        None => moments = Some(o),
                    }
                }
                Output::Trace => {
                    let rec = py
                        .detach(|| runner.record(&mut batch, k, |_| StateRecorder::new()))
                        .map_err(value_err)?;
                    for (c, states) in rec.chains.iter().enumerate() {
                        let at = (c * sweeps + done) * n;
                        trace[at..at + k * n].copy_from_slice(states);
                    }
                }
            }
            py.check_signals()?;
        }
        let mm = moments.map(|mo| mo.moments());
        put_output(&d, out, mm, trace, batch.as_slice(), [chains, sweeps, n])
    })?;
    d.set_item("engine", engine_name)?;
    d.set_item("kernel", kind.name())?;
    Ok(d)
}

impl PyModel {
    fn n_spins_(&self) -> usize {
        self.ising().n_spins()
    }
}

/// Parallel tempering with the fast conditioned engine: `alphas` is the ladder (1 first),
/// `scheme` `pt-sym` or `pt-deo`. Records the cold rung (`output` as in [`sample`]) and the
/// swap statistics.
#[pyfunction]
#[pyo3(signature = (model, kernel, alphas, scheme, seed, chains, sweeps, burn_in, output,
    colors=None))]
#[allow(clippy::too_many_arguments)]
pub fn sample_pt<'py>(
    py: Python<'py>,
    model: Bound<'py, PyModel>,
    kernel: &str,
    alphas: Vec<f64>,
    scheme: &str,
    seed: u64,
    chains: usize,
    sweeps: usize,
    burn_in: usize,
    output: &str,
    colors: Option<Vec<u32>>,
) -> PyResult<Bound<'py, PyDict>> {
    let m: &PyModel = model.get();
    let kind = parse_kernel(kernel)?;
    if !matches!(kind, KernelKind::BlkAlt | KernelKind::BlkSym) {
        return Err(PyValueError::new_err(format!(
            "kernel: is {kernel:?}; parallel tempering runs blk-alt or blk-sym locally"
        )));
    }
    let scheme = match scheme {
        "pt-sym" => SwapScheme::PtSym,
        "pt-deo" => SwapScheme::PtDeo,
        _ => {
            return Err(PyValueError::new_err(format!(
                "scheme: is {scheme:?}, expected \"pt-sym\" or \"pt-deo\""
            )));
        }
    };
    let out = parse_output(output)?;
    positive("chains", chains)?;
    positive("sweeps", sweeps)?;
    let ladder = Ladder::new(alphas).map_err(|e| PyValueError::new_err(format!("ladder: {e}")))?;
    let ising = m.ising();
    let n = ising.n_spins();
    if out == Output::Trace && chains.saturating_mul(sweeps).saturating_mul(n) > MAX_TRACE_BYTES {
        return Err(PyValueError::new_err(
            "sweeps: the trace would be too large; use output=\"moments\"",
        ));
    }
    let col = coloring_for(m, colors)?.unwrap_or_else(|| Coloring::dsatur(ising.graph()));
    let rungs = ladder.len();
    let mut pt = FastPt::new(ising, &col, kind, ladder, scheme, chains, seed).map_err(value_err)?;
    let step = chunk_len(chains * rungs, n, None);
    let d = PyDict::new(py);
    guarded("sample_pt", || {
        for (_, k) in pieces(burn_in, step) {
            py.detach(|| (0..k).try_for_each(|_| pt.step(false)))
                .map_err(value_err)?;
            py.check_signals()?;
        }
        let mut acc = MomentObserver::new(ising);
        let mut trace = out.trace_buffer(chains * sweeps * n);
        for (done, k) in pieces(sweeps, step) {
            py.detach(|| {
                for t in 0..k {
                    pt.step(true)?;
                    for c in 0..chains {
                        let x = pt.state(c, 0);
                        match out {
                            Output::Moments => acc.observe(done + t, x),
                            Output::Trace => {
                                let at = (c * sweeps + done + t) * n;
                                trace[at..at + n].copy_from_slice(x);
                            }
                            Output::Final => {}
                        }
                    }
                }
                Ok::<(), SamplerError>(())
            })
            .map_err(value_err)?;
            py.check_signals()?;
        }
        let mm = (out == Output::Moments).then(|| acc.moments());
        let last: Vec<Spin> = (0..chains).flat_map(|c| pt.state(c, 0)).copied().collect();
        put_output(&d, out, mm, trace, &last, [chains, sweeps, n])?;
        let pooled = pt.pooled();
        let acc_rates: Vec<f64> = (0..rungs.saturating_sub(1))
            .map(|k| pooled.acceptance(k).unwrap_or(f64::NAN))
            .collect();
        d.set_item("swap_acceptance", PyArray1::from_vec(py, acc_rates))?;
        d.set_item("round_trips", pooled.round_trips)?;
        if let Some(c) = pt.specific_heat(&pooled) {
            d.set_item("specific_heat", PyArray1::from_vec(py, c))?;
        }
        d.set_item("alphas", PyArray1::from_slice(py, pt.ladder().alphas()))?;
        Ok(())
    })?;
    d.set_item("scheme", scheme.name())?;
    d.set_item("kernel", kind.name())?;
    Ok(d)
}
