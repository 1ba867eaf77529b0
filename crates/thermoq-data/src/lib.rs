//! # thermoq-data — data laws for the positive phase of the gradient
//!
//! The gradient of SCIENCE.md II.4 is `g_a = E_data[f_a] − E_π[f_a]`; this crate supplies the
//! data half. Everything here depends on `thermoq-core` alone.
//!
//! * [`patterns`] — the synthetic data law of the exact-diagonalization cells: `M` seeded random
//!   patterns, each with its negative, every bit flipped with probability `ε`. Its first and second
//!   moments are exact in closed form, so `E_data[f_a]` carries no sampling noise. Specs are
//!   written `patterns:M=3,eps=0.1,seed=S`.
//!
//! ```
//! use thermoq_core::Graph;
//! use thermoq_data::patterns::{PatternLaw, PatternSpec};
//! let law = PatternLaw::new(5, &PatternSpec::parse("patterns:M=2,eps=0.1,seed=1")?)?;
//! let e_data = law.observable_means(&Graph::complete(5), false)?; // E_data[f_ij] = −E[x_i x_j]
//! assert_eq!(e_data.len(), 10);
//! # Ok::<(), thermoq_data::patterns::PatternError>(())
//! ```

pub mod patterns;
