//! Runs every fuzz target (see the crate docs) under a counting global allocator.
//!
//! `THERMOQ_FUZZ_CASES` sets the cases per target (default 1000: the short pass of `cargo test`),
//! `THERMOQ_FUZZ_SEED` the proptest RNG seed (default fixed, so the pass is the same every run).
//! A case fails when its reader panics or when one allocation asks for more than
//! [`thermoq_fuzz::ALLOC_BUDGET`] bytes; such a request is refused (null), which aborts the test
//! process with the target's name printed — a finding either way. Each target prints how many
//! inputs it ran and how many the reader accepted.
#![allow(clippy::unwrap_used)] // test harness

use thermoq_fuzz::Target;
use thermoq_fuzz::harness::{BudgetAlloc, drive};

#[global_allocator]
static ALLOC: BudgetAlloc = BudgetAlloc;

fn fuzz(t: Target) {
    drive(t.name(), t as u64, &t.inputs(), |input| t.run(input));
}

#[test]
fn model_json() {
    fuzz(Target::ModelJson);
}

#[test]
fn model_binary() {
    fuzz(Target::ModelBinary);
}

#[test]
fn colouring() {
    fuzz(Target::Colouring);
}

#[test]
fn cd_checkpoint() {
    assert!(
        thermoq_fuzz::cd_checkpoint().is_object(),
        "the CD seed checkpoint was not built"
    );
    fuzz(Target::CdCheckpoint);
}

#[test]
fn dtm_checkpoint() {
    for (c, what) in [
        (thermoq_fuzz::dtm_checkpoint(), "T = 1"),
        (thermoq_fuzz::dtm_checkpoint_two_steps(), "T = 2"),
    ] {
        assert!(
            c.is_object(),
            "the {what} DTM seed checkpoint was not built"
        );
        // Structurally complete: a history record with a probe, Adam moments.
        assert_eq!(c["history"].as_array().map(Vec::len), Some(1), "{what}");
        assert!(c["history"][0]["layers"][0]["probe"].is_object(), "{what}");
        assert!(
            c["history"][0]["layers"][0]["inpaint_error"].is_number(),
            "{what}"
        );
    }
    fuzz(Target::DtmCheckpoint);
}

#[test]
fn tau_csv() {
    fuzz(Target::TauCsv);
}
