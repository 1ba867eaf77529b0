//! Integrated autocorrelation times τ_int from sample series (SCIENCE 1.8, II.7).
//!
//! # Estimators
//!
//! | function | input | what it computes |
//! |---|---|---|
//! | [`sokal`] | one series | Sokal's self-consistent window, bit-for-bit the algorithm of `emcee.autocorr.integrated_time(x, c=5)` |
//! | [`sokal_pooled`] | [`ChainSet`] | the same on the chain-averaged autocorrelation function (emcee's multi-walker rule) |
//! | [`geyer`] | [`ChainSet`] | Geyer's initial positive + monotone sequence on the multi-chain ρ̂ of Stan/ArviZ |
//! | [`geyer_split`], [`ess`] | [`ChainSet`] | the same after splitting each chain in half: ArviZ `ess(method="mean")` |
//! | [`batch_means`] | [`ChainSet`] | batch means with ⌊√n⌋ samples per batch |
//! | [`split_rhat`] | [`ChainSet`] | ArviZ `rhat(method="split")` (Gelman et al., no rank normalisation) |
//! | [`pooled_tau`], [`tau_table`] | many chains | within-chain and global-mean Sokal τ̂ with a [`TauStatus`], τ-vs-L tables |
//!
//! # The math
//!
//! With ρ̂(t) the sample autocorrelation (mean removed, biased autocovariance divided by its lag-0
//! value, computed by a zero-padded FFT), Sokal's windowed estimator is
//!
//! τ̂(W) = 1 + 2 Σ_{t=1}^{W} ρ̂(t),
//!
//! and the window is the smallest W with W ≥ c · τ̂(W), c = [`SOKAL_C`] = 5. Its approximate standard
//! error (Madras & Sokal 1988) is τ̂ · √(2(2W + 1)/n); see [`sokal_std_err`].
//!
//! # Resolved or lower bound
//!
//! A single τ̂ from a finite chain cannot tell whether the chain has seen its slowest mode. The
//! doubling rule of SCIENCE II.7 ([`doubling_run`]) reruns the estimator at L, 2L, 4L, … and calls
//! τ̂ *resolved* only when |τ̂(2L) − τ̂(L)| / τ̂(L) < [`TAU_TOL`] with L ≥ [`MIN_LEN_OVER_TAU`] · τ̂
//! and, as this crate adds, a relative standard error at 2L of at most [`MAX_REL_STD_ERR`];
//! otherwise the answer is a [`TauVerdict::LowerBound`], never a value.

mod acf;
pub mod ar1;
mod batch;
mod chains;
mod doubling;
mod geyer;
mod pooled;
mod rhat;
mod sokal;

pub use acf::{AcfPlan, AcfScratch, PLAN_CACHE_SIZE, autocorrelation_fft, autocovariance_fft};
pub use batch::batch_means;
pub use chains::ChainSet;
pub use doubling::{
    DoublingReport, DoublingRow, TauVerdict, doubling_prefixes, doubling_run, doubling_run_multi,
    is_resolved,
};
pub use geyer::{ess, geyer, geyer_split};
pub use pooled::{
    PooledTau, TauRow, TauStat, TauStatus, Trajectories, median_sorted, pooled_tau, tau_stat,
    tau_table,
};
pub use rhat::split_rhat;
pub use sokal::{auto_window, sokal, sokal_pooled, sokal_std_err};

use serde::{Deserialize, Serialize};

/// Sokal's window constant c: the window is the first W with W ≥ c · τ̂(W) (SCIENCE 1.8).
pub const SOKAL_C: f64 = 5.0;

/// τ̂/L that Sokal's window (c = [`SOKAL_C`]) gives a length-L series that switches once between
/// two values in the middle (0.12832 at L = 16,000; 0.1278 at L = 1,000): the largest value a
/// series with one crossing reaches. A within-chain τ̂/L near it says the chains cross about once
/// per window whatever L is, not that τ was measured (`tests/tau.rs` checks the value).
pub const ONE_CROSSING_TAU_OVER_L: f64 = 0.1283;

/// Relative tolerance of the doubling-stability rule: |τ̂(2L) − τ̂(L)| / τ̂(L) must be below this.
pub const TAU_TOL: f64 = 0.15;

/// The doubling rule also requires the chain length L to be at least this many τ̂.
///
/// Note that with c = [`SOKAL_C`] = 5 a self-consistent Sokal window already implies
/// L > W ≥ 5 τ̂, so on its own this condition adds almost nothing; see [`MAX_REL_STD_ERR`].
pub const MIN_LEN_OVER_TAU: f64 = 5.0;

/// Precision gate added to the doubling rule by this crate (not in SCIENCE II.7): the estimate at
/// 2L must have Sokal relative standard error σ(τ̂)/τ̂ ≤ 0.30 = 2 · [`TAU_TOL`].
///
/// Why: a 15% agreement between two estimates that are each uncertain by ~80% carries no
/// information. Measured on AR(1) with the literal rule alone (|Δτ̂|/τ̂ < 0.15, L ≥ 5τ̂, windows
/// found), a φ = 0.999 chain (τ = 1999) was declared resolved in 54/400 seeds at L = 2000 → 4000
/// and 116/400 at L = 8000 → 16000, at τ̂ ≈ 100–300. With this gate: 0/400 in every case, while
/// φ = 0.9 (τ = 19) still resolves in 266/400 seeds at L = 4000 → 8000 (the literal rule: 266/400
/// too). Since σ/τ̂ ≈ √(2(2W+1)/L) with W ≈ 5τ̂, the gate amounts to L ≳ 220 τ̂.
pub const MAX_REL_STD_ERR: f64 = 2.0 * TAU_TOL;

/// Which estimator produced a [`TauEstimate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TauMethod {
    /// Sokal's self-consistent window on one series ([`sokal`]).
    Sokal,
    /// Sokal's window on the chain-averaged autocorrelation function ([`sokal_pooled`]).
    SokalPooled,
    /// Geyer's initial positive/monotone sequence on whole chains ([`geyer`]).
    Geyer,
    /// Geyer's sequence on split chains, ArviZ `ess_mean` ([`geyer_split`]).
    GeyerSplit,
    /// Batch means with ⌊√n⌋ samples per batch ([`batch_means`]).
    BatchMeans,
}

/// One τ_int estimate with the facts needed to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TauEstimate {
    /// The estimate τ̂_int, in samples (sweeps). 1 for an independent series.
    pub tau: f64,
    /// The summation window W (largest lag included). For batch means: the batch size.
    pub window: usize,
    /// Whether the window is genuine: for Sokal, some W < n satisfied W ≥ c τ̂(W) (otherwise
    /// W = n − 1, as emcee does); for Geyer, the sequence became non-positive before the series
    /// ended; for batch means, always `true`.
    pub window_found: bool,
    /// Samples per chain that entered the estimate.
    pub n: usize,
    /// Number of chains that entered the estimate (after splitting, for [`geyer_split`]).
    pub chains: usize,
    /// Effective sample size chains · n / τ̂.
    pub ess: f64,
    /// Approximate standard error of τ̂ (see each estimator's documentation for the formula).
    pub std_err: f64,
    /// The estimator that produced this value.
    pub method: TauMethod,
}
