//! Runs every fuzz target (see the crate docs) under a counting global allocator.
//!
//! `THERMOQ_FUZZ_CASES` sets the cases per target (default 1000: the short pass of `cargo test`),
//! `THERMOQ_FUZZ_SEED` the proptest RNG seed (default fixed, so the pass is the same every run).
//! A case fails when its reader panics or when one allocation asks for more than
//! [`thermoq_fuzz::ALLOC_BUDGET`] bytes; such a request is refused (null), which aborts the test
//! process with the target's name printed — a finding either way. Each target prints how many
//! inputs it ran and how many the reader accepted.
#![allow(clippy::unwrap_used)] // test harness

use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use thermoq_fuzz::{ALLOC_BUDGET, Target};

/// Counts the largest single request and refuses requests beyond the budget.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping and a size check.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > ALLOC_BUDGET {
            return std::ptr::null_mut();
        }
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > ALLOC_BUDGET {
            return std::ptr::null_mut();
        }
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        if new_size > ALLOC_BUDGET {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn cases() -> u32 {
    std::env::var("THERMOQ_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

fn seed() -> u64 {
    std::env::var("THERMOQ_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e51_f022)
}

fn fuzz(t: Target) {
    let cases = cases();
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed() ^ t as u64),
        max_shrink_iters: 256,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let accepted = AtomicUsize::new(0);
    let ran = AtomicUsize::new(0);
    let start = std::time::Instant::now();
    let result = runner.run(&t.inputs(), |input| {
        ran.fetch_add(1, Ordering::Relaxed);
        let ok = std::panic::catch_unwind(|| t.run(&input))
            .map_err(|_| TestCaseError::fail(format!("{} panicked", t.name())))?;
        if ok {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    eprintln!(
        "fuzz {}: {} inputs ({} accepted, {} cases requested) in {:.1} s, largest allocation {} B",
        t.name(),
        ran.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
        cases,
        start.elapsed().as_secs_f64(),
        LARGEST.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("fuzz {}: {e}", t.name());
    }
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
