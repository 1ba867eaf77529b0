//! Runs the run-folder fuzz targets ([`thermoq_fuzz::runs`]: cell files, run records and
//! manifests) under a counting global allocator, like `tests/fuzz.rs` does for the file readers.
//!
//! `THERMOQ_FUZZ_CASES` sets the cases per target (default 1000), `THERMOQ_FUZZ_SEED` the
//! proptest RNG seed. A case fails when a reader panics or asks for one allocation above
//! [`thermoq_fuzz::ALLOC_BUDGET`] (refused, which aborts the process). Each target prints how
//! many inputs it ran and how many the reader accepted.
#![allow(clippy::unwrap_used)] // test harness

use thermoq_fuzz::harness::{BudgetAlloc, drive};
use thermoq_fuzz::runs::RunTarget;

#[global_allocator]
static ALLOC: BudgetAlloc = BudgetAlloc;

fn run_target(t: RunTarget) {
    // Offset past the file-reader targets' indices, so no two targets share a stream.
    drive(t.name(), 16 + t as u64, &t.inputs(), |input| t.run(input));
}

#[test]
fn cell_file() {
    // The seed input is a valid, intact cell file.
    let seed = serde_json::to_vec(&thermoq_fuzz::runs::seed_cell()).unwrap();
    assert!(
        RunTarget::CellFile.run(&seed),
        "the seed cell file is refused"
    );
    run_target(RunTarget::CellFile);
}

#[test]
fn run_manifest() {
    run_target(RunTarget::RunManifest);
}
