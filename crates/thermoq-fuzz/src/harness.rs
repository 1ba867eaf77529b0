//! The test harness of the fuzz binaries (`tests/fuzz.rs`, `tests/fuzz_runs.rs`), written once:
//! a global allocator that enforces [`ALLOC_BUDGET`](crate::ALLOC_BUDGET) and records the largest
//! request, and [`drive`], the seeded proptest loop that runs one target and reports it.

use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// Records `size` and says whether it fits the budget.
fn admit(size: usize) -> bool {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    size <= crate::ALLOC_BUDGET
}

/// A global allocator for the fuzz binaries (`#[global_allocator] static A: BudgetAlloc =
/// BudgetAlloc;`): any single request above [`ALLOC_BUDGET`](crate::ALLOC_BUDGET) gets a null
/// pointer (an allocation failure, so a case that would allocate a huge buffer is a finding, not
/// an out-of-memory kill), and the largest request is kept for [`largest_allocation`].
pub struct BudgetAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments, or returns null, which
// `GlobalAlloc` allows for a failed allocation.
unsafe impl GlobalAlloc for BudgetAlloc {
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

/// The largest single allocation requested through [`BudgetAlloc`] so far, in bytes.
pub fn largest_allocation() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `THERMOQ_FUZZ_CASES` (default 1000) inputs of `inputs` through `run`, on the proptest
/// stream `THERMOQ_FUZZ_SEED` (default `0x7e51_f022`) XOR `stream` (one stream per target), and
/// reports on stderr how many ran and were accepted (`run` returned `true`) and the largest
/// allocation. A panic inside `run` is a finding: the test panics with the shrunk input.
pub fn drive(
    name: &str,
    stream: u64,
    inputs: &BoxedStrategy<Vec<u8>>,
    run: impl Fn(&[u8]) -> bool,
) {
    let cases: u32 = env_or("THERMOQ_FUZZ_CASES", 1000);
    let seed: u64 = env_or("THERMOQ_FUZZ_SEED", 0x7e51_f022);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed ^ stream),
        max_shrink_iters: 256,
        ..Config::default()
    });
    let (ran, accepted) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let t0 = std::time::Instant::now();
    let outcome = runner.run(inputs, |input| {
        ran.fetch_add(1, Ordering::Relaxed);
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&input)))
            .map_err(|_| TestCaseError::fail(format!("{name} panicked")))?;
        accepted.fetch_add(usize::from(ok), Ordering::Relaxed);
        Ok(())
    });
    eprintln!(
        "fuzz {name}: {} inputs ({} accepted, {cases} cases requested) in {:.1} s, largest allocation {} B",
        ran.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
        largest_allocation()
    );
    if let Err(e) = outcome {
        panic!("fuzz {name}: {e}");
    }
}
