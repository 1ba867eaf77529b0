//! `cargo xtask repro` and `cargo xtask merge`: the experiments, their presets and shared options.

mod drive;
mod dtm;
mod exp1;
mod exp2;
mod exp5;

use crate::runner::{RunDir, Shard, merge_cells};
use drive::drive;
use thermoq_repro::{RunConfig, exp1::Exp1, exp2::Exp2, exp5::Exp5};
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

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
    /// Output folder (default `target/runs/<experiment>/<timestamp>/`). Re-using a folder resumes.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only the cells `i, i+n, …` of this shard (`i/n`); merge shards with `cargo xtask merge`.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ReproArgs {
    /// Runs the experiment.
    pub fn run(&self) -> Result<()> {
        let dir = RunDir::create(self.experiment.name(), self.out.as_deref())?;
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
    /// Preset the shards were run with.
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    /// Shard folders.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

impl MergeArgs {
    /// Merges the cells, then assembles the report (recomputing nothing already stored).
    pub fn run(&self) -> Result<()> {
        let out = RunDir::create(self.experiment.name(), Some(&self.out))?;
        let n = merge_cells(&out, &self.shards)?;
        eprintln!("merged {n} cell files into {}", out.path.display());
        ReproArgs {
            experiment: self.experiment,
            preset: self.preset,
            out: Some(self.out.clone()),
            shard: Shard::default(),
            threads: None,
            seed: 0,
        }
        .run()
    }
}
