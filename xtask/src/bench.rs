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
//! The cases and measurements are [`thermoq_bench::sampler`]; this file parses the arguments and
//! prints the rows and the table.
//!
//! Build with `--release` for honest numbers (`cargo xtask bench` warns when it is not):
//! `cargo run --release -p xtask -- bench sampler`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use thermoq_bench::sampler::{
    CASE_NAMES, Setting, add_bound_fractions, bench_fast, bench_reference, bounds, cases,
};
use thermoq_samplers::KernelKind;
use thermoq_samplers::fast::{Engine, Generator};

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
        let at = Setting {
            kind,
            reps,
            threads,
            profile,
        };
        for (engine, generator) in runs {
            rows.push(bench_fast(case, engine, generator, at)?);
        }
        if args.reference {
            rows.push(bench_reference(case, at)?);
        }
    }
    if !args.no_bounds {
        rows.extend(bounds(args.quick, reps, threads)?);
        add_bound_fractions(&mut rows);
    }
    for r in &rows {
        println!("{r}");
    }
    if !args.json {
        eprintln!(
            "\n{:<14} {:<10} {:<12} {:>14} {:>9} {:>9}",
            "case", "engine", "generator", "updates/s", "seconds", "of bound"
        );
        for r in rows.iter().filter(|r| r.get("updates_per_s").is_some()) {
            let of_bound = r["bound_fraction"]
                .as_f64()
                .map_or("-".into(), |f| format!("{f:.2}"));
            eprintln!(
                "{:<14} {:<10} {:<12} {:>14.3e} {:>9.3} {:>9}",
                r["case"].as_str().unwrap_or("?"),
                r["engine"].as_str().unwrap_or("?"),
                r["generator"].as_str().unwrap_or("-"),
                r["updates_per_s"].as_f64().unwrap_or(0.0),
                r["seconds"].as_f64().unwrap_or(0.0),
                of_bound
            );
        }
    }
    Ok(())
}
