//! `cargo xtask bench sampler`: spin updates per second of the p-bit array on the PEERS.md cases,
//! plus the machine bounds that limit them (ChaCha8 byte rate, the lanes engine's xoshiro128+ word
//! rate, memory bandwidth, `f32` GEMM rate).
//!
//! Cases (PEERS.md): periodic 2D Ising 32×32 and 128×128, `J = 0.4`, `h = 0`, `β = 1`,
//! checkerboard 2-colour block Gibbs; RBM 784 × 256, `W ~ N(0, 0.01²)`, zero biases, 2-block Gibbs;
//! the negative-phase conditional of a `60_12` DTM layer (the `bench peers` model, its 4 blocks)
//! on the lanes engine with each comparison-word generator (ChaCha8, xoshiro128+); 64 chains
//! each. Kernel `blk-alt` (fixed colour order, what thrml runs) unless `--kernel` says
//! otherwise. Each measurement: one warm-up, then the median of `--reps` (≥ 3) timed repetitions;
//! `updates_per_s = sweeps × spins × chains / seconds`. One JSON line per case on stdout.
//!
//! Build with `--release` for honest numbers (`cargo xtask bench` warns when it is not):
//! `cargo run --release -p xtask -- bench sampler`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use rand::Rng;
use rayon::prelude::*;
use serde_json::json;
use std::time::Instant;
use thermoq_core::Coloring;
use thermoq_models::dtm::VisibleSpec;
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};
use thermoq_samplers::fast::{Engine, FastSampler, Generator};
use thermoq_samplers::{BatchSampler, ChainBatch, GibbsKernel, KernelKind};

/// `cargo xtask bench <what>`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub cmd: BenchCmd,
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Sampler throughput (spin updates/s) on the PEERS.md cases, and the machine's bounds.
    Sampler(SamplerBenchArgs),
    /// Exact spectral analysis: dense RS1 analysis (N = 10, 12, 13) and matrix-free Poisson
    /// solves (N = 16, 20, 22), beside numpy's eigh on the same matrices where Python is available.
    Spectral(crate::bench_spectral::SpectralBenchArgs),
    /// thermoq and thrml 0.1.4 (CPU JAX) side by side on identical models, alternating, with
    /// ratios; plus a moment cross-check of both against exact enumeration.
    Peers(crate::bench_peers::PeersBenchArgs),
    /// thermoq called from Python against thrml 0.1.4 and against the Rust bench loop, same run
    /// (builds the release package into target/py-venv).
    Python(crate::bench_python::PythonBenchArgs),
}

/// Options of `bench sampler`.
#[derive(Args, Debug, Clone)]
pub struct SamplerBenchArgs {
    /// Print only the JSON lines (no human-readable summary on stderr).
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Fewer sweeps and 3 repetitions (a smoke run, noisier).
    #[arg(long)]
    pub quick: bool,
    /// Timed repetitions per case (median reported; at least 3).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Block kernel: blk-alt, blk-sym or blk-rs.
    #[arg(long, default_value = "blk-alt")]
    pub kernel: String,
    /// Only these cases (ising-32, ising-128, rbm-784x256, dtm-60_12); default all.
    #[arg(long = "case")]
    pub cases: Vec<String>,
    /// Also time the reference `BatchSampler` (slow; fewer sweeps).
    #[arg(long)]
    pub reference: bool,
    /// Also time the generic sparse engine and the chain-interleaved lanes engine on every case.
    #[arg(long)]
    pub sparse: bool,
    /// Skip the machine-bound measurements (RNG, memory bandwidth, GEMM).
    #[arg(long)]
    pub no_bounds: bool,
}

/// Dispatches `bench …`.
pub fn run(args: &BenchArgs) -> Result<()> {
    match &args.cmd {
        BenchCmd::Sampler(a) => run_sampler_bench(a),
        BenchCmd::Spectral(a) => crate::bench_spectral::run_spectral_bench(a),
        BenchCmd::Peers(a) => crate::bench_peers::run_peers_bench(a),
        BenchCmd::Python(a) => crate::bench_python::run_python_bench(a),
    }
}

enum CaseModel {
    Ising(IsingModel),
    Rbm(Rbm),
}

impl CaseModel {
    fn ising(&self) -> &IsingModel {
        match self {
            Self::Ising(m) => m,
            Self::Rbm(r) => r.as_ising(),
        }
    }
}

struct Case {
    name: &'static str,
    model: CaseModel,
    /// `None`: the engine's default (checkerboard / the RBM's two layers).
    coloring: Option<Coloring>,
    /// Engines and generators timed; `Auto` is what `FastSampler::new` picks.
    runs: Vec<(Engine, Generator)>,
    sweeps: usize,
}

const CHAINS: usize = 64;
const SEED: u64 = 2026;

const CASE_NAMES: &str = "ising-32, ising-128, rbm-784x256, dtm-60_12";

fn cases(quick: bool) -> Result<Vec<Case>> {
    let q = if quick { 4 } else { 1 };
    let auto = vec![(Engine::Auto, Generator::ChaCha8)];
    let spec = VisibleSpec {
        n_image: 784,
        n_classes: 10,
        label_spots: 5,
    };
    let (dtm, dtm_coloring) = crate::bench_peers::dtm_case("60_12", spec, 0.1, SEED)?;
    Ok(vec![
        Case {
            name: "ising-32",
            model: CaseModel::Ising(builders::lattice_2d(32, 32, 0.4, 0.0, 1.0)?),
            coloring: None,
            runs: auto.clone(),
            sweeps: 8000 / q,
        },
        Case {
            name: "ising-128",
            model: CaseModel::Ising(builders::lattice_2d(128, 128, 0.4, 0.0, 1.0)?),
            coloring: None,
            runs: auto.clone(),
            sweeps: 500 / q,
        },
        Case {
            name: "rbm-784x256",
            model: CaseModel::Rbm(Rbm::random(784, 256, 0.01, 1.0, SEED)?),
            coloring: None,
            runs: auto,
            sweeps: 1000 / q,
        },
        Case {
            name: "dtm-60_12",
            model: CaseModel::Ising(dtm),
            coloring: Some(dtm_coloring),
            runs: vec![
                (Engine::Lanes, Generator::ChaCha8),
                (Engine::Lanes, Generator::Xoshiro128Plus),
            ],
            sweeps: 400 / q,
        },
    ])
}

/// Median of the timed repetitions, after one warm-up call.
fn time_median(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, Vec<f64>)> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64());
    }
    let mut sorted = t.clone();
    sorted.sort_by(f64::total_cmp);
    Ok((sorted[sorted.len() / 2], t))
}

/// Runs `bench sampler`.
pub fn run_sampler_bench(args: &SamplerBenchArgs) -> Result<()> {
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        bail!("--threads 0: expected at least 1");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| sampler_bench_in_pool(args, threads))
}

fn sampler_bench_in_pool(args: &SamplerBenchArgs, threads: usize) -> Result<()> {
    let kind = KernelKind::parse(&args.kernel)?;
    if !kind.is_block() {
        bail!("--kernel {kind}: expected a block kernel (blk-alt, blk-sym, blk-rs)");
    }
    let reps = if args.quick { 3 } else { args.reps.max(3) };
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    if profile == "dev" && !args.json {
        eprintln!(
            "note: built without --release (dev profile, debug assertions on); for honest numbers \
             run `cargo run --release -p xtask -- bench sampler`"
        );
    }
    let all = cases(args.quick)?;
    for a in &args.cases {
        if !all.iter().any(|c| c.name == a) {
            bail!("--case {a:?}: expected one of {CASE_NAMES}");
        }
    }
    let mut rows = Vec::new();
    for case in all
        .iter()
        .filter(|c| args.cases.is_empty() || args.cases.iter().any(|a| a == c.name))
    {
        let mut runs = case.runs.clone();
        if args.sparse {
            for e in [Engine::Sparse, Engine::Lanes] {
                if !runs.contains(&(e, Generator::ChaCha8)) {
                    runs.push((e, Generator::ChaCha8));
                }
            }
        }
        for (engine, generator) in runs {
            rows.push(bench_fast(
                case, kind, engine, generator, reps, threads, profile,
            )?);
        }
        if args.reference {
            rows.push(bench_reference(case, kind, reps, threads, profile)?);
        }
    }
    if !args.no_bounds {
        rows.extend(bounds(args.quick, reps, threads)?);
    }
    for r in &rows {
        println!("{r}");
    }
    if !args.json {
        eprintln!(
            "\n{:<14} {:<10} {:<12} {:>14} {:>9}",
            "case", "engine", "generator", "updates/s", "seconds"
        );
        for r in rows.iter().filter(|r| r.get("updates_per_s").is_some()) {
            eprintln!(
                "{:<14} {:<10} {:<12} {:>14.3e} {:>9.3}",
                r["case"].as_str().unwrap_or("?"),
                r["engine"].as_str().unwrap_or("?"),
                r["generator"].as_str().unwrap_or("-"),
                r["updates_per_s"].as_f64().unwrap_or(0.0),
                r["seconds"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn bench_fast(
    case: &Case,
    kind: KernelKind,
    engine: Engine,
    generator: Generator,
    reps: usize,
    threads: usize,
    profile: &str,
) -> Result<serde_json::Value> {
    let n = case.model.ising().n_spins();
    let c = case.coloring.clone();
    let mut s = match &case.model {
        CaseModel::Ising(m) => FastSampler::with_engine(m, kind, c, CHAINS, SEED, engine)?,
        CaseModel::Rbm(r) => FastSampler::with_engine(r, kind, c, CHAINS, SEED, engine)?,
    };
    s.set_generator(generator)?;
    let mut batch = ChainBatch::uniform(CHAINS, n, SEED);
    let sweeps = if s.engine() == Engine::Sparse {
        (case.sweeps / 8).max(1)
    } else {
        case.sweeps
    };
    let (sec, all) = time_median(reps, || Ok(s.sweep(&mut batch, sweeps)?))?;
    let mut r = row(
        case.name,
        s.engine().name(),
        kind,
        n,
        sweeps,
        sec,
        &all,
        threads,
        profile,
    );
    r["generator"] = s.generator().name().into();
    Ok(r)
}

fn bench_reference(
    case: &Case,
    kind: KernelKind,
    reps: usize,
    threads: usize,
    profile: &str,
) -> Result<serde_json::Value> {
    let m = case.model.ising();
    let n = m.n_spins();
    let coloring = match &case.model {
        CaseModel::Rbm(r) => Some(thermoq_core::Coloring::from_colors(
            m.graph(),
            r.two_block_colors(),
        )?),
        CaseModel::Ising(_) => None,
    };
    let k = GibbsKernel::new(kind, m.graph(), coloring.or_else(|| case.coloring.clone()))?;
    let mut s = BatchSampler::new(m, &k, CHAINS, SEED);
    let mut batch = ChainBatch::uniform(CHAINS, n, SEED);
    let sweeps = (case.sweeps / 16).max(1);
    let (sec, all) = time_median(reps, || Ok(s.sweep(&mut batch, sweeps)?))?;
    Ok(row(
        case.name,
        "reference",
        kind,
        n,
        sweeps,
        sec,
        &all,
        threads,
        profile,
    ))
}

#[allow(clippy::too_many_arguments)]
fn row(
    case: &str,
    engine: &str,
    kind: KernelKind,
    n: usize,
    sweeps: usize,
    sec: f64,
    all: &[f64],
    threads: usize,
    profile: &str,
) -> serde_json::Value {
    json!({
        "case": case,
        "updates_per_s": (sweeps * n * CHAINS) as f64 / sec,
        "chains": CHAINS,
        "sweeps": sweeps,
        "spins": n,
        "threads": threads,
        "seconds": sec,
        "seconds_all": all,
        "kernel": kind.name(),
        "engine": engine,
        "profile": profile,
    })
}

/// The machine's bounds: ChaCha8 bytes/s (one stream per thread, bulk `fill_bytes`), memory read
/// bandwidth (parallel sum over 256 MiB), and faer `f32` GEMM rate (square 1024 and the RBM
/// half-sweep shapes 256×784·784×64 and 784×256·256×64).
fn bounds(quick: bool, reps: usize, threads: usize) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    // RNG: each thread fills a 4 KiB buffer repeatedly from its own ChaCha8 stream.
    let per_thread: usize = if quick { 64 << 20 } else { 256 << 20 };
    let (sec, _) = time_median(reps, || {
        let sink: u64 = (0..threads)
            .into_par_iter()
            .map(|t| {
                let mut r = thermoq_core::rng::chain_rng(1, t as u64);
                let mut buf = [0u8; 4096];
                let mut acc = 0u64;
                for _ in 0..per_thread / buf.len() {
                    r.fill_bytes(&mut buf);
                    acc = acc.wrapping_add(u64::from(buf[17]));
                }
                acc
            })
            .sum();
        std::hint::black_box(sink);
        Ok(())
    })?;
    out.push(json!({
        "case": "bound-chacha8",
        "bytes_per_s": (per_thread * threads) as f64 / sec,
        "threads": threads,
        "seconds": sec,
    }));
    // The lanes engine's xoshiro128+ comparison words (one 24-bit word per update), 4 blocks of
    // 16 lanes as in the 64-chain cases.
    let per_lane: usize = if quick { 1 << 20 } else { 1 << 22 };
    let (sec, _) = time_median(reps, || {
        std::hint::black_box(thermoq_samplers::fast::probe_xoshiro_words(4, per_lane));
        Ok(())
    })?;
    out.push(json!({
        "case": "bound-xoshiro128p-lanes",
        "words_per_s": (4 * 16 * per_lane) as f64 / sec,
        "threads": threads,
        "seconds": sec,
    }));
    // Memory bandwidth: sum a 256 MiB array of u64 in parallel.
    let words = if quick { 8 << 20 } else { 32 << 20 };
    let data: Vec<u64> = (0..words as u64).collect();
    let (sec, _) = time_median(reps, || {
        let s: u64 = data
            .par_chunks(1 << 16)
            .map(|c| c.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
            .sum();
        std::hint::black_box(s);
        Ok(())
    })?;
    out.push(json!({
        "case": "bound-memory-read",
        "bytes_per_s": (words * 8) as f64 / sec,
        "threads": threads,
        "seconds": sec,
    }));
    drop(data);
    // GEMM.
    for (name, m, k, n, times) in [
        (
            "bound-gemm-f32-1024",
            1024,
            1024,
            1024,
            if quick { 2 } else { 8 },
        ),
        (
            "bound-gemm-f32-256x784x64",
            256,
            784,
            64,
            if quick { 50 } else { 400 },
        ),
        (
            "bound-gemm-f32-784x256x64",
            784,
            256,
            64,
            if quick { 50 } else { 400 },
        ),
    ] {
        let a = Mat::<f32>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let b = Mat::<f32>::from_fn(k, n, |i, j| ((i * 5 + j) % 3) as f32 - 1.0);
        let mut c = Mat::<f32>::zeros(m, n);
        let (sec, _) = time_median(reps, || {
            for _ in 0..times {
                matmul(
                    c.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    b.as_ref(),
                    1.0,
                    Par::rayon(0),
                );
            }
            Ok(())
        })?;
        out.push(json!({
            "case": name,
            "flops_per_s": (2 * m * k * n * times) as f64 / sec,
            "shape": [m, k, n],
            "threads": threads,
            "seconds": sec,
        }));
    }
    Ok(out)
}
