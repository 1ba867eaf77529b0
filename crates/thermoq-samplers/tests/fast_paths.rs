//! The fast engines (`thermoq_samplers::fast`) against exact oracles.
//!
//! * Stationary moments `⟨x_i⟩`, `⟨x_i x_j⟩` (every edge) against `ExactLaw` enumeration, for each
//!   engine and each block kernel.
//! * One-sweep conditionals: from a fixed state, after one `BLK-ALT` sweep every spin of the first
//!   colour class is an independent draw with `P(+1) = σ(2βφ_i(x0))` — an exact oracle that checks
//!   the neighbour wiring of each engine on models too large to enumerate.
//! * Determinism: same seed ⇒ bit-identical samples with 1 or 2 threads; the AVX2 and portable
//!   kernels of the lattice and lanes engines give identical samples.
//! * The fast generator (`xoshiro128+`, [`Generator::Xoshiro128Plus`]) of the lanes, lattice and
//!   dense engines passes every oracle above that the reference ChaCha8 passes, and on a model too
//!   large to enumerate the two generators give the same moments within a two-sample `Z·SE`.
//!
//! Tolerances. Each of the `C` chains is an independent replicate, so the spread of the `C`
//! per-chain time averages estimates the standard error of their mean *including* the
//! autocorrelation (`Var(chain mean) = τ_int·Var_π/K`, estimated directly — no τ guess needed):
//! `SE = sd(chain means)/√C`. We accept `|mean − exact| ≤ Z·SE + 1e-12` with `Z = 6`. For the
//! one-sweep test the draws are exactly Bernoulli, `SE = √(p(1−p)/C)` is known, same `Z`.
//!
//! Family-wise false-alarm rate (Bonferroni over every comparison in this file, counted):
//!
//! | test | comparisons | per-comparison `P(|t| > 6)` | total |
//! |---|---|---|---|
//! | lattice moments (2 generators × 2 models × 3 kernels × 48) | 576 | 1.1e-7 (t, 63 df) | 6.3e-5 |
//! | sparse/sparse-f32 moments (2 × 3 × (31 + 36)) | 402 | 1.1e-7 (t, 63 df) | 4.3e-5 |
//! | lanes moments, 64 chains (2 generators × 3 × (31 + 36 + 34)) | 606 | 1.1e-7 (t, 63 df) | 6.4e-5 |
//! | lanes moments, 40 chains (same) | 606 | 5.2e-7 (t, 39 df) | 3.1e-4 |
//! | dense moments (4 × 34) | 136 | 1.1e-7 (t, 63 df) | 1.4e-5 |
//! | generators agree, lanes (3 × (400 + 955)) | 4,065 | 2.0e-8 (two-sample, ≈ 126 df) | 7.9e-5 |
//! | generators agree, lattice (3 × (576 + 1,152)) | 5,184 | 2.0e-8 (two-sample, ≈ 126 df) | 1.0e-4 |
//! | one-sweep conditionals (24·5 + 15·4 + 30 + 20) | 230 | 2.0e-9 (normal) | 5e-7 |
//!
//! 11,805 comparisons in all; the file's family-wise false-alarm rate is below 8e-4.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use thermoq_core::{Coloring, Spin};
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};
use thermoq_samplers::fast::{Engine, FastModel, FastSampler, Generator};
use thermoq_samplers::observe::ChainMoments;
use thermoq_samplers::{ChainBatch, KernelKind, SamplerError};

const Z: f64 = 6.0;
const KINDS: [KernelKind; 3] = [KernelKind::BlkAlt, KernelKind::BlkSym, KernelKind::BlkRs];

/// Per observable (every `⟨x_i⟩`, then every edge's `⟨x_i x_j⟩`): the mean over the chains of
/// their time averages over `sweeps` recorded sweeps, and its standard error from the spread of
/// those chain means (see the module docs).
fn chain_mean_se(obs: &ChainMoments<'_, IsingModel>, sweeps: usize) -> Vec<(f64, f64)> {
    let chains = obs.chains();
    let c = chains.len();
    (0..chains[0].len())
        .map(|a| {
            let means: Vec<f64> = chains.iter().map(|s| s.sum(a) / sweeps as f64).collect();
            let mean = means.iter().sum::<f64>() / c as f64;
            let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (c - 1) as f64;
            (mean, (var / c as f64).sqrt())
        })
        .collect()
}

/// Runs `sampler` and checks every first and second moment against enumeration (see the module
/// docs for the tolerance). Returns the largest |error| / SE seen.
fn check_moments(
    model: &IsingModel,
    mut sampler: FastSampler<'_>,
    burn_in: usize,
    sweeps: usize,
    what: &str,
) -> f64 {
    let c = sampler.n_chains();
    let n = model.n_spins();
    let mut batch = ChainBatch::uniform(c, n, 99);
    let obs = sampler
        .run(&mut batch, burn_in, sweeps, |_| ChainMoments::new(model))
        .expect("the sampler runs");
    assert_eq!(obs.chains().len(), c);
    let law = ExactLaw::new(model).expect("the test model is small enough to enumerate");
    let exact: Vec<f64> = law
        .m1()
        .into_iter()
        .chain(law.m2(model.graph().edges()))
        .collect();
    let mut worst: f64 = 0.0;
    for (a, (&e, (mean, se))) in exact.iter().zip(chain_mean_se(&obs, sweeps)).enumerate() {
        let err = (mean - e).abs();
        assert!(
            err <= Z * se + 1e-12,
            "{what}: observable {a}: sampled {mean:.5} vs exact {e:.5} (SE {se:.2e})"
        );
        if se > 0.0 {
            worst = worst.max(err / se);
        }
    }
    worst
}

fn lattice_models() -> Vec<(IsingModel, &'static str)> {
    vec![
        (
            builders::lattice_2d(4, 4, 0.4, 0.0, 1.0).expect("valid lattice parameters"),
            "4x4 J=0.4",
        ),
        (
            builders::lattice_2d(4, 4, 0.4, 0.3, 1.0).expect("valid lattice parameters"),
            "4x4 J=0.4 h=0.3",
        ),
    ]
}

#[test]
fn lattice_engine_matches_exact_moments() {
    for g in GENERATORS {
        for (model, name) in lattice_models() {
            for kind in KINDS {
                let s = with_generator(&model, kind, 64, 11, Engine::Lattice, g);
                check_moments(
                    &model,
                    s,
                    50,
                    3000,
                    &format!("lattice {} {name} {kind}", g.name()),
                );
            }
        }
    }
}

#[test]
fn sparse_engines_match_exact_moments() {
    let models = multi_colour_models();
    for engine in [Engine::Sparse, Engine::SparseF32] {
        for kind in KINDS {
            for (m, name) in &models {
                let s = FastSampler::with_engine(m, kind, None, 64, 5, engine).unwrap();
                check_moments(m, s, 50, 2000, &format!("{} {name} {kind}", engine.name()));
            }
        }
    }
}

/// Biased models with more than two colours: a random sparse graph and a 4×3 lattice (odd side:
/// 3 colours).
fn multi_colour_models() -> [(IsingModel, &'static str); 2] {
    let model = builders::random_sparse(10, 0.45, 0.6, 0.3, 1.0, 4);
    assert!(
        Coloring::dsatur(model.graph()).n_colors() >= 3,
        "want a model with more than two colours"
    );
    let lat = builders::lattice_2d(4, 3, 0.4, 0.2, 1.0).expect("lattice");
    [(model, "random sparse"), (lat, "4x3 lattice")]
}

const GENERATORS: [Generator; 2] = [Generator::ChaCha8, Generator::Xoshiro128Plus];

/// A sampler on `engine` drawing its comparison words from `g` (both must apply).
fn with_generator<'m>(
    m: impl Into<FastModel<'m>>,
    kind: KernelKind,
    chains: usize,
    seed: u64,
    engine: Engine,
    g: Generator,
) -> FastSampler<'m> {
    let mut s = FastSampler::with_engine(m, kind, None, chains, seed, engine)
        .expect("the engine applies to the model");
    s.set_generator(g)
        .expect("the engine takes every generator");
    assert_eq!((s.engine(), s.generator()), (engine, g));
    s
}

/// The lanes engine (16 chains per SIMD row) on biased models with more than two colours, every
/// block kernel (BLK-SYM and BLK-RS exercise the masked passes), with chain counts that are and
/// are not multiples of the lane width (64 = 4 full blocks, 40 = 2 full blocks + 8 idle lanes),
/// with either generator.
#[test]
fn lanes_engine_matches_exact_moments() {
    let models = multi_colour_models();
    let rbm = small_rbm();
    for g in GENERATORS {
        for kind in KINDS {
            let named = models.iter().map(|(m, name)| (m, *name));
            for (m, name) in named.chain([(rbm.as_ising(), "rbm 6x4 as ising")]) {
                for chains in [64, 40] {
                    check_moments(
                        m,
                        with_generator(m, kind, chains, 5, Engine::Lanes, g),
                        50,
                        2000,
                        &format!("lanes {} {name} {kind} {chains} chains", g.name()),
                    );
                }
            }
        }
    }
}

/// ChaCha8 and xoshiro128+ on models too large to enumerate, 64 chains each, every kernel: a
/// 400-spin sparse graph with biases (lanes engine), a 24×24 lattice with a field (576 + 1,152
/// observables; lattice engine) and a 60 × 40 RBM (dense engine). Per observable (every ⟨x_i⟩ and
/// ⟨x_i x_j⟩) the two runs' means differ by at most `Z·√(SE₁² + SE₂²)`, the SEs from the spread
/// of the independent chains' time averages as in `check_moments`.
#[test]
fn generators_agree_on_large_models() {
    let sparse = builders::random_sparse(400, 0.012, 0.6, 0.3, 1.0, 31);
    let lattice = builders::lattice_2d(24, 24, 0.3, 0.1, 1.0).unwrap();
    let rbm = Rbm::random(60, 40, 0.2, 1.0, 3).unwrap();
    let cases = [
        (FastModel::Ising(&sparse), Engine::Lanes),
        (FastModel::Ising(&lattice), Engine::Lattice),
        (FastModel::Rbm(&rbm), Engine::Dense),
    ];
    for (model, engine) in cases {
        for kind in KINDS {
            generators_agree(
                model.ising(),
                &|g| with_generator(model, kind, 64, 8, engine, g),
                &format!("{} {kind}", engine.name()),
            );
        }
    }
}

/// Runs `make(g)` (64 chains) for both generators, 200 + 1,500 sweeps, and checks every ⟨x_i⟩
/// and ⟨x_i x_j⟩ agree within `Z·√(SE₁² + SE₂²)`, the SEs from the spread of the independent
/// chains' time averages as in `check_moments`.
fn generators_agree<'m>(m: &IsingModel, make: &dyn Fn(Generator) -> FastSampler<'m>, what: &str) {
    let (burn_in, sweeps, c) = (200, 1500, 64);
    let stats: Vec<Vec<(f64, f64)>> = GENERATORS
        .iter()
        .map(|&g| {
            let mut s = make(g);
            assert_eq!(s.n_chains(), c);
            let mut batch = ChainBatch::uniform(c, m.n_spins(), 7);
            let obs = s
                .run(&mut batch, burn_in, sweeps, |_| ChainMoments::new(m))
                .expect("the sampler runs");
            chain_mean_se(&obs, sweeps)
        })
        .collect();
    for (a, (&(m1, s1), &(m2, s2))) in stats[0].iter().zip(&stats[1]).enumerate() {
        let se = (s1 * s1 + s2 * s2).sqrt();
        assert!(
            (m1 - m2).abs() <= Z * se + 1e-12,
            "{what}: observable {a}: chacha8 {m1:.5} vs xoshiro128+ {m2:.5} (SE {se:.2e})"
        );
    }
}

/// The lanes engine's AVX2 and portable kernels give identical samples (every kernel, a partial
/// last block).
#[test]
fn lanes_simd_and_portable_kernels_agree() {
    let sp = builders::random_sparse(300, 0.03, 0.5, 0.3, 1.0, 12);
    let make = |kind, g| with_generator(&sp, kind, 37, 4, Engine::Lanes, g);
    if !every_kernel_simd_matches_portable(&make, 30, "lanes") {
        return;
    }
    eprintln!(
        "RAN: lanes_simd_and_portable_kernels_agree compared the AVX2 kernels with the portable ones"
    );
}

/// [`simd_matches_portable`] for every generator and block kernel, the samplers from
/// `make(kind, g)`, labelled `what`, the generator and the kernel. `false` without AVX2.
fn every_kernel_simd_matches_portable<'m>(
    make: &dyn Fn(KernelKind, Generator) -> FastSampler<'m>,
    sweeps: usize,
    what: &str,
) -> bool {
    for g in GENERATORS {
        for kind in KINDS {
            let what = format!("{what} {} {kind}", g.name());
            if !simd_matches_portable(&|| make(kind, g), sweeps, &what) {
                return false;
            }
        }
    }
    true
}

/// Two samplers from `make`, the second forced onto the portable kernels, give identical samples
/// after `sweeps` sweeps from the same batch. `false` (and a SKIPPED note) without AVX2.
fn simd_matches_portable<'m>(
    make: &dyn Fn() -> FastSampler<'m>,
    sweeps: usize,
    what: &str,
) -> bool {
    let mut a = make();
    if !a.uses_simd() {
        eprintln!("SKIPPED: no AVX2 — {what}: the SIMD-vs-portable comparison compares nothing");
        return false;
    }
    let mut b = make();
    b.force_portable();
    let mut xa = ChainBatch::uniform(a.n_chains(), a.updates_per_sweep(), 2);
    let mut xb = xa.clone();
    a.sweep(&mut xa, sweeps).expect("the sampler runs");
    b.sweep(&mut xb, sweeps).expect("the sampler runs");
    assert_eq!(xa, xb, "{what}");
    true
}

fn small_rbm() -> Rbm {
    let (m, n) = (6, 4);
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let mut draw = |len: usize, s: f64| -> Vec<f64> {
        (0..len)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut r);
                s * z
            })
            .collect()
    };
    let w = draw(m * n, 0.6);
    let b = draw(m, 0.3);
    let c = draw(n, 0.3);
    Rbm::new(m, n, w, b, c, 1.0).expect("valid RBM shapes")
}

#[test]
fn dense_engine_matches_exact_moments() {
    let rbm = small_rbm();
    let model = rbm.as_ising();
    for g in GENERATORS {
        for kind in KINDS {
            let mut s = FastSampler::new(&rbm, kind, None, 64, 8).unwrap();
            s.set_generator(g).unwrap();
            assert_eq!((s.engine(), s.generator()), (Engine::Dense, g));
            check_moments(
                model,
                s,
                50,
                3000,
                &format!("dense {} 6x4 {kind}", g.name()),
            );
        }
    }
    // Hidden layer as colour 0 (the class order DSATUR would pick for m > n).
    let colors: Vec<u32> = rbm.two_block_colors().iter().map(|c| 1 - c).collect();
    let col = Coloring::from_colors(model.graph(), colors).unwrap();
    let s = FastSampler::new(&rbm, KernelKind::BlkAlt, Some(col), 64, 8).unwrap();
    assert_eq!(s.engine(), Engine::Dense);
    check_moments(model, s, 50, 3000, "dense 6x4 hidden-first blk-alt");
}

/// After one BLK-ALT sweep from `x0`, spins of colour class 0 are independent Bernoulli draws with
/// `P(+1) = σ(2βφ_i(x0))`.
fn check_one_sweep(model: FastModel<'_>, engine: Engine, coloring: Option<Coloring>) {
    check_one_sweep_with(model, engine, Generator::ChaCha8, coloring);
}

fn check_one_sweep_with(
    model: FastModel<'_>,
    engine: Engine,
    generator: Generator,
    coloring: Option<Coloring>,
) {
    let m = model.ising();
    let n = m.n_spins();
    let c = 8192;
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let x0: Vec<Spin> = (0..n)
        .map(|_| {
            if rand::RngExt::random::<bool>(&mut r) {
                1
            } else {
                -1
            }
        })
        .collect();
    let col = coloring.clone().unwrap_or_else(|| match model {
        FastModel::Rbm(rb) => Coloring::from_colors(m.graph(), rb.two_block_colors())
            .expect("the RBM two-block colouring is proper"),
        FastModel::Ising(_) => Coloring::dsatur(m.graph()),
    });
    let mut s = FastSampler::with_engine(model, KernelKind::BlkAlt, coloring, c, 17, engine)
        .expect("a sampler of a valid model");
    s.set_generator(generator)
        .expect("the engine takes this generator");
    assert_eq!(s.engine(), engine);
    let mut batch = ChainBatch::from_state(c, &x0);
    s.sweep(&mut batch, 1).expect("one sweep of a valid batch");
    for &i in col.class(0) {
        let i = i as usize;
        let p = thermoq_samplers::pbit::sigmoid(2.0 * m.beta() * m.local_field(&x0, i));
        let ups = (0..c).filter(|&k| batch.chain(k)[i] == 1).count() as f64 / c as f64;
        let se = (p * (1.0 - p) / c as f64).sqrt();
        assert!(
            (ups - p).abs() <= Z * se + 1e-12,
            "{} ({}): site {i}: P(up) sampled {ups:.4} vs exact {p:.4}",
            engine.name(),
            generator.name()
        );
    }
}

/// The lattice engine splits a parity block into kernel calls of at most 1,024 sites (whole
/// rows). Class 0's conditionals after one sweep are exact across those calls, with both
/// generators, on lattices whose rows take the edge blend and on lattices whose rows tile a
/// 64-site step (the in-register row wrap on AVX-512).
#[test]
fn lattice_conditionals_are_exact_across_kernel_calls() {
    // 48×48 is one call per parity block, 100×100 three (20, 20 and 10 rows, ties collected
    // across them), 2100×4 one row per call; 32×32 (rows of 16) and 128×8 (rows of 64) run the
    // row wrap in registers, four and eight 64-site steps per call.
    for (lx, ly) in [(48, 48), (100, 100), (2100, 4), (32, 32), (128, 8)] {
        let lat = builders::lattice_2d(lx, ly, 0.4, 0.15, 1.0).unwrap();
        for g in GENERATORS {
            check_one_sweep_with(FastModel::Ising(&lat), Engine::Lattice, g, None);
        }
    }
}

#[test]
fn one_sweep_conditionals_are_exact() {
    let lat = builders::lattice_2d(8, 6, 0.4, 0.15, 1.0).unwrap();
    check_one_sweep(FastModel::Ising(&lat), Engine::Lattice, None);
    check_one_sweep(FastModel::Ising(&lat), Engine::Sparse, None);
    let sp = builders::random_sparse(40, 0.1, 0.5, 0.3, 1.0, 9);
    check_one_sweep(FastModel::Ising(&sp), Engine::Sparse, None);
    check_one_sweep(FastModel::Ising(&sp), Engine::SparseF32, None);
    check_one_sweep(FastModel::Ising(&sp), Engine::Lanes, None);
    check_one_sweep(FastModel::Ising(&lat), Engine::Lanes, None);
    let xo = Generator::Xoshiro128Plus;
    check_one_sweep_with(FastModel::Ising(&lat), Engine::Lattice, xo, None);
    check_one_sweep_with(FastModel::Ising(&sp), Engine::Lanes, xo, None);
    check_one_sweep_with(FastModel::Ising(&lat), Engine::Lanes, xo, None);
    let rbm = Rbm::random(30, 20, 0.3, 1.0, 4).unwrap();
    check_one_sweep(FastModel::Rbm(&rbm), Engine::Dense, None);
    check_one_sweep_with(FastModel::Rbm(&rbm), Engine::Dense, xo, None);
    let colors: Vec<u32> = rbm.two_block_colors().iter().map(|c| 1 - c).collect();
    let col = Coloring::from_colors(rbm.as_ising().graph(), colors).unwrap();
    check_one_sweep(FastModel::Rbm(&rbm), Engine::Dense, Some(col));
}

fn run_in_pool(threads: usize, f: impl FnOnce() -> ChainBatch + Send) -> ChainBatch {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
        .install(f)
}

#[test]
fn same_seed_same_samples_whatever_the_thread_count() {
    let lat = builders::lattice_2d(16, 8, 0.4, 0.1, 1.0).unwrap();
    // Rows of 16 sites, one 64-site step per call: the row wrap in registers on AVX-512.
    let wide = builders::lattice_2d(32, 8, 0.4, 0.1, 1.0).unwrap();
    let sp = builders::random_sparse(30, 0.2, 0.5, 0.2, 1.0, 2);
    let rbm = Rbm::random(40, 24, 0.2, 1.0, 6).unwrap();
    let chacha = Generator::ChaCha8;
    let cases: Vec<(FastModel<'_>, Engine, Generator)> = vec![
        (FastModel::Ising(&lat), Engine::Lattice, chacha),
        (
            FastModel::Ising(&lat),
            Engine::Lattice,
            Generator::Xoshiro128Plus,
        ),
        (FastModel::Ising(&wide), Engine::Lattice, chacha),
        (FastModel::Ising(&sp), Engine::Sparse, chacha),
        (FastModel::Ising(&sp), Engine::SparseF32, chacha),
        (FastModel::Ising(&sp), Engine::Lanes, chacha), // 70 chains: 4 full blocks + 6 lanes
        (
            FastModel::Ising(&sp),
            Engine::Lanes,
            Generator::Xoshiro128Plus,
        ),
        (FastModel::Rbm(&rbm), Engine::Dense, chacha),
        (
            FastModel::Rbm(&rbm),
            Engine::Dense,
            Generator::Xoshiro128Plus,
        ),
    ];
    for (model, engine, generator) in cases {
        for kind in KINDS {
            let n = model.ising().n_spins();
            let go = || {
                let mut s = FastSampler::with_engine(model, kind, None, 70, 123, engine).unwrap();
                s.set_generator(generator).unwrap();
                let mut b = ChainBatch::uniform(70, n, 5);
                s.sweep(&mut b, 20).unwrap();
                s.sweep(&mut b, 7).unwrap();
                b
            };
            let one = run_in_pool(1, go);
            let two = run_in_pool(2, go);
            assert_eq!(
                one,
                two,
                "{} {kind}: thread count changed the samples",
                engine.name()
            );
            // On AVX-512 under BLK-ALT the lanes engine runs its 5 blocks in pairs with 1 or 2
            // threads (at least two blocks per thread) and one by one with 3.
            let three = run_in_pool(3, go);
            assert_eq!(
                one,
                three,
                "{} {kind}: 3 threads changed the samples",
                engine.name()
            );
            let again = run_in_pool(2, go);
            assert_eq!(two, again, "{} {kind}: not reproducible", engine.name());
        }
    }
}

#[test]
fn lattice_simd_and_portable_kernels_agree() {
    // Runs of 105 = 3·32 + 9 and 54 = 32 + 16 + 6 sites per kernel call exercise the 32-wide,
    // 16-wide and tail paths; 130×6 has a run of 195 sites. Rows of 16, 64 and 32 sites
    // (32×8, 128×6, 64×10: 64, 192 and 160 = 2·64 + 32 sites per call) take the row wrap in
    // registers on AVX-512, the last with a tail.
    for (lx, ly) in [(70, 6), (36, 6), (130, 6), (32, 8), (128, 6), (64, 10)] {
        let lat = builders::lattice_2d(lx, ly, 0.4, 0.1, 1.0).unwrap();
        let make = |kind, g| with_generator(&lat, kind, 4, 1, Engine::Lattice, g);
        if !every_kernel_simd_matches_portable(&make, 50, &format!("lattice {lx}x{ly}")) {
            return;
        }
    }
    eprintln!(
        "RAN: lattice_simd_and_portable_kernels_agree compared the AVX2 kernels with the portable ones"
    );
}

#[test]
fn engine_selection_and_errors() {
    let lat = builders::lattice_2d(8, 8, 0.4, 0.0, 1.0).unwrap();
    let s = FastSampler::new(&lat, KernelKind::BlkSym, None, 2, 0).unwrap();
    assert_eq!(s.engine(), Engine::Lattice);
    // Non-uniform couplings: sparse.
    let mut j = lat.couplings().to_vec();
    j[3] = 0.1;
    let irregular = IsingModel::new(lat.graph().clone(), j, lat.biases().to_vec(), 1.0).unwrap();
    let s = FastSampler::new(&irregular, KernelKind::BlkSym, None, 2, 0).unwrap();
    assert_eq!(s.engine(), Engine::Sparse);
    // With a full lane block of chains: lanes.
    let s = FastSampler::new(&irregular, KernelKind::BlkSym, None, 16, 0).unwrap();
    assert_eq!(s.engine(), Engine::Lanes);
    assert!(matches!(
        FastSampler::with_engine(&irregular, KernelKind::BlkAlt, None, 2, 0, Engine::Lattice),
        Err(SamplerError::Invalid { .. })
    ));
    // Dense needs an Rbm.
    assert!(FastSampler::with_engine(&lat, KernelKind::BlkAlt, None, 2, 0, Engine::Dense).is_err());
    // Single-site kernels are not block kernels.
    assert!(FastSampler::new(&lat, KernelKind::Rs1, None, 2, 0).is_err());
    assert!(FastSampler::new(&lat, KernelKind::BlkAlt, None, 0, 0).is_err());
    // A colouring of another graph (wrong length).
    let bad = Coloring::greedy(builders::lattice_2d(4, 4, 1.0, 0.0, 1.0).unwrap().graph());
    assert!(FastSampler::new(&lat, KernelKind::BlkAlt, Some(bad), 2, 0).is_err());
    // The fast generator exists on the lanes, lattice and dense engines only.
    let mut s = FastSampler::new(&irregular, KernelKind::BlkAlt, None, 2, 0).unwrap();
    assert_eq!(s.engine(), Engine::Sparse);
    assert!(s.set_generator(Generator::ChaCha8).is_ok());
    assert!(matches!(
        s.set_generator(Generator::Xoshiro128Plus),
        Err(SamplerError::Invalid { ref field, .. }) if field == "generator"
    ));
    assert_eq!(s.generator(), Generator::ChaCha8);
    // Wrong batch shape.
    let mut s = FastSampler::new(&lat, KernelKind::BlkAlt, None, 2, 0).unwrap();
    let mut b = ChainBatch::uniform(3, 64, 0);
    assert!(s.sweep(&mut b, 1).is_err());
}

/// The lanes engine's block pairs with a partial second block (24 chains: 16 + 8 lanes, paired on
/// one thread under BLK-ALT on an AVX-512 CPU, alone on three) give the samples of lone blocks.
#[test]
fn lanes_pairs_with_a_partial_block_keep_the_samples() {
    let sp = builders::random_sparse(30, 0.2, 0.5, 0.2, 1.0, 2);
    for generator in GENERATORS {
        let go = || {
            let mut s = FastSampler::with_engine(
                FastModel::Ising(&sp),
                KernelKind::BlkAlt,
                None,
                24,
                77,
                Engine::Lanes,
            )
            .unwrap();
            s.set_generator(generator).unwrap();
            let mut b = ChainBatch::uniform(24, 30, 3);
            s.sweep(&mut b, 13).unwrap();
            b
        };
        let one = run_in_pool(1, go);
        assert_eq!(one, run_in_pool(3, go), "{}", generator.name());
    }
}
