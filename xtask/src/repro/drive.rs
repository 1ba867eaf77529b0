//! One driver for every library experiment (`thermoq_repro::Experiment`): runs this shard's
//! cells resumably through the runner, assembles and writes `results.json`, then hands the typed
//! results to the experiment's renderer ([`Render`]) for the CSV, figures and `REPORT.md`.

use crate::runner::{RunDir, Shard, git_revision, run_experiment};
use anyhow::Result;
use serde::Serialize;
use thermoq_repro::{CellOutcome, Experiment, ResultsOf, assemble};

/// What xtask adds to a library experiment: its files.
pub trait Render: Experiment + Sized {
    /// Writes the CSV, figures and `REPORT.md` into `dir`; returns a one-line headline.
    fn render(&self, dir: &RunDir, res: &ResultsOf<Self>) -> Result<String>;
}

/// Runs (or resumes) `exp` and writes the run folder; with a partial shard only the cells.
pub fn drive<E: Render>(exp: &E, dir: &RunDir, shard: Shard, threads: usize) -> Result<()> {
    let cells = exp.cells();
    let run = |c: &E::Cell| Ok(exp.run_cell(c)?);
    let Some(recs) = run_experiment(dir, exp.name(), &cells, shard, threads, run)? else {
        return Ok(());
    };
    let cells = recs
        .into_iter()
        .map(|r| CellOutcome {
            id: r.id,
            config: r.config,
            result: r.result,
        })
        .collect();
    let res = assemble(exp, cells, git_revision());
    // through a `Value`, so every object's keys are written in sorted order
    dir.write_json("results.json", &serde_json::to_value(&res)?)?;
    let headline = exp.render(dir, &res)?;
    eprintln!("{}: {headline} → {}", exp.name(), dir.path.display());
    Ok(())
}

/// Writes `rows` as CSV (header from the row type's field names) to `name` inside the run.
pub fn write_csv<T: Serialize>(
    dir: &RunDir,
    name: &str,
    rows: impl IntoIterator<Item = T>,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    dir.write(name, &w.into_inner().map_err(|e| e.into_error())?)
}

/// `{a, b, c}` for a report sentence.
pub fn set<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("{{{}}}", items.join(", "))
}
