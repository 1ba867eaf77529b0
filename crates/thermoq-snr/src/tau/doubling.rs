//! The doubling-stability rule (SCIENCE 1.8, II.7): resolved τ̂ or a lower bound.
//!
//! A τ̂ from a chain that has not yet explored its slowest mode looks perfectly reasonable: it
//! is simply too small, and it grows with the chain length L. The rule therefore estimates τ̂ at
//! L, 2L, 4L, … and accepts a value only when two consecutive lengths agree:
//!
//! |τ̂(2L) − τ̂(L)| / τ̂(L) < [`TAU_TOL`] and L ≥ [`MIN_LEN_OVER_TAU`] · τ̂,
//!
//! with both Sokal windows self-consistent, plus this crate's precision gate σ(τ̂(2L))/τ̂(2L) ≤
//! [`MAX_REL_STD_ERR`] (without it, chains far shorter than τ pass the literal rule by chance;
//! see that constant). Until then τ̂ is only a lower bound. Burn-in (scaled
//! to τ̂) is the caller's business: the series handed over should be post-warm-up.

use serde::{Deserialize, Serialize};

use super::chains::ChainSet;
use super::sokal::{sokal, sokal_pooled};
use super::{MAX_REL_STD_ERR, MIN_LEN_OVER_TAU, TAU_TOL, TauEstimate};
use crate::SnrError;

/// The outcome of a doubling run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TauVerdict {
    /// τ̂ passed the doubling rule; `tau` is the estimate at the longest length.
    Resolved {
        /// The resolved estimate.
        tau: f64,
    },
    /// The rule was never satisfied up to the maximum length: the true τ_int is probably at least
    /// `tau` (the estimate at the longest length) and may be much larger.
    LowerBound {
        /// The estimate at the longest length, a lower bound.
        tau: f64,
    },
}

impl TauVerdict {
    /// The resolved value, or `None` for a lower bound. Use this where a number will be used as
    /// τ_int, so that a lower bound can never pass for a value.
    pub fn value(&self) -> Option<f64> {
        match *self {
            TauVerdict::Resolved { tau } => Some(tau),
            TauVerdict::LowerBound { .. } => None,
        }
    }

    /// Whether τ̂ was resolved.
    pub fn is_resolved(&self) -> bool {
        matches!(self, TauVerdict::Resolved { .. })
    }

    /// The number behind the verdict (an estimate or a lower bound), for reporting.
    pub fn bound_or_value(&self) -> f64 {
        match *self {
            TauVerdict::Resolved { tau } | TauVerdict::LowerBound { tau } => tau,
        }
    }
}

/// One line of the τ̂-versus-L table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoublingRow {
    /// Samples per chain L.
    pub len: usize,
    /// τ̂ at this length.
    pub tau: f64,
    /// Sokal window W.
    pub window: usize,
    /// Whether the window was self-consistent (W ≥ c τ̂(W) for some W < L).
    pub window_found: bool,
    /// Sokal's standard error of τ̂.
    pub std_err: f64,
    /// |τ̂(L) − τ̂(L/2)| / τ̂(L/2); `None` on the first row.
    pub ratio_to_prev: Option<f64>,
    /// τ̂ / L. The rule needs this ≤ 1/[`MIN_LEN_OVER_TAU`].
    pub tau_over_len: f64,
    /// Whether this row and the previous one together satisfy the rule ([`is_resolved`]).
    pub resolved: bool,
}

impl DoublingRow {
    fn from_estimate(e: &TauEstimate, prev: Option<&DoublingRow>) -> Self {
        let mut row = DoublingRow {
            len: e.n,
            tau: e.tau,
            window: e.window,
            window_found: e.window_found,
            std_err: e.std_err,
            ratio_to_prev: prev.map(|p| (e.tau - p.tau).abs() / p.tau),
            tau_over_len: e.tau / e.n as f64,
            resolved: false,
        };
        row.resolved = prev.is_some_and(|p| is_resolved(p, &row));
        row
    }
}

/// The τ̂-versus-L table of a doubling run and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoublingReport {
    /// One row per length, L₀, 2L₀, 4L₀, …
    pub rows: Vec<DoublingRow>,
    /// Resolved at the first row that passes the rule, otherwise a lower bound.
    pub verdict: TauVerdict,
}

/// The doubling rule for a row at length L (`prev`) and the row at 2L (`next`): both windows
/// self-consistent, |τ̂(2L) − τ̂(L)|/τ̂(L) < [`TAU_TOL`], L ≥ [`MIN_LEN_OVER_TAU`] · τ̂ for
/// both estimates (the larger τ̂ is used, to be conservative), and `next.std_err / next.tau ≤`
/// [`MAX_REL_STD_ERR`].
pub fn is_resolved(prev: &DoublingRow, next: &DoublingRow) -> bool {
    let tau_max = prev.tau.max(next.tau);
    prev.window_found
        && next.window_found
        && prev.tau > 0.0
        && next.tau > 0.0
        && ((next.tau - prev.tau).abs() / prev.tau) < TAU_TOL
        && prev.len as f64 >= MIN_LEN_OVER_TAU * tau_max
        && next.std_err / next.tau <= MAX_REL_STD_ERR
}

fn run<S, F, G>(
    initial_len: usize,
    max_len: usize,
    mut state: S,
    mut extend: F,
    mut estimate: G,
) -> Result<DoublingReport, SnrError>
where
    F: FnMut(&mut S, usize) -> Result<(), SnrError>,
    G: FnMut(&S) -> Result<TauEstimate, SnrError>,
{
    if initial_len < 4 || initial_len > max_len {
        return Err(SnrError::DoublingLengths {
            initial_len,
            max_len,
        });
    }
    let mut rows: Vec<DoublingRow> = Vec::new();
    let mut len = initial_len;
    loop {
        extend(&mut state, len)?;
        let est = estimate(&state)?;
        let row = DoublingRow::from_estimate(&est, rows.last());
        let done = row.resolved;
        let tau = row.tau;
        rows.push(row);
        if done {
            return Ok(DoublingReport {
                rows,
                verdict: TauVerdict::Resolved { tau },
            });
        }
        match len.checked_mul(2) {
            Some(next) if next <= max_len => len = next,
            _ => {
                return Ok(DoublingReport {
                    rows,
                    verdict: TauVerdict::LowerBound { tau },
                });
            }
        }
    }
}

/// Runs the doubling rule on one chain with [`sokal`] at lengths L₀, 2L₀, 4L₀, … ≤ `max_len`,
/// stopping at the first resolved length.
///
/// `extend(buf, len)` must leave exactly `len` samples in `buf`. The buffer is kept between
/// calls, so a sampler can *continue* its chain (append `len − buf.len()` sweeps) instead of
/// restarting; a caller that prefers fresh chains may clear and refill it. Needs
/// 4 ≤ `initial_len` ≤ `max_len`. With `initial_len == max_len` there is a single row and the
/// verdict is always a lower bound: one length can never resolve τ̂.
///
/// ```
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
/// use thermoq_snr::tau::{ar1, doubling_run};
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let report = doubling_run(1000, 64_000, |buf: &mut Vec<f64>, len| {
///     let start = buf.len();
///     buf.resize(len, 0.0);
///     ar1::extend(0.8, buf, start, &mut rng); // continue the chain
/// })?;
/// let tau = report.verdict.value().expect("φ = 0.8 resolves quickly");
/// assert!((tau - 9.0).abs() < 2.0);
/// # Ok::<(), thermoq_snr::SnrError>(())
/// ```
pub fn doubling_run<F>(
    initial_len: usize,
    max_len: usize,
    mut extend: F,
) -> Result<DoublingReport, SnrError>
where
    F: FnMut(&mut Vec<f64>, usize),
{
    run(
        initial_len,
        max_len,
        Vec::new(),
        |buf: &mut Vec<f64>, len| {
            extend(buf, len);
            if buf.len() == len {
                Ok(())
            } else {
                Err(SnrError::SampleLength {
                    chain: 0,
                    requested: len,
                    found: buf.len(),
                })
            }
        },
        |buf: &Vec<f64>| sokal(buf),
    )
}

/// The doubling rule over the prefixes of recorded chains (equal lengths `n`): starts at
/// `L₀ = n/2^k ≥ 16` (at most 6 doublings; at least 4 samples) and ends at the full series, with
/// the pooled estimator, as [`doubling_run_multi`].
pub fn doubling_prefixes(chains: &[Vec<f64>]) -> Result<DoublingReport, SnrError> {
    let n = chains.first().map_or(0, Vec::len);
    let mut l0 = n;
    let mut k = 0;
    while l0 / 2 >= 16 && k < 6 {
        l0 /= 2;
        k += 1;
    }
    doubling_run_multi(l0.max(4).min(n), n, chains.len(), |bufs, len| {
        for (buf, chain) in bufs.iter_mut().zip(chains) {
            buf.clear();
            buf.extend_from_slice(&chain[..len.min(chain.len())]);
        }
    })
}

/// The doubling rule on `n_chains` chains with the pooled estimator [`sokal_pooled`].
///
/// `extend(chains, len)` must leave exactly `len` samples in every one of the `n_chains`
/// buffers (which persist between calls, so chains can be continued). Errors as
/// [`doubling_run`], plus [`SnrError::NoChains`] for `n_chains == 0`.
pub fn doubling_run_multi<F>(
    initial_len: usize,
    max_len: usize,
    n_chains: usize,
    mut extend: F,
) -> Result<DoublingReport, SnrError>
where
    F: FnMut(&mut [Vec<f64>], usize),
{
    if n_chains == 0 {
        return Err(SnrError::NoChains);
    }
    run(
        initial_len,
        max_len,
        vec![Vec::new(); n_chains],
        |bufs: &mut Vec<Vec<f64>>, len| {
            extend(bufs, len);
            match bufs.iter().position(|b| b.len() != len) {
                None => Ok(()),
                Some(chain) => Err(SnrError::SampleLength {
                    chain,
                    requested: len,
                    found: bufs[chain].len(),
                }),
            }
        },
        |bufs: &Vec<Vec<f64>>| {
            let refs: Vec<&[f64]> = bufs.iter().map(Vec::as_slice).collect();
            sokal_pooled(&ChainSet::new(&refs)?)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(len: usize, tau: f64) -> DoublingRow {
        DoublingRow {
            len,
            tau,
            window: 10,
            window_found: true,
            std_err: 0.0,
            ratio_to_prev: None,
            tau_over_len: tau / len as f64,
            resolved: false,
        }
    }

    #[test]
    fn rule_thresholds() {
        assert!(is_resolved(&row(1000, 10.0), &row(2000, 11.4)));
        assert!(!is_resolved(&row(1000, 10.0), &row(2000, 11.6)));
        // L = 40 < 5 τ̂ = 50.
        assert!(!is_resolved(&row(40, 10.0), &row(80, 10.1)));
        let mut no_window = row(2000, 10.0);
        no_window.window_found = false;
        assert!(!is_resolved(&row(1000, 10.0), &no_window));
        // Agreeing but imprecise: σ/τ̂ = 0.5 > MAX_REL_STD_ERR.
        let mut noisy = row(2000, 10.0);
        noisy.std_err = 5.0;
        assert!(!is_resolved(&row(1000, 10.0), &noisy));
    }

    #[test]
    fn bad_lengths_and_short_closures() {
        assert!(matches!(
            doubling_run(100, 50, |_, _| {}).unwrap_err(),
            SnrError::DoublingLengths {
                initial_len: 100,
                max_len: 50
            }
        ));
        assert!(matches!(
            doubling_run(8, 64, |b, len| b.resize(len - 1, 1.0)).unwrap_err(),
            SnrError::SampleLength {
                chain: 0,
                requested: 8,
                found: 7
            }
        ));
        assert!(matches!(
            doubling_run_multi(8, 64, 0, |_, _| {}).unwrap_err(),
            SnrError::NoChains
        ));
    }

    #[test]
    fn verdict_accessors() {
        let r = TauVerdict::Resolved { tau: 3.0 };
        let l = TauVerdict::LowerBound { tau: 30.0 };
        assert_eq!(r.value(), Some(3.0));
        assert_eq!(l.value(), None);
        assert!(r.is_resolved() && !l.is_resolved());
        assert_eq!(l.bound_or_value(), 30.0);
    }
}
