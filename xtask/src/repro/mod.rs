//! `cargo xtask repro` and `cargo xtask merge`: the experiments, their presets and shared options.

mod drive;
mod dtm;

use crate::runner::{OpenPolicy, RunDir, Shard, merge_shards};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use drive::drive;
use std::path::PathBuf;
use thermoq_repro::{RunConfig, exp1::Exp1, exp2::Exp2, exp5::Exp5};

/// Which experiment to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Experiment {
    /// Exact-diagonalization grid: 48 cells, naive vs one-gap vs struct-perp (SCIENCE II.6).
    Exp1,
    /// Planted RBMs under single-site and block Gibbs: checks P1–P4 (SCIENCE §2.2).
    Exp2,
    /// γ_eff against multimodality on planted RBMs, exact (SCIENCE §2.5).
    Exp5,
    /// The reversibility–mixing wall on a trained DTM: τ vs L, PT ladders, R* (SCIENCE §2.4, §2.10).
    Dtm,
}

impl Experiment {
    /// Folder / report name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Exp1 => "exp1",
            Self::Exp2 => "exp2",
            Self::Exp5 => "exp5",
            Self::Dtm => "dtm",
        }
    }
}

pub use thermoq_repro::Preset;

/// Options shared by every reproduction.
#[derive(Args, Clone, Debug)]
pub struct ReproArgs {
    /// The experiment.
    #[arg(value_enum)]
    pub experiment: Experiment,
    /// Preset size.
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    /// Output folder (default `target/runs/<experiment>/<timestamp>/`). Re-using a folder made
    /// by the same experiment, preset, seed and revision resumes it; any other folder is refused.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only the cells `i, i+n, …` of this shard (`i/n`); merge shards with `cargo xtask
    /// merge`. `auto` (or `auto/n`) takes the shard from a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID`, `…_COUNT` or `…_MIN`/`…_MAX`) or a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`, count `n`).
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// When `--out` holds a run made with another experiment, preset, seed or revision, start a
    /// fresh sub-run in `<out>/subruns/…` instead of refusing.
    #[arg(long)]
    pub subrun: bool,
    /// Recompute cells whose file is damaged or altered (checksum mismatch) instead of refusing.
    #[arg(long)]
    pub recompute_damaged: bool,
    /// Set by `merge`: every cell must already be stored.
    #[arg(skip)]
    pub merge_only: bool,
}

impl ReproArgs {
    /// Runs the experiment.
    pub fn run(&self) -> Result<()> {
        if self.preset == Preset::Tiny && self.experiment != Experiment::Exp1 {
            bail!("--preset tiny exists only for exp1 (a few seconds of cells, for tests)");
        }
        let dir = RunDir::open(
            self.experiment.name(),
            self.preset.name(),
            self.seed,
            self.out.as_deref(),
            OpenPolicy {
                subrun: self.subrun,
                recompute_damaged: self.recompute_damaged,
                merge_only: self.merge_only,
            },
        )?;
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let config = RunConfig::new(self.preset, self.seed);
        match self.experiment {
            Experiment::Exp1 => drive(&Exp1::new(config), &dir, self.shard, threads),
            Experiment::Exp2 => drive(&Exp2::new(config), &dir, self.shard, threads),
            Experiment::Exp5 => drive(&Exp5::new(config), &dir, self.shard, threads),
            Experiment::Dtm => dtm::run(&dir, self.preset, self.seed, self.shard, threads),
        }
    }
}

/// `cargo xtask merge`.
#[derive(Args, Clone, Debug)]
pub struct MergeArgs {
    /// The experiment the shards belong to.
    #[arg(value_enum)]
    pub experiment: Experiment,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Shard folders (their preset, seed, revision and cell grid must agree; read from them).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

impl MergeArgs {
    /// Checks and gathers the shards' cells, then assembles the report from them (computing
    /// nothing; a missing cell is an error naming it and its shard).
    pub fn run(&self) -> Result<()> {
        let rec = merge_shards(&self.out, self.experiment.name(), &self.shards)?;
        eprintln!(
            "merged {} cells of {} (preset {}, seed {}) into {}",
            rec.cells.len(),
            rec.experiment,
            rec.preset,
            rec.seed,
            self.out.display()
        );
        let preset = <Preset as ValueEnum>::from_str(&rec.preset, true)
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("the shards' preset {:?}", rec.preset))?;
        ReproArgs {
            experiment: self.experiment,
            preset,
            out: Some(self.out.clone()),
            shard: Shard::default(),
            threads: Some(1),
            seed: rec.seed,
            subrun: false,
            recompute_damaged: false,
            merge_only: true,
        }
        .run()
    }
}
