//! Runs the run-folder fuzz targets ([`thermoq_fuzz::runs`]: cell files, run records and
//! manifests) under a counting global allocator, like `tests/fuzz.rs` does for the file readers.
//!
//! `THERMOQ_FUZZ_CASES` sets the cases per target (default 1000), `THERMOQ_FUZZ_SEED` the
//! proptest RNG seed. A case fails when a reader panics or asks for one allocation above
//! [`thermoq_fuzz::ALLOC_BUDGET`] (refused, which aborts the process). Each target prints how
//! many inputs it ran and how many the reader accepted.
#![allow(clippy::unwrap_used)] // test harness

use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use thermoq_fuzz::ALLOC_BUDGET;
use thermoq_fuzz::runs::RunTarget;

/// Refuses any single request above the budget; remembers the largest one.
struct Budget;

static BIGGEST: AtomicUsize = AtomicUsize::new(0);

fn admit(size: usize) -> bool {
    BIGGEST.fetch_max(size, Ordering::Relaxed);
    size <= ALLOC_BUDGET
}

// SAFETY: every call is forwarded to the system allocator with the caller's arguments; the only
// addition is a size check that returns null (allowed by the GlobalAlloc contract).
unsafe impl GlobalAlloc for Budget {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract holds.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract holds.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !admit(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` and `layout` come from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Budget = Budget;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn run_target(t: RunTarget) {
    let cases: u32 = env_or("THERMOQ_FUZZ_CASES", 1000);
    let seed: u64 = env_or("THERMOQ_FUZZ_SEED", 0x7e51_f022);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Offset past the file-reader targets' indices, so no two targets share a stream.
        rng_seed: RngSeed::Fixed(seed ^ (16 + t as u64)),
        max_shrink_iters: 256,
        ..Config::default()
    });
    let (ran, accepted) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let t0 = std::time::Instant::now();
    let outcome = runner.run(&t.inputs(), |input| {
        ran.fetch_add(1, Ordering::Relaxed);
        let ok = std::panic::catch_unwind(|| t.run(&input))
            .map_err(|_| TestCaseError::fail(format!("{} panicked", t.name())))?;
        accepted.fetch_add(usize::from(ok), Ordering::Relaxed);
        Ok(())
    });
    eprintln!(
        "fuzz {}: {} inputs ({} accepted, {cases} cases requested) in {:.1} s, largest allocation {} B",
        t.name(),
        ran.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
        BIGGEST.load(Ordering::Relaxed)
    );
    if let Err(e) = outcome {
        panic!("fuzz {}: {e}", t.name());
    }
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
