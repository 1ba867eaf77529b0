//! `bench peers`: the cases thermoq and thrml run side by side (`BLK-ALT`, 64 chains; the lattice,
//! RBM and DTM models of PEERS.md on the engine thermoq uses for each), the enumerable models of
//! the moment cross-check, and the per-chain moment sums and z-scores it compares with.

use crate::{BenchError, BenchModel, SEED, checkerboard, dtm_case, normal_vec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thermoq_core::Coloring;
use thermoq_models::dtm::VisibleSpec;
use thermoq_models::{EnergyModel, Rbm, builders};
use thermoq_samplers::fast::{Engine, Generator};

/// The case names, in order.
pub const CASE_NAMES: [&str; 4] = ["ising-32", "ising-128", "rbm-784x256", "dtm-60_12"];

/// One case of the comparison.
pub struct PeerCase {
    /// Its name.
    pub name: String,
    /// The model.
    pub model: BenchModel,
    /// Its blocks.
    pub coloring: Coloring,
    /// thermoq's engine.
    pub engine: Engine,
    /// The generator thermoq runs with; when it is not the reference ChaCha8, the same engine
    /// with ChaCha8 is timed in the same run too.
    pub generator: Generator,
    /// Sweeps per thermoq repetition.
    pub sweeps_thermoq: usize,
    /// Sweeps per thrml repetition.
    pub sweeps_thrml: usize,
}

/// The comparison cases (`quick`: a quarter of the sweeps).
pub fn cases(quick: bool) -> Result<Vec<PeerCase>, BenchError> {
    let q = if quick { 4 } else { 1 };
    let mut out = Vec::new();
    for (l, sq, st) in [(32usize, 8000, 400), (128, 500, 40)] {
        let m = builders::lattice_2d(l, l, 0.4, 0.0, 1.0)?;
        let coloring = checkerboard(&m, l)?;
        out.push(PeerCase {
            name: format!("ising-{l}"),
            model: BenchModel::Ising(m),
            coloring,
            engine: Engine::Lattice,
            generator: Generator::ChaCha8,
            sweeps_thermoq: sq / q,
            sweeps_thrml: st / q,
        });
    }
    let rbm = Rbm::random(784, 256, 0.01, 1.0, SEED)?;
    let coloring = Coloring::from_colors(rbm.as_ising().graph(), rbm.two_block_colors())?;
    out.push(PeerCase {
        name: "rbm-784x256".into(),
        model: BenchModel::Rbm(rbm),
        coloring,
        engine: Engine::Dense,
        generator: Generator::ChaCha8,
        sweeps_thermoq: 1000 / q,
        sweeps_thrml: 100 / q,
    });
    let spec = VisibleSpec {
        n_image: 784,
        n_classes: 10,
        label_spots: 5,
    };
    let (m, coloring) = dtm_case("60_12", spec, 0.1, SEED)?;
    out.push(PeerCase {
        name: "dtm-60_12".into(),
        model: BenchModel::Ising(m),
        coloring,
        engine: Engine::Lanes,
        generator: Generator::Xoshiro128Plus,
        sweeps_thermoq: 400 / q,
        sweeps_thrml: 100 / q,
    });
    Ok(out)
}

/// Mean over chains and its standard error from the spread of chain means.
pub fn mean_se(chain_means: &[f64]) -> (f64, f64) {
    let c = chain_means.len() as f64;
    let mean = chain_means.iter().sum::<f64>() / c;
    let var = chain_means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (c - 1.0);
    (mean, (var / c).sqrt())
}

/// |diff| in standard errors (0 for an exact zero with no spread, ∞ for a difference without).
pub fn z(diff: f64, se: f64) -> f64 {
    if se > 0.0 {
        diff.abs() / se
    } else if diff.abs() < 1e-12 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// A moment-check case: name, model, colouring, engine, generator.
pub type MomentCase = (&'static str, BenchModel, Coloring, Engine, Generator);

/// The enumerable models of the moment cross-check.
pub fn moment_models() -> Result<Vec<MomentCase>, BenchError> {
    let mut out = Vec::new();
    let lat = builders::lattice_2d(4, 4, 0.4, 0.15, 1.0)?;
    let c = checkerboard(&lat, 4)?;
    out.push((
        "lattice-4x4",
        BenchModel::Ising(lat),
        c,
        Engine::Lattice,
        Generator::ChaCha8,
    ));
    let spec = VisibleSpec {
        n_image: 4,
        n_classes: 2,
        label_spots: 1,
    };
    for (name, g) in [
        ("dtm-4_4", Generator::ChaCha8),
        ("dtm-4_4-xoshiro", Generator::Xoshiro128Plus),
    ] {
        let (m, c) = dtm_case("4_4", spec, 0.3, SEED + 7)?;
        out.push((name, BenchModel::Ising(m), c, Engine::Lanes, g));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 11);
    let (nv, nh) = (6, 4);
    let w = normal_vec(nv * nh, 0.4, &mut rng);
    let b = normal_vec(nv, 0.2, &mut rng);
    let cb = normal_vec(nh, 0.2, &mut rng);
    let rbm = Rbm::new(nv, nh, w, b, cb, 1.0)?;
    let c = Coloring::from_colors(rbm.as_ising().graph(), rbm.two_block_colors())?;
    out.push((
        "rbm-6x4",
        BenchModel::Rbm(rbm),
        c,
        Engine::Dense,
        Generator::ChaCha8,
    ));
    Ok(out)
}
