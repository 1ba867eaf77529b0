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
use thermoq_bench::sampler::{self, Plan, Setting};
use thermoq_samplers::KernelKind;

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
    /// Only these cases (ising-32, ising-128, rbm-784x256, dtm-60_12, pt-dtm-60_12); default all.
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

/// The build profile (`dev` or `release`); on `dev` a note on stderr (unless `json`) says how to
/// get honest numbers for `bench <what>`.
pub fn profile(what: &str, json: bool) -> &'static str {
    if !cfg!(debug_assertions) {
        return "release";
    }
    if !json {
        eprintln!(
            "note: built without --release (dev profile, debug assertions on); for honest numbers \
             run `cargo run --release -p xtask -- bench {what}`"
        );
    }
    "dev"
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
    let kind = KernelKind::parse(&args.kernel)?;
    if !kind.is_block() {
        bail!("--kernel {kind}: expected a block kernel (blk-alt, blk-sym, blk-rs)");
    }
    let plan = Plan {
        at: Setting {
            kind,
            reps: if args.quick { 3 } else { args.reps.max(3) },
            threads,
            profile: profile("sampler", args.json),
        },
        quick: args.quick,
        only: &args.cases,
        reference: args.reference,
        sparse: args.sparse,
        bounds: !args.no_bounds,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let rows = pool.install(|| sampler::run(&plan))?;
    for r in &rows {
        println!("{r}");
    }
    if !args.json {
        eprint!("\n{}", sampler::summary(&rows));
    }
    Ok(())
}
