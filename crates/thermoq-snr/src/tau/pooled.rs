//! Pooled τ̂ over many chains of ±1 observables, τ-vs-L tables, and the status every τ̂ carries.
//!
//! Two Sokal (c = [`SOKAL_C`]) estimators run on the same chains ([`pooled_tau`]):
//!
//! * **within** — each chain's ρ̂ around its own mean, averaged over the chains that are not
//!   constant (emcee's multi-walker rule): how fast a chain decorrelates *inside* the region it
//!   visits;
//! * **global** — the autocovariance pooled over all chains around the *global* mean (SCIENCE
//!   II.7): chain c contributes (1/n) Σ_{s<n−t} (x_s − μ)(x_{s+t} − μ), computed exactly as its
//!   own-mean autocovariance plus the mean-offset terms, so chains stuck in different places count
//!   as correlation that has not decayed.
//!
//! # Status
//!
//! Every τ̂ carries a [`TauStatus`]: `resolved` when it and the estimate at half the window pass
//! the doubling rule ([`is_resolved`]); `no_window` when Sokal's self-consistent window was not
//! found below L — τ̂ is then the truncated sum of ρ̂ over the whole series, a number fixed by the
//! window, not by the chain (for the global estimator of chains stuck apart it is ≈ L, so τ̂/L ≈ 1
//! means "τ ≥ L", never "τ grows in proportion to L"); `lower_bound` otherwise. Only resolved
//! values may enter a median, a maximum that is reported as a value, or a pass count.
//!
//! [`tau_table`] runs both estimators on every observable of a [`Trajectories`] at a list of
//! windows and summarises each window by a [`TauStat`] (largest τ̂, its status, counts).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::SOKAL_C;
use super::acf::AcfPlan;
use super::doubling::{DoublingRow, is_resolved};
use super::sokal::{auto_window, sokal_std_err};

/// What a τ̂ is: a value, a lower bound, or the truncated sum of an estimator that found no window.
/// Ordered from best to worst, so `a.max(b)` is the weaker of two statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TauStatus {
    /// Passed the doubling rule between L/2 and L: a value.
    Resolved,
    /// A self-consistent Sokal window was found but the doubling rule was not met: τ ≥ τ̂.
    LowerBound,
    /// No self-consistent window below L: τ̂ is the truncated sum, and the true τ is at least of
    /// the order of the window (τ ≥ L for τ̂/L ≈ 1).
    NoWindow,
}

impl TauStatus {
    /// The JSON / report string: `"resolved"`, `"lower_bound"` or `"no_window"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::LowerBound => "lower_bound",
            Self::NoWindow => "no_window",
        }
    }

    /// A phrase for reports: `resolved`, `lower bound`, `no window`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::LowerBound => "lower bound",
            Self::NoWindow => "no window",
        }
    }

    /// Whether the number is a value (may enter medians, maxima and pass counts).
    pub fn is_resolved(self) -> bool {
        self == Self::Resolved
    }

    /// The status of `row` given the estimate at half its window (`prev`, `None` for the first).
    pub fn of(prev: Option<&DoublingRow>, row: &DoublingRow) -> Self {
        if !row.window_found {
            Self::NoWindow
        } else if prev.is_some_and(|p| is_resolved(p, row)) {
            Self::Resolved
        } else {
            Self::LowerBound
        }
    }
}

impl std::fmt::Display for TauStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Both pooled estimates of one observable over chains of equal length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledTau {
    /// The within-chain estimator; `None` when every chain is constant.
    pub within: Option<DoublingRow>,
    /// The global-mean estimator; `None` when the pooled series is constant.
    pub global: Option<DoublingRow>,
    /// Chains that were constant (left out of `within`).
    pub frozen_chains: usize,
}

/// Turns an autocovariance sum `acc` (lag 0 first) into Sokal's running τ̂ in place and reads the
/// estimate at the automatic window. `None` for a constant series.
fn row_from(acc: &mut [f64], n: usize, samples: usize) -> Option<DoublingRow> {
    let c0 = acc[0];
    // NaN-safe: a NaN variance is not "positive" either
    if c0.is_nan() || c0 <= 1e-12 {
        return None;
    }
    let mut run = 0.0;
    for r in acc.iter_mut() {
        run += *r / c0;
        *r = 2.0 * run - 1.0;
    }
    let (w, found) = auto_window(acc, SOKAL_C);
    let tau = acc[w];
    tau.is_finite().then(|| DoublingRow {
        len: n,
        tau,
        window: w,
        window_found: found,
        std_err: sokal_std_err(tau, w, samples),
        ratio_to_prev: None,
        tau_over_len: tau / n as f64,
        resolved: false,
    })
}

/// The within-chain and global-mean Sokal τ̂ of one observable over `chains` (all of the first
/// chain's length; see the module docs). No chains, empty chains or chains of unequal length give
/// no estimate (both `None`).
pub fn pooled_tau(chains: &[Vec<f64>]) -> PooledTau {
    let none = PooledTau {
        within: None,
        global: None,
        frozen_chains: 0,
    };
    let Some(n) = chains.first().map(Vec::len) else {
        return none;
    };
    if chains.iter().any(|c| c.len() != n) {
        return none;
    }
    let Ok(plan) = AcfPlan::cached(n) else {
        return none;
    };
    let mut scratch = plan.scratch();
    let mut gam = vec![0.0; n];
    let mut within = vec![0.0; n];
    let mut global = vec![0.0; n];
    let mut used = 0usize;
    let mu = chains.iter().map(|x| x.iter().sum::<f64>()).sum::<f64>() / (n * chains.len()) as f64;
    let mut prefix = vec![0.0; n + 1];
    for x in chains {
        let g0 = plan.autocovariance_into(x, &mut scratch, &mut gam);
        let big = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if g0 > (4.0 * f64::EPSILON * big).powi(2) {
            used += 1;
            within.iter_mut().zip(&gam).for_each(|(w, g)| *w += g / g0);
        }
        let m = x.iter().sum::<f64>() / n as f64;
        let d = m - mu;
        for (k, v) in x.iter().enumerate() {
            prefix[k + 1] = prefix[k] + (v - m);
        }
        let nf = n as f64;
        for t in 0..n {
            global[t] +=
                gam[t] + d / nf * (prefix[n - t] - prefix[t]) + d * d * (n - t) as f64 / nf;
        }
    }
    let w = if used > 0 {
        row_from(&mut within, n, n * used)
    } else {
        None
    };
    let g = row_from(&mut global, n, n * chains.len());
    PooledTau {
        within: w,
        global: g,
        frozen_chains: chains.len() - used,
    }
}

/// Per-chain recorded trajectories of `n_obs` ±1-valued observables (stored as bytes, sweep-major:
/// `values[c][s · n_obs + a]`) and of the energy (`energy[c][s]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectories {
    /// Observables per sweep.
    pub n_obs: usize,
    /// `values[c]` has `len · n_obs` entries.
    pub values: Vec<Vec<i8>>,
    /// `energy[c]` has `len` entries.
    pub energy: Vec<Vec<f64>>,
}

impl Trajectories {
    /// Recorded sweeps per chain.
    pub fn len(&self) -> usize {
        self.energy.first().map_or(0, Vec::len)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The series of observable `a` (`a < n_obs`, or the energy for `a == n_obs`) over the first
    /// `len` sweeps of every chain.
    pub fn series(&self, a: usize, len: usize) -> Vec<Vec<f64>> {
        (0..self.energy.len())
            .map(|c| {
                if a == self.n_obs {
                    self.energy[c][..len].to_vec()
                } else {
                    (0..len)
                        .map(|s| f64::from(self.values[c][s * self.n_obs + a]))
                        .collect()
                }
            })
            .collect()
    }
}

/// One estimator at one window L, summarised over the observables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TauStat {
    /// Largest τ̂ over the gradient observables (whatever its status; see `status`).
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_max: f64,
    /// τ_max / L.
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_over_l: f64,
    /// What `tau_max` is: `resolved` only when every observable (and the energy) is resolved;
    /// `no_window` when the observable holding the maximum had no Sokal window; else `lower_bound`.
    pub status: TauStatus,
    /// Which observable (index in the subset) has τ_max.
    pub argmax: usize,
    /// Median τ̂ over the *resolved* gradient observables (NaN when none is resolved).
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_median_resolved: f64,
    /// Gradient observables whose τ̂ is resolved (enter `tau_median_resolved`).
    pub resolved_observables: usize,
    /// τ̂ of the energy.
    #[serde(deserialize_with = "f64_or_nan")]
    pub tau_energy: f64,
    /// Status of the energy's τ̂.
    pub energy_status: TauStatus,
    /// Gradient observables with an estimate (all-constant ones are skipped).
    pub estimated: usize,
    /// Gradient observables whose Sokal window was self-consistent (W ≥ 5τ̂ found below L).
    pub windows_found: usize,
    /// Observables (gradient subset + energy) passing the doubling rule between L/2 and L.
    pub resolved_count: usize,
    /// Whether every observable (gradient subset and energy) passes the rule at this L.
    pub resolved: bool,
}

/// Summarises window `li` of `rows[a][li]` (observable `a < n_obs`, the energy at `a == n_obs`;
/// `rows[a][li − 1]` is the estimate at half the window) at window length `len`.
pub fn tau_stat(rows: &[Vec<Option<DoublingRow>>], li: usize, n_obs: usize, len: usize) -> TauStat {
    let status_of = |a: usize| -> Option<TauStatus> {
        let r = rows[a][li].as_ref()?;
        let prev = if li > 0 {
            rows[a][li - 1].as_ref()
        } else {
            None
        };
        Some(TauStatus::of(prev, r))
    };
    let taus: Vec<(usize, f64)> = (0..n_obs)
        .filter_map(|a| rows[a][li].as_ref().map(|r| (a, r.tau)))
        .collect();
    let windows_found = (0..n_obs)
        .filter(|&a| rows[a][li].as_ref().is_some_and(|r| r.window_found))
        .count();
    let (argmax, tau_max) =
        taus.iter().copied().fold(
            (0, f64::NAN),
            |m, x| {
                if m.1.is_nan() || x.1 > m.1 { x } else { m }
            },
        );
    let mut resolved_taus: Vec<f64> = taus
        .iter()
        .filter(|&&(a, _)| status_of(a) == Some(TauStatus::Resolved))
        .map(|x| x.1)
        .collect();
    resolved_taus.sort_by(f64::total_cmp);
    let tau_median_resolved = median_sorted(&resolved_taus);
    let mut resolved_count = 0;
    let mut all = li > 0;
    if li > 0 {
        for r in rows {
            match (&r[li - 1], &r[li]) {
                (Some(p), Some(n)) if is_resolved(p, n) => resolved_count += 1,
                _ => all = false,
            }
        }
    }
    let status = if all {
        TauStatus::Resolved
    } else if taus.is_empty() || status_of(argmax) == Some(TauStatus::NoWindow) {
        TauStatus::NoWindow
    } else {
        TauStatus::LowerBound
    };
    TauStat {
        tau_max,
        tau_over_l: tau_max / len as f64,
        status,
        argmax,
        tau_median_resolved,
        resolved_observables: resolved_taus.len(),
        tau_energy: rows[n_obs][li].as_ref().map_or(f64::NAN, |r| r.tau),
        energy_status: status_of(n_obs).unwrap_or(TauStatus::NoWindow),
        estimated: taus.len(),
        windows_found,
        resolved_count,
        resolved: all,
    }
}

/// The median of a sorted slice (mean of the two middle elements for an even count); NaN if empty.
pub fn median_sorted(x: &[f64]) -> f64 {
    match x.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => x[n / 2],
        n => 0.5 * (x[n / 2 - 1] + x[n / 2]),
    }
}

/// Deserializes an `f64` written by serde_json, where NaN and ±∞ were written as `null`.
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One window of a τ-vs-L table: both estimators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TauRow {
    /// Kernel (or any label the caller gives).
    pub kernel: String,
    /// Window L (sweeps after warm-up).
    pub len: usize,
    /// Within-chain estimator — comparable to a per-chain Sokal τ.
    pub within: TauStat,
    /// Global-mean pooled estimator (sees chains stuck apart).
    pub global: TauStat,
    /// Largest number of constant chains of any observable (those are left out of `within`).
    pub frozen_chains_max: usize,
}

/// The τ-vs-L table of `t` at the windows `lengths` (each ≤ `t.len()`, best doubling): both
/// estimators of every observable and the energy, in parallel over observables.
pub fn tau_table(t: &Trajectories, kernel: &str, lengths: &[usize]) -> Vec<TauRow> {
    let cells: Vec<Vec<PooledTau>> = (0..=t.n_obs)
        .into_par_iter()
        .map(|a| {
            lengths
                .iter()
                .map(|&l| pooled_tau(&t.series(a, l.min(t.len()))))
                .collect()
        })
        .collect();
    let within: Vec<Vec<Option<DoublingRow>>> = cells
        .iter()
        .map(|v| v.iter().map(|c| c.within.clone()).collect())
        .collect();
    let global: Vec<Vec<Option<DoublingRow>>> = cells
        .iter()
        .map(|v| v.iter().map(|c| c.global.clone()).collect())
        .collect();
    lengths
        .iter()
        .enumerate()
        .map(|(li, &len)| TauRow {
            kernel: kernel.into(),
            len,
            within: tau_stat(&within, li, t.n_obs, len),
            global: tau_stat(&global, li, t.n_obs, len),
            frozen_chains_max: cells.iter().map(|v| v[li].frozen_chains).max().unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tau::ar1;
    use thermoq_core::rng::chain_rng;

    fn ar1_chains(phi: f64, chains: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
        (0..chains)
            .map(|c| ar1::series(phi, n, &mut chain_rng(seed, c as u64)))
            .collect()
    }

    fn table_of(chains: &[Vec<f64>], lengths: &[usize]) -> Vec<(PooledTau, TauStatus, TauStatus)> {
        let rows: Vec<PooledTau> = lengths
            .iter()
            .map(|&l| {
                let s: Vec<Vec<f64>> = chains.iter().map(|c| c[..l].to_vec()).collect();
                pooled_tau(&s)
            })
            .collect();
        rows.iter()
            .enumerate()
            .map(|(k, r)| {
                let prev = (k > 0).then(|| &rows[k - 1]);
                let w = TauStatus::of(
                    prev.and_then(|p| p.within.as_ref()),
                    r.within.as_ref().unwrap(),
                );
                let g = TauStatus::of(
                    prev.and_then(|p| p.global.as_ref()),
                    r.global.as_ref().unwrap(),
                );
                (r.clone(), w, g)
            })
            .collect()
    }

    /// τ = (1 + 0.5)/(1 − 0.5) = 3 ≪ L = 16,000: both estimators resolve, and agree with the exact
    /// τ within 4 Sokal standard errors (σ(τ̂) = τ̂ √(2(2W+1)/(chains · L)) ≈ 0.04 here).
    #[test]
    fn ar1_short_tau_is_resolved() {
        let chains = ar1_chains(0.5, 8, 16_000, 11);
        let t = table_of(&chains, &[8000, 16_000]);
        let (r, w, g) = &t[1];
        assert_eq!(*w, TauStatus::Resolved);
        assert_eq!(*g, TauStatus::Resolved);
        for row in [r.within.as_ref().unwrap(), r.global.as_ref().unwrap()] {
            assert!(row.window_found);
            assert!(
                (row.tau - 3.0).abs() < 4.0 * row.std_err,
                "τ̂ = {} ± {}",
                row.tau,
                row.std_err
            );
        }
        assert_eq!(r.frozen_chains, 0);
    }

    /// τ = (1 + 0.9999)/(1 − 0.9999) ≈ 20,000 ≫ L ≤ 2,000: never resolved. Chains started from
    /// the stationary law sit at different levels for the whole run, so the global estimator
    /// finds no window and returns ≈ L (the capped value the status must flag).
    #[test]
    fn ar1_long_tau_is_never_resolved() {
        let chains = ar1_chains(0.9999, 8, 2000, 12);
        let t = table_of(&chains, &[500, 1000, 2000]);
        for (r, w, g) in &t {
            assert_ne!(*w, TauStatus::Resolved);
            assert_ne!(*g, TauStatus::Resolved);
            assert_eq!(*g, TauStatus::NoWindow, "global τ̂ = {:?}", r.global);
            let gl = r.global.as_ref().unwrap();
            assert!(gl.tau_over_len > 0.5, "global τ̂/L = {}", gl.tau_over_len);
        }
    }

    #[test]
    fn table_status_and_median_use_resolved_only() {
        // 3 fast observables (AR(1) φ = 0.3 mapped to ±1 by sign) and 1 frozen-apart one.
        let chains = 6;
        let n = 4000;
        let n_obs = 2;
        let mut t = Trajectories {
            n_obs,
            values: vec![Vec::new(); chains],
            energy: vec![Vec::new(); chains],
        };
        for c in 0..chains {
            let x = ar1::series(0.3, n, &mut chain_rng(5, c as u64));
            let stuck: i8 = if c % 2 == 0 { 1 } else { -1 };
            for (s, v) in x.iter().enumerate() {
                // Observable 1 flips once every 997 sweeps only in odd chains: far from resolved.
                let slow = if c % 2 == 1 && (s / 997) % 2 == 1 {
                    -stuck
                } else {
                    stuck
                };
                t.values[c].push(if *v > 0.0 { 1 } else { -1 });
                t.values[c].push(slow);
            }
            t.energy[c] = x;
        }
        let rows = tau_table(&t, "test", &[2000, 4000]);
        let g = &rows[1].global;
        assert_eq!(g.argmax, 1);
        assert_ne!(g.status, TauStatus::Resolved);
        assert!(!g.resolved);
        assert_eq!(g.resolved_observables, 1);
        // The median of the resolved observables is the fast one's τ̂ alone, never the slow one's.
        assert!(g.tau_median_resolved < 10.0, "{}", g.tau_median_resolved);
        assert!(g.tau_max > 50.0, "{}", g.tau_max);
    }

    #[test]
    fn status_strings() {
        assert_eq!(serde_json_like(TauStatus::Resolved), "resolved");
        assert_eq!(serde_json_like(TauStatus::LowerBound), "lower_bound");
        assert_eq!(serde_json_like(TauStatus::NoWindow), "no_window");
    }

    fn serde_json_like(s: TauStatus) -> &'static str {
        s.as_str()
    }

    #[test]
    fn bad_input_gives_no_estimate() {
        assert_eq!(pooled_tau(&[]).within, None);
        let r = pooled_tau(&[vec![1.0, 2.0, 3.0], vec![1.0]]);
        assert!(r.within.is_none() && r.global.is_none());
        let r = pooled_tau(&[vec![1.0; 64], vec![-1.0; 64]]);
        assert!(r.within.is_none());
        assert_eq!(r.frozen_chains, 2);
    }

    #[test]
    fn median_sorted_even_and_odd() {
        assert!(median_sorted(&[]).is_nan());
        assert_eq!(median_sorted(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median_sorted(&[1.0, 2.0, 4.0, 10.0]), 3.0);
    }
}
