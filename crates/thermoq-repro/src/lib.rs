//! # thermoq-repro — the preprint's experiments as a library
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! Each reproduction of "The Spectral Gap Is the Wrong Object" is a list of independent *cells*
//! (one model, one kernel, one temperature, …) and a summary over them. This crate states that
//! shape once, as the [`Experiment`] trait, and implements it for
//!
//! * [`exp1::Exp1`] — the exact-diagonalization grid (Curie–Weiss, SK, Hopfield; SCIENCE II.6);
//! * [`exp2::Exp2`] — planted RBMs under single-site and block Gibbs, checks P1–P4 (SCIENCE §2.2);
//! * [`exp5::Exp5`] — γ_eff against multimodality on planted RBMs (SCIENCE §2.5);
//!
//! and runs the DTM reversibility–mixing wall study ([`dtm`]: τ vs L, PT ladders, C(α), Λ, R\*,
//! the R1 stale-weights gate and the target table), one sequential study with per-phase resume
//! rather than a grid of cells.
//!
//! Around them, the data of a run folder ([`runs`]: shards, `run.json`, manifests, checksummed
//! cell files, merge validation) and the text of batch-scheduler scripts ([`batch`]).
//!
//! An experiment is built from a typed [`RunConfig`] (a [`Preset`] and a master seed); its
//! [`Experiment::grid`] is the one description of the grid — [`Experiment::cells`] is generated
//! from it and it is what `results.json` records. [`Experiment::run_cell`] computes one cell (pure:
//! same cell ⇒ same numbers, whatever the thread count) and [`Experiment::summarize`] turns the
//! finished cells into a typed summary. [`report`] renders typed results into the text of a
//! report (CSV rows, [`svg`] figures, `REPORT.md`) with pure functions; files and progress bars
//! are the caller's business (`cargo xtask repro` is one such caller); this crate never prints,
//! and each cell runs inside a `tracing` span.
//!
//! A sampled τ̂ never passes for a value: it carries a [`thermoq_snr::sampled::TauStatus`]
//! (`resolved`, `lower_bound`, `no_window`) into every result and summary, and medians, maxima
//! and pass counts use resolved values only ([`stats`]).
//!
//! One exp1 cell from user code:
//!
//! ```
//! use thermoq_repro::{Experiment, Preset, RunConfig, exp1::Exp1};
//!
//! let exp = Exp1::new(RunConfig::new(Preset::Quick, 0));
//! let (_, cell) = exp
//!     .cells()
//!     .into_iter()
//!     .find(|(id, _)| id == "cw-n08-b0.5")
//!     .expect("the grid has this cell");
//! let r = exp.run_cell(&cell)?;
//! // the slowest mode of the Curie–Weiss chain is odd and invisible to the couplings …
//! assert!(r.naive.ratio > 1e10);
//! // … while struct-perp tracks the exact Q_op within a factor 2
//! assert!((0.5..2.0).contains(&r.struct_perp.ratio));
//! # Ok::<(), thermoq_repro::ReproError>(())
//! ```

pub mod batch;
pub mod dtm;
pub mod error;
pub mod exp1;
pub mod exp2;
pub mod exp5;
pub mod facts;
pub mod report;
pub mod runs;
pub mod stats;
pub mod svg;

pub use error::ReproError;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Preset size of a reproduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Preset {
    /// Seconds: exp1's N = 8 and 10 cells at β = 1 without Monte Carlo, for tests of the run
    /// machinery (exp1 only; the other experiments refuse it in `cargo xtask repro`).
    Tiny,
    /// Minutes on two cores.
    Quick,
    /// The full preset.
    Paper,
}

thermoq_core::enum_names!(Preset {
    Tiny => "tiny",
    Quick => "quick",
    Paper => "paper",
});

impl std::str::FromStr for Preset {
    type Err = ReproError;
    fn from_str(s: &str) -> Result<Self, ReproError> {
        Self::from_name(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
            ReproError::invalid("preset", format!("is {s:?}, expected `quick` or `paper`"))
        })
    }
}

/// What every experiment is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Preset size.
    pub preset: Preset,
    /// Master seed: every model and chain seed of the grid is derived from it.
    pub seed: u64,
}

impl RunConfig {
    /// A configuration.
    pub fn new(preset: Preset, seed: u64) -> Self {
        Self { preset, seed }
    }
}

/// What every experiment is: a name, the [`RunConfig`] it was built from and the types of its
/// cells, their outputs, its grid and its summary. The experiments of this crate get it from
/// `experiment_type!`; an experiment of your own implements it by hand.
pub trait ExperimentBase {
    /// Short name (`exp1`, …), also the folder and report name.
    const NAME: &'static str;
    /// Everything that determines one cell's numbers.
    type Cell: Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync;
    /// What one cell computes.
    type Output: Serialize + DeserializeOwned + Send;
    /// The grid's description (recorded in `results.json`).
    type Grid: Serialize;
    /// The headline numbers.
    type Summary: Serialize;
    /// Preset and seed.
    fn config(&self) -> RunConfig;
}

/// Declares an experiment type: a struct holding its [`RunConfig`], `new`, and
/// [`ExperimentBase`] with the given name and grid type; the cell, output and summary types are
/// the declaring module's `CellConfig`, `CellResult` and `Summary`.
macro_rules! experiment_type {
    ($(#[$doc:meta])* $ty:ident, $name:literal, grid: $grid:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $ty {
            config: $crate::RunConfig,
        }

        impl $ty {
            #[doc = concat!($name, " with this preset and seed.")]
            pub fn new(config: $crate::RunConfig) -> Self {
                Self { config }
            }
        }

        impl $crate::ExperimentBase for $ty {
            const NAME: &'static str = $name;
            type Cell = CellConfig;
            type Output = CellResult;
            type Grid = $grid;
            type Summary = Summary;
            fn config(&self) -> $crate::RunConfig {
                self.config
            }
        }
    };
}
pub(crate) use experiment_type;

/// A reproduction: a grid of independent cells and a summary over them.
pub trait Experiment: Sync + ExperimentBase {
    /// Short name (`exp1`, …), also the folder and report name.
    fn name(&self) -> &'static str {
        Self::NAME
    }
    /// The grid's description; [`Self::cells`] is generated from it.
    fn grid(&self) -> Self::Grid;
    /// Every cell, `(id, cell)`, in a fixed order.
    fn cells(&self) -> Vec<(String, Self::Cell)>;
    /// Computes one cell.
    fn run_cell(&self, cell: &Self::Cell) -> Result<Self::Output, ReproError>;
    /// Summarizes the finished cells (in grid order).
    fn summarize(&self, cells: &[CellOutcome<Self::Cell, Self::Output>]) -> Self::Summary;
}

/// One finished cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellOutcome<C, R> {
    /// Cell id.
    pub id: String,
    /// The cell's configuration.
    pub config: C,
    /// What it computed.
    pub result: R,
}

/// Everything a run of an experiment records (`results.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Results<G, C, R, S> {
    /// Experiment name.
    pub experiment: String,
    /// Preset.
    pub preset: Preset,
    /// Master seed.
    pub seed: u64,
    /// Revision of the code that wrote the report (supplied by the caller).
    pub git_revision: String,
    /// The grid.
    pub grid: G,
    /// The headline numbers.
    pub summary: S,
    /// Every cell.
    pub cells: Vec<CellOutcome<C, R>>,
}

/// The [`Results`] type of experiment `E`.
pub type ResultsOf<E> = Results<
    <E as ExperimentBase>::Grid,
    <E as ExperimentBase>::Cell,
    <E as ExperimentBase>::Output,
    <E as ExperimentBase>::Summary,
>;

/// Assembles the results of `exp` from its finished cells.
pub fn assemble<E: Experiment>(
    exp: &E,
    cells: Vec<CellOutcome<E::Cell, E::Output>>,
    git_revision: String,
) -> ResultsOf<E> {
    let summary = exp.summarize(&cells);
    let cfg = exp.config();
    Results {
        experiment: exp.name().to_string(),
        preset: cfg.preset,
        seed: cfg.seed,
        git_revision,
        grid: exp.grid(),
        summary,
        cells,
    }
}

/// Runs every cell of `exp` in order on the calling thread and assembles the results (for small
/// grids and tests; the xtask driver runs cells in parallel, resumably).
pub fn run_all<E: Experiment>(exp: &E) -> Result<ResultsOf<E>, ReproError> {
    let cells = exp
        .cells()
        .into_iter()
        .map(|(id, config)| {
            let result = exp.run_cell(&config)?;
            Ok(CellOutcome { id, config, result })
        })
        .collect::<Result<Vec<_>, ReproError>>()?;
    Ok(assemble(exp, cells, String::new()))
}
