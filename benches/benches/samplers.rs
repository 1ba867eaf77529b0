//! Criterion benchmarks of the p-bit array on the PEERS.md cases: reference `BatchSampler`
//! against the fast engines of `thermoq_samplers::fast`, and parallel tempering (`FastPt`) on the
//! 60_12 DTM layer.
//!
//! Cases: periodic 2D Ising 32×32 and 128×128 (`J = 0.4`, `h = 0`, `β = 1`, checkerboard
//! `blk-alt`), RBM 784×256 (`W ~ N(0, 0.01²)`, zero biases, visible/hidden `blk-alt`); 64 chains.
//! Each iteration is one sweep of all 64 chains for the reference sampler and
//! [`FAST_SWEEPS`] sweeps for the fast engines (a call converts the batch to the engine's layout
//! and back, which one sweep would not amortize); throughput is reported in spin updates. Measurement times are short so the whole file runs in
//! about two minutes; `cargo xtask bench sampler` gives the headline numbers (median of repeated
//! long runs).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use thermoq_core::Coloring;
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};
use thermoq_samplers::fast::{Engine, FastModel, FastSampler, Generator};
use thermoq_samplers::{BatchSampler, ChainBatch, GibbsKernel, KernelKind};

const CHAINS: usize = 64;
const KIND: KernelKind = KernelKind::BlkAlt;
/// Sweeps per iteration of the fast engines.
const FAST_SWEEPS: usize = 10;

fn reference(c: &mut Criterion, name: &str, model: &IsingModel, coloring: Option<Coloring>) {
    let n = model.n_spins();
    let k = GibbsKernel::new(KIND, model.graph(), coloring).expect("block kernel");
    let mut s = BatchSampler::new(model, &k, CHAINS, 1);
    let mut batch = ChainBatch::uniform(CHAINS, n, 1);
    let mut g = c.benchmark_group("sampler");
    g.throughput(Throughput::Elements((n * CHAINS) as u64));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new(name, "reference"), |b| {
        b.iter(|| s.sweep(&mut batch, 1).expect("shapes match"))
    });
    g.finish();
}

/// Times `FAST_SWEEPS` sweeps of `CHAINS` chains of `n` spins per iteration, as
/// `sampler/<name>/<label>`.
fn time_sweeps(
    c: &mut Criterion,
    name: &str,
    label: &str,
    n: usize,
    mut sweep: impl FnMut(&mut ChainBatch, usize),
) {
    let mut batch = ChainBatch::uniform(CHAINS, n, 1);
    let mut g = c.benchmark_group("sampler");
    g.throughput(Throughput::Elements((n * CHAINS * FAST_SWEEPS) as u64));
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new(name, label), |b| {
        b.iter(|| sweep(&mut batch, FAST_SWEEPS))
    });
    g.finish();
}

fn fast(c: &mut Criterion, name: &str, model: FastModel<'_>, engine: Engine) {
    let n = model.ising().n_spins();
    let mut s =
        FastSampler::with_engine(model, KIND, None, CHAINS, 1, engine).expect("engine applies");
    let label = s.engine().name();
    time_sweeps(c, name, label, n, |b, k| {
        s.sweep(b, k).expect("shapes match")
    });
}

/// A fast engine with its fast comparison bytes (`xoshiro128+`), as
/// `sampler/<name>/<engine>-xoshiro128+` (the lattice and dense engines).
fn fast_xoshiro(c: &mut Criterion, name: &str, model: FastModel<'_>, engine: Engine) {
    let n = model.ising().n_spins();
    let mut s =
        FastSampler::with_engine(model, KIND, None, CHAINS, 1, engine).expect("engine applies");
    s.set_generator(Generator::Xoshiro128Plus)
        .expect("the engine takes xoshiro128+");
    let label = format!("{}-xoshiro128+", s.engine().name());
    time_sweeps(c, name, &label, n, |b, k| {
        s.sweep(b, k).expect("shapes match")
    });
}

/// The conditioned engine (per-chain β and fields, as DTM training and PT use it) on a 60_12 DTM
/// layer with random weights: 4 blocks, all free, per-chain β spread over [0.5, 1].
fn conditioned(c: &mut Criterion) {
    use std::sync::Arc;
    use thermoq_models::dtm::{DtmLayer, DtmLayout, ForwardProcess, TorusGrid, VisibleSpec};
    use thermoq_samplers::fast::conditioned::ConditionedSampler;
    let grid = TorusGrid::named("60_12").expect("preset");
    let spec = VisibleSpec {
        n_image: 784,
        n_classes: 10,
        label_spots: 5,
    };
    let layout = Arc::new(DtmLayout::new(grid, spec, 0).expect("layout"));
    let mut layer = DtmLayer::new(layout, &ForwardProcess::default(), 0, 1.0).expect("layer");
    let mut r = thermoq_core::rng::chain_rng(7, 0);
    let theta: Vec<f64> = (0..layer.n_params())
        .map(|_| 0.2 * (rand::RngExt::random::<f64>(&mut r) - 0.5))
        .collect();
    layer.set_params(&theta).expect("params");
    let n = layer.graph().n();
    let mut s = ConditionedSampler::new(layer.learned(), layer.coloring(), KIND, CHAINS, 1)
        .expect("sampler");
    let betas: Vec<f64> = (0..CHAINS)
        .map(|k| 0.5 + 0.5 * k as f64 / (CHAINS - 1) as f64)
        .collect();
    s.set_betas(&betas).expect("betas");
    time_sweeps(c, "dtm-60_12", "conditioned", n, |b, k| {
        s.sweep(b, k).expect("shapes match")
    });
    // Recording states as DTM training does (a draw every 5 sweeps, `x_i` and `x_i x_j` of every
    // edge per chain): per 16-chain block in the lanes layout with exact lane sums
    // (`sampler/dtm-60_12/record-per-block`, what `DtmRun` runs) and per chain through
    // `SpinMoments` (`…/record-per-chain`, what it ran before).
    {
        use thermoq_samplers::SpinMoments;
        use thermoq_samplers::fast::conditioned::{BlockObserver, BlockView, LaneMoments};
        struct PerBlock(LaneMoments);
        impl BlockObserver for PerBlock {
            fn observe(&mut self, _draw: usize, block: &BlockView<'_>) {
                self.0.add(block);
            }
        }
        struct PerChain<'a>(SpinMoments, &'a [(u32, u32)]);
        impl thermoq_samplers::Observer for PerChain<'_> {
            fn observe(&mut self, _sweep: usize, x: &[thermoq_core::Spin]) {
                let edges = self.1.iter().map(|&(i, j)| (i as usize, j as usize));
                self.0.add(x, edges);
            }
            fn merge(&mut self, _o: Self) {}
        }
        let edges: Arc<[(u32, u32)]> = layer
            .graph()
            .edges()
            .map(|(i, j)| (i as u32, j as u32))
            .collect();
        let proto = LaneMoments::new(n, edges.clone()).expect("edges");
        time_sweeps(c, "dtm-60_12", "record-per-block", n, |b, k| {
            s.run_per_block(b, 0, k / 5, 5, |_| PerBlock(proto.clone()))
                .expect("shapes match");
        });
        time_sweeps(c, "dtm-60_12", "record-per-chain", n, |b, k| {
            s.run_per_chain(b, 0, k / 5, 5, |_| {
                PerChain(SpinMoments::new(n, edges.len()), &edges)
            })
            .expect("shapes match");
        });
    }
    // The same layer (learned couplings and biases, β = 1) on the chain-interleaved lanes
    // engine with each comparison-word generator: `sampler/dtm-60_12/lanes` (ChaCha8) and
    // `sampler/dtm-60_12/lanes-xoshiro128+`.
    for g in [Generator::ChaCha8, Generator::Xoshiro128Plus] {
        fast_colored(
            c,
            "dtm-60_12",
            layer.learned(),
            layer.coloring().clone(),
            Engine::Lanes,
            g,
        );
    }
    // Parallel tempering on the same layer: PT-DEO, 4 chains × 16 rungs (the 64 slots of the
    // cases above), geometric ladder down to α = 0.25, `FastPt::advance` (slots resident in the
    // lanes layout, energies carried by the sweep, each block on its own):
    // `sampler/dtm-60_12/pt-deo-16`.
    use thermoq_samplers::pt::{FastPt, Ladder, SwapScheme};
    let ladder = Ladder::geometric(16, 0.25).expect("ladder");
    let mut p = FastPt::new(
        layer.learned(),
        layer.coloring(),
        KIND,
        ladder,
        SwapScheme::PtDeo,
        CHAINS / 16,
        1,
    )
    .expect("pt");
    time_sweeps(c, "dtm-60_12", "pt-deo-16", n, |_, k| {
        p.advance(k, false).expect("pt sweeps")
    });
}

/// As [`fast`] for an Ising model with a given colouring.
fn fast_colored(
    c: &mut Criterion,
    name: &str,
    model: &IsingModel,
    col: Coloring,
    engine: Engine,
    generator: Generator,
) {
    let n = model.n_spins();
    let mut s = FastSampler::with_engine(model, KIND, Some(col), CHAINS, 1, engine)
        .expect("engine applies");
    s.set_generator(generator).expect("generator applies");
    let label = match generator {
        Generator::ChaCha8 => s.engine().name().to_string(),
        g => format!("{}-{}", s.engine().name(), g.name()),
    };
    time_sweeps(c, name, &label, n, |b, k| {
        s.sweep(b, k).expect("shapes match")
    });
}

/// The chains' ChaCha8 refill (4 KiB of one stream): the engines' block function
/// (`fill_chacha8`, AVX-512 where available) against `rand_chacha`'s `fill_bytes` (the same
/// bytes).
fn chacha8_fill(c: &mut Criterion) {
    use rand::Rng;
    let mut g = c.benchmark_group("rng/chacha8-fill-4k");
    g.throughput(Throughput::Bytes(4096));
    g.measurement_time(Duration::from_secs(2));
    let mut buf = [0u8; 4096];
    let mut r = thermoq_core::rng::chain_rng(1, 0);
    g.bench_function("thermoq", |b| {
        b.iter(|| thermoq_samplers::fast::fill_chacha8(&mut r, &mut buf))
    });
    let mut r = thermoq_core::rng::chain_rng(1, 0);
    g.bench_function("rand_chacha", |b| b.iter(|| r.fill_bytes(&mut buf)));
    g.finish();
}

fn bench_samplers(c: &mut Criterion) {
    chacha8_fill(c);
    conditioned(c);
    for l in [32usize, 128] {
        let model = builders::lattice_2d(l, l, 0.4, 0.0, 1.0).expect("valid lattice");
        let name = format!("ising-{l}");
        reference(c, &name, &model, None);
        fast(c, &name, FastModel::Ising(&model), Engine::Sparse);
        fast(c, &name, FastModel::Ising(&model), Engine::SparseF32);
        fast(c, &name, FastModel::Ising(&model), Engine::Lattice);
        fast_xoshiro(c, &name, FastModel::Ising(&model), Engine::Lattice);
    }
    let rbm = Rbm::random(784, 256, 0.01, 1.0, 2026).expect("valid rbm");
    let col = Coloring::from_colors(rbm.as_ising().graph(), rbm.two_block_colors())
        .expect("two-block colouring");
    reference(c, "rbm-784x256", rbm.as_ising(), Some(col));
    fast(c, "rbm-784x256", FastModel::Rbm(&rbm), Engine::Sparse);
    fast(c, "rbm-784x256", FastModel::Rbm(&rbm), Engine::Dense);
    fast_xoshiro(c, "rbm-784x256", FastModel::Rbm(&rbm), Engine::Dense);
}

criterion_group!(benches, bench_samplers);
criterion_main!(benches);
