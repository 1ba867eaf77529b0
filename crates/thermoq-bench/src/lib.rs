//! # thermoq-bench — benchmark cases and measurements
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! The models every thermoq benchmark runs (PEERS.md: periodic 2D Ising 32×32 and 128×128, the
//! RBM 784 × 256, the negative-phase conditional of a `60_12` DTM layer; small enumerable models
//! for moment checks) and the measurements on them: [`time_median`], the sampler-throughput rows
//! and machine bounds of [`sampler`], the peer-comparison cases and per-chain moment sums of
//! [`peers`], and the thrml peer process and comparisons of [`thrml`]. `cargo xtask bench` parses
//! arguments and prints the rows and tables these build;
//! criterion benches can build the same cases. Nothing here prints.

pub mod peers;
pub mod sampler;
pub mod spectral;
pub mod thrml;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;
use thermoq_core::{Coloring, Spin};
use thermoq_models::dtm::{DtmLayer, DtmLayout, ForwardProcess, TorusGrid, VisibleSpec};
use thermoq_models::{EnergyModel, IsingModel, Rbm};
use thermoq_samplers::KernelKind;
use thermoq_samplers::fast::{Engine, FastSampler, Generator};

/// Chains of every case.
pub const CHAINS: usize = 64;
/// Seed of every case's model and chains.
pub const SEED: u64 = 2026;

/// What can go wrong while building or timing a case (sampler and spectral cases alike).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// From `thermoq-core`.
    #[error(transparent)]
    Core(#[from] thermoq_core::CoreError),
    /// From `thermoq-models`.
    #[error(transparent)]
    Model(#[from] thermoq_models::ModelError),
    /// From `thermoq-samplers`.
    #[error(transparent)]
    Sampler(#[from] thermoq_samplers::SamplerError),
    /// From `thermoq-spectral` (the spectral cases).
    #[error(transparent)]
    Spectral(#[from] thermoq_spectral::SpectralError),
    /// The numpy subprocess of a spectral case, or its scratch file, failed.
    #[error("numpy comparison: {0}")]
    Numpy(String),
    /// The thrml peer (venv, spec file, process, its output) failed; the message names the step.
    #[error("{0}")]
    Peer(String),
    /// A DTM benchmark model could not be built (`what` names the step).
    #[error("{what}: {source}")]
    Dtm {
        /// The step (grid, layout, layer, parameters, conditional).
        what: String,
        /// The DTM module's error.
        source: thermoq_models::dtm::DtmError,
    },
}

/// A benchmark model: an Ising model or an RBM (which the fast engines treat as bipartite).
pub enum BenchModel {
    /// Any Ising model.
    Ising(IsingModel),
    /// An RBM.
    Rbm(Rbm),
}

impl BenchModel {
    /// The model as an Ising model.
    pub fn ising(&self) -> &IsingModel {
        match self {
            Self::Ising(m) => m,
            Self::Rbm(r) => r.as_ising(),
        }
    }

    /// A fast sampler of `CHAINS` chains on `engine` with `generator`, kernel `kind`, colouring
    /// `coloring` (`None`: the engine's default).
    pub fn sampler(
        &self,
        kind: KernelKind,
        coloring: Option<Coloring>,
        engine: Engine,
        generator: Generator,
        seed: u64,
    ) -> Result<FastSampler<'_>, BenchError> {
        let mut s = match self {
            Self::Ising(m) => FastSampler::with_engine(m, kind, coloring, CHAINS, seed, engine)?,
            Self::Rbm(r) => FastSampler::with_engine(r, kind, coloring, CHAINS, seed, engine)?,
        };
        s.set_generator(generator)?;
        Ok(s)
    }
}

/// The checkerboard 2-colouring of an `l × l` periodic lattice.
pub fn checkerboard(m: &IsingModel, l: usize) -> Result<Coloring, BenchError> {
    let colors = (0..l * l).map(|i| ((i / l + i % l) % 2) as u32).collect();
    Ok(Coloring::from_colors(m.graph(), colors)?)
}

/// `n` draws of `N(0, std²)` (Box–Muller).
pub fn normal_vec(n: usize, std: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
            let u2: f64 = rng.random::<f64>();
            std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// A DTM layer's negative-phase conditional with random learned parameters and a random input.
pub fn dtm_case(
    grid: &str,
    spec: VisibleSpec,
    std: f64,
    seed: u64,
) -> Result<(IsingModel, Coloring), BenchError> {
    let step = |what: &str| {
        let what = what.to_string();
        move |source| BenchError::Dtm { what, source }
    };
    let grid = TorusGrid::named(grid).map_err(step(&format!("DTM grid {grid}")))?;
    let layout = DtmLayout::new(grid, spec, 0).map_err(step("DTM layout"))?;
    let mut layer = DtmLayer::new(Arc::new(layout), &ForwardProcess::default(), 0, 1.0)
        .map_err(step("DTM layer"))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let theta = normal_vec(layer.n_params(), std, &mut rng);
    layer.set_params(&theta).map_err(step("DTM parameters"))?;
    let x_t: Vec<Spin> = normal_vec(spec.n_visible(), 1.0, &mut rng)
        .into_iter()
        .map(|z| if z >= 0.0 { 1 } else { -1 })
        .collect();
    let model = layer
        .conditional_model(&x_t)
        .map_err(step("DTM conditional"))?;
    Ok((model, layer.coloring().clone()))
}

/// Median of the timed repetitions (and all of them), after one warm-up call.
pub fn time_median<E>(
    reps: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<(f64, Vec<f64>), E> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64());
    }
    Ok((median(&t), t))
}

/// The median (upper middle for an even count; NaN for none).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        f64::NAN
    } else {
        s[s.len() / 2]
    }
}
