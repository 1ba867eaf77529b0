//! One driver for every library experiment (`thermoq_repro::Experiment`): runs this shard's
//! cells resumably through the runner, assembles and writes `results.json`, then writes the files
//! the experiment's report renders to ([`thermoq_repro::report::Render`]: CSV, figures,
//! `REPORT.md`).

use crate::runner::{RunDir, Shard, git_revision, run_experiment};
use anyhow::Result;
use thermoq_repro::report::Render;
use thermoq_repro::{CellOutcome, assemble};

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
    let out = E::render(&res)?;
    for (name, text) in &out.files {
        dir.write(name, text.as_bytes())?;
    }
    eprintln!("{}: {} → {}", exp.name(), out.headline, dir.path.display());
    Ok(())
}
