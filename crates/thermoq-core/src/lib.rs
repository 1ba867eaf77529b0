//! # thermoq-core — the vocabulary every other thermoq crate speaks
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! thermoq asks whether an energy-based model trained on a thermodynamic sampler (p-bit / Gibbs
//! hardware, or its software twin) can learn. This crate holds the small, dependency-light types that
//! all layers share:
//!
//! * [`Spin`] and the state-index convention for enumerable models ([`state`]): bit `i` of a state
//!   index is set exactly when `x_i = +1`;
//! * [`Graph`] — an undirected sparse coupling graph in CSR form with stable edge indices;
//! * [`Coloring`] — a proper colouring (greedy or DSATUR, or user-supplied and validated), whose
//!   classes are the blocks a chromatic Gibbs sampler updates in parallel;
//! * [`rng`] — the RNG stream policy: chain `c` of a run with seed `s` uses
//!   `ChaCha8Rng::seed_from_u64(s)` with `set_stream(c)`, never a shared generator;
//! * [`format`](mod@format) — the `thermoq-ising-v1` model interchange file (JSON, plus a compact bincode form),
//!   validated on load;
//! * [`CoreError`] — one typed error for all of the above.
//!
//! ```
//! use thermoq_core::{Graph, Coloring};
//! // a 4-cycle is bipartite: DSATUR finds two colours
//! let g = Graph::new(4, &[(0, 1), (1, 2), (2, 3), (3, 0)]).unwrap();
//! let c = Coloring::dsatur(&g);
//! assert_eq!(c.n_colors(), 2);
//! assert!(c.is_proper(&g));
//! ```

pub mod coloring;
pub mod error;
pub mod format;
pub mod graph;
pub mod names;
pub mod rng;
pub mod state;

pub use coloring::Coloring;
pub use error::CoreError;
pub use format::IsingFile;
pub use graph::Graph;

/// A spin value, `-1` or `+1`. States are slices of spins (`&[Spin]`).
pub type Spin = i8;

/// Index of the first entry of `xs` that is not a spin (`-1` or `+1`), or `None` when every entry
/// is one.
///
/// Scans 64 entries at a time with no branch on the values: a branch per entry (`s != 1 &&
/// s != -1`) mispredicts on a random state and made checking a 64-chain state cost ≈ 4 ns per
/// spin (0.9 ms of a 45 ms `thermoq.sample` call on the 60_12 DTM layer), more than copying it.
///
/// ```
/// assert_eq!(thermoq_core::first_non_spin(&[1, -1, 1]), None);
/// assert_eq!(thermoq_core::first_non_spin(&[1, -1, 0, 2]), Some(2));
/// ```
pub fn first_non_spin(xs: &[Spin]) -> Option<usize> {
    const BLOCK: usize = 64;
    xs.chunks(BLOCK).enumerate().find_map(|(k, c)| {
        // `|s| ^ 1` is 0 exactly for ±1 (`i8::MIN` has `unsigned_abs` 128).
        let bad = c.iter().fold(0u8, |a, &s| a | (s.unsigned_abs() ^ 1));
        if bad == 0 {
            None
        } else {
            c.iter()
                .position(|s| s.unsigned_abs() != 1)
                .map(|i| k * BLOCK + i)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::first_non_spin;

    #[test]
    fn first_non_spin_finds_every_non_spin_value_at_every_offset() {
        // Every i8 value at several offsets, in and across 64-entry blocks.
        for bad in i8::MIN..=i8::MAX {
            for at in [0usize, 1, 63, 64, 65, 200] {
                let mut xs = vec![1i8; 201];
                for (i, x) in xs.iter_mut().enumerate() {
                    if i % 3 == 0 {
                        *x = -1;
                    }
                }
                xs[at] = bad;
                let want = (bad != 1 && bad != -1).then_some(at);
                assert_eq!(first_non_spin(&xs), want, "value {bad} at {at}");
            }
        }
        assert_eq!(first_non_spin(&[]), None);
    }
}
