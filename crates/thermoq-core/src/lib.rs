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
pub mod rng;
pub mod state;

pub use coloring::Coloring;
pub use error::CoreError;
pub use format::IsingFile;
pub use graph::Graph;

/// A spin value, `-1` or `+1`. States are slices of spins (`&[Spin]`).
pub type Spin = i8;
