//! Gradient signal-to-noise for thermodynamic samplers.
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! A stochastic-gradient step built from K Monte Carlo sweeps is only as good as the ratio of the
//! squared gradient to the mean squared error of its estimate. This crate measures and predicts
//! that ratio:
//!
//! * [`tau`] — integrated autocorrelation times τ_int from sample series (Sokal's self-consistent
//!   window, pooled multi-chain, Geyer's initial monotone sequence, batch means, split-R̂ and ESS)
//!   and the doubling-stability rule that decides whether a τ̂ is *resolved* or only a lower bound;
//! * exact and Monte Carlo Q_op (the operational gradient SNR, SCIENCE II.4);
//! * the predictors `naive`, `one-gap` and `struct-perp` (SCIENCE II.5).
//!
//! All times are in **sweeps** (SCIENCE 1.8): one sample of a series is one sweep.
//!
//! # Conventions
//!
//! τ_int = 1 + 2 Σ_{t≥1} ρ(t), so that Var\[f̄\] ≈ τ_int · Var\[f\] / n and the effective sample size
//! is n / τ_int. An independent series has τ_int = 1; an AR(1) process with coefficient φ has
//! τ_int = (1 + φ) / (1 − φ).
//!
//! # Quick start
//!
//! ```
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//! use thermoq_snr::tau::{self, ar1};
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(7);
//! let x = ar1::series(0.5, 50_000, &mut rng);
//! let est = tau::sokal(&x)?;
//! // exact value (1 + 0.5) / (1 - 0.5) = 3
//! assert!((est.tau - 3.0).abs() < 4.0 * est.std_err);
//! # Ok::<(), thermoq_snr::SnrError>(())
//! ```
//!
//! Errors from every fallible function are one [`SnrError`] enum with structured fields.

// Tests may unwrap: their inputs are fixed, not user-supplied.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod error;
pub mod exact;
pub mod mc;
pub mod predict;
pub mod sampled;
pub mod tau;

pub use error::SnrError;
pub use exact::{CellReport, analyze_cell};
pub use predict::{Prediction, Predictor, PredictorInput};
