//! Ladder design for parallel tempering: C(α) grids, thermodynamic length Λ, R\*, and PT summaries
//! (SCIENCE.md II.8, §2.10).
//!
//! * [`refine_midpoints`] — one refinement of a C(α) grid: a midpoint wherever √C changes by more
//!   than a relative step between neighbours.
//! * [`HeatProfile`] — a measured C(α) on a grid reaching α = 1: Λ(α_top) = ∫_{α_top}^1 √C dα by
//!   the trapezoid rule ([`HeatProfile::lambda_at`]), the equal-acceptance rung count
//!   R\*(α_top) = 1 + round(Λ/δ\*), δ\* = [`DELTA_STAR`] ([`HeatProfile::r_star_at`]), and the
//!   equal-Λ ladder over `[α_top, 1]` ([`HeatProfile::equal_length_ladder`]).
//! * [`PtSummary`] — what a [`FastPt`] run says about its ladder: mean acceptance probability per
//!   edge (cold, hot, worst), round trips, Λ_rej = Σ (1 − acceptance) and the DEO prediction
//!   1/(2 + 2Λ_rej), C(α) per rung.
//!
//! Λ here is in the units of the C passed in; with C = β² Var(E) it is the preprint's
//! β ∫ √C dα only when β = 1 (the DTM presets).

use serde::{Deserialize, Serialize};

use crate::error::SamplerError;
use crate::pt::{FastPt, Ladder, SwapScheme, deo_round_trip_rate, r_star, thermodynamic_length};

pub use crate::pt::DELTA_STAR;

/// Grid points of `alphas` closer than this to `α_top` count as inside `[α_top, 1]`.
const ALPHA_EPS: f64 = 1e-12;

/// One refinement pass: returns the grid `alphas` (descending, as a [`Ladder`] holds it) plus the
/// midpoint of every neighbour pair whose √C differ by more than `rel · max(√C)`, sorted
/// descending, and how many midpoints were added.
pub fn refine_midpoints(
    alphas: &[f64],
    c: &[f64],
    rel: f64,
) -> Result<(Vec<f64>, usize), SamplerError> {
    check_profile(alphas, c)?;
    let mut pts = alphas.to_vec();
    let mut added = 0;
    for k in 0..alphas.len().saturating_sub(1) {
        let (s0, s1) = (c[k].sqrt(), c[k + 1].sqrt());
        if (s0 - s1).abs() > rel * s0.max(s1) {
            pts.push(0.5 * (alphas[k] + alphas[k + 1]));
            added += 1;
        }
    }
    pts.sort_by(|x, y| y.total_cmp(x));
    Ok((pts, added))
}

fn check_profile(alphas: &[f64], c: &[f64]) -> Result<(), SamplerError> {
    if alphas.len() != c.len() {
        // One C(α) per grid point.
        return Err(SamplerError::length("c", c.len(), alphas.len()));
    }
    if let Some(k) = c.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(SamplerError::invalid(
            format!("c[{k}]"),
            format!("is {}, expected a finite C(α) ≥ 0", c[k]),
        ));
    }
    Ok(())
}

/// A measured specific heat C(α) on a grid (descending α, the first exactly 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatProfile {
    /// α grid (descending from 1).
    pub alphas: Vec<f64>,
    /// C(α) on the grid.
    pub c: Vec<f64>,
}

impl HeatProfile {
    /// Checks lengths and values (C finite and ≥ 0; the grid itself is checked by Λ's trapezoid).
    pub fn new(alphas: Vec<f64>, c: Vec<f64>) -> Result<Self, SamplerError> {
        check_profile(&alphas, &c)?;
        Ok(Self { alphas, c })
    }

    /// The grid points with α ≥ `alpha_top` and their C.
    pub fn restrict(&self, alpha_top: f64) -> (Vec<f64>, Vec<f64>) {
        self.alphas
            .iter()
            .zip(&self.c)
            .filter(|(a, _)| **a >= alpha_top - ALPHA_EPS)
            .map(|(a, c)| (*a, *c))
            .unzip()
    }

    /// Λ(α_top) = ∫_{α_top}^1 √C dα by the trapezoid rule on the grid points in `[α_top, 1]`.
    pub fn lambda_at(&self, alpha_top: f64) -> Result<f64, SamplerError> {
        let (a, c) = self.restrict(alpha_top);
        thermodynamic_length(&a, &c)
    }

    /// R\*(α_top) = 1 + round(Λ(α_top)/δ\*).
    pub fn r_star_at(&self, alpha_top: f64) -> Result<usize, SamplerError> {
        r_star(self.lambda_at(alpha_top)?)
    }

    /// The ladder of `rungs` rungs at equal increments of Λ over `[α_top, 1]`.
    pub fn equal_length_ladder(
        &self,
        alpha_top: f64,
        rungs: usize,
    ) -> Result<Ladder, SamplerError> {
        let (a, c) = self.restrict(alpha_top);
        Ladder::equal_length(&a, &c, rungs)
    }
}

/// Deserializes an `f64` written by serde_json, where NaN and ±∞ were written as `null`.
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Deserializes `Vec<f64>` written by serde_json, where NaN and ±∞ were written as `null`.
fn vec_f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect())
}

/// What one PT run says about its ladder (pooled over chains, recorded sweeps only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PtSummary {
    /// A label for the ladder (e.g. `uniform`, `equal-length`).
    pub ladder: String,
    /// `pt-sym` or `pt-deo`.
    pub scheme: String,
    /// Rungs R.
    pub rungs: usize,
    /// The α values (descending, cold first).
    pub alphas: Vec<f64>,
    /// Pooled mean acceptance probability per edge (edge 0 = cold).
    #[serde(deserialize_with = "vec_f64_or_nan")]
    pub acceptance: Vec<f64>,
    /// Swap attempts per edge, pooled.
    pub attempts: Vec<u64>,
    /// Edge 0 (α = 1 side).
    #[serde(deserialize_with = "f64_or_nan")]
    pub cold_edge: f64,
    /// Last edge (α_top side).
    #[serde(deserialize_with = "f64_or_nan")]
    pub hot_edge: f64,
    /// Smallest acceptance over all edges.
    #[serde(deserialize_with = "f64_or_nan")]
    pub worst_edge: f64,
    /// Index of the worst edge.
    pub worst_edge_index: usize,
    /// Round trips per chain (mean).
    #[serde(deserialize_with = "f64_or_nan")]
    pub round_trips_per_chain: f64,
    /// Chains with at least one round trip.
    pub chains_with_round_trip: usize,
    /// Round trips per PT sweep per chain.
    #[serde(deserialize_with = "f64_or_nan")]
    pub round_trip_rate: f64,
    /// Λ_rej = Σ (1 − acceptance).
    #[serde(deserialize_with = "f64_or_nan")]
    pub lambda_rej: f64,
    /// 1/(2 + 2Λ_rej): the DEO prediction (meaningful for `pt-deo`).
    #[serde(deserialize_with = "f64_or_nan")]
    pub deo_predicted_rate: f64,
    /// C(α_r) = β² Var(E) per rung: each chain's own-mean variance, averaged over chains.
    #[serde(deserialize_with = "vec_f64_or_nan")]
    pub specific_heat: Vec<f64>,
    /// Recorded sweeps per chain.
    pub sweeps: usize,
}

impl PtSummary {
    /// Summarises `pt` after `sweeps` recorded sweeps; `ladder` labels the row.
    pub fn of(pt: &FastPt, scheme: SwapScheme, ladder: &str, sweeps: usize) -> Self {
        let r = pt.ladder().len();
        let chains = pt.n_chains();
        let alphas = pt.ladder().alphas().to_vec();
        let p = pt.pooled();
        let acc: Vec<f64> = (0..r.saturating_sub(1))
            .map(|k| p.mean_acceptance_prob(k).unwrap_or(f64::NAN))
            .collect();
        let (worst_edge_index, worst_edge) = acc
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::INFINITY), |m, x| if x.1 < m.1 { x } else { m });
        let rej: Vec<f64> = acc.iter().map(|a| (1.0 - a).clamp(0.0, 1.0)).collect();
        let heat: Vec<f64> = (0..r)
            .map(|k| {
                let v: f64 = pt
                    .stats()
                    .iter()
                    .filter_map(|s| pt.specific_heat(s).map(|c| c[k]))
                    .sum();
                v / chains as f64
            })
            .collect();
        Self {
            ladder: ladder.into(),
            scheme: scheme.name().into(),
            rungs: r,
            alphas,
            cold_edge: acc.first().copied().unwrap_or(f64::NAN),
            hot_edge: acc.last().copied().unwrap_or(f64::NAN),
            worst_edge,
            worst_edge_index,
            attempts: p.swap_attempts.clone(),
            round_trips_per_chain: p.round_trips as f64 / chains as f64,
            chains_with_round_trip: pt.stats().iter().filter(|s| s.round_trips > 0).count(),
            round_trip_rate: p.round_trips as f64 / p.sweeps.max(1) as f64,
            lambda_rej: rej.iter().sum(),
            deo_predicted_rate: deo_round_trip_rate(&rej).unwrap_or(f64::NAN),
            specific_heat: heat,
            acceptance: acc,
            sweeps,
        }
    }

    /// Mean acceptance over the edges (NaN without edges).
    pub fn mean_acceptance(&self) -> f64 {
        if self.acceptance.is_empty() {
            f64::NAN
        } else {
            self.acceptance.iter().sum::<f64>() / self.acceptance.len() as f64
        }
    }

    /// Largest acceptance over the edges (NaN without edges).
    pub fn max_acceptance(&self) -> f64 {
        self.acceptance
            .iter()
            .copied()
            .fold(f64::NAN, |m, a| if m.is_nan() || a > m { a } else { m })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_star_on_known_lambda() {
        // Λ = 10 δ* → R* = 11; Λ = 228.0 (the preprint's R* = 136 needs Λ ≈ 135 δ* = 227.2).
        assert_eq!(r_star(10.0 * DELTA_STAR).unwrap(), 11);
        assert_eq!(r_star(0.0).unwrap(), 1);
        assert_eq!(r_star(135.0 * DELTA_STAR).unwrap(), 136);
        // Rounding: 2.49 δ* → 3, 2.51 δ* → 4.
        assert_eq!(r_star(2.49 * DELTA_STAR).unwrap(), 3);
        assert_eq!(r_star(2.51 * DELTA_STAR).unwrap(), 4);
        assert!(r_star(f64::NAN).is_err());
        assert!(r_star(-1.0).is_err());
    }

    /// C(α) = 4α² ⇒ √C = 2α and Λ(α_top) = 1 − α_top² exactly; the trapezoid rule is exact for a
    /// linear integrand, so Λ agrees to rounding on any grid.
    #[test]
    fn lambda_by_trapezoid_on_analytic_c() {
        let alphas: Vec<f64> = (0..=20).map(|k| 1.0 - 0.045 * f64::from(k)).collect();
        let c: Vec<f64> = alphas.iter().map(|a| 4.0 * a * a).collect();
        let h = HeatProfile::new(alphas, c).unwrap();
        for top in [0.1, 0.55, 1.0] {
            let want = 1.0 - top * top;
            let got = h.lambda_at(top).unwrap_or(0.0);
            assert!((got - want).abs() < 1e-12, "Λ({top}) = {got}, want {want}");
        }
        // √C = 1/α (C = 1/α²): Λ = −ln α_top; trapezoid error on a grid of step h is
        // ≤ (1 − α_top) h² max|f''|/12 = 0.9 · 0.01² · 2/0.1³ / 12 = 0.015 for α_top = 0.1.
        let alphas: Vec<f64> = (0..=90).map(|k| 1.0 - 0.01 * f64::from(k)).collect();
        let c: Vec<f64> = alphas.iter().map(|a| 1.0 / (a * a)).collect();
        let h = HeatProfile::new(alphas, c).unwrap();
        let got = h.lambda_at(0.1).unwrap();
        assert!((got - 10f64.ln()).abs() < 0.015, "{got}");
        assert!(
            got > 10f64.ln(),
            "trapezoid overestimates a convex integrand"
        );
        assert_eq!(
            h.r_star_at(0.1).unwrap(),
            1 + (got / DELTA_STAR).round() as usize
        );
    }

    #[test]
    fn equal_length_ladder_has_equal_increments() {
        let alphas: Vec<f64> = (0..=40).map(|k| 1.0 - 0.02 * f64::from(k)).collect();
        let c: Vec<f64> = alphas.iter().map(|a| 4.0 * a * a).collect();
        let h = HeatProfile::new(alphas, c).unwrap();
        let l = h.equal_length_ladder(0.2, 5).unwrap();
        let a = l.alphas();
        assert_eq!(a.len(), 5);
        // Λ between rungs is (1 − 0.04)/4 = 0.24 each: α_r² = 1 − 0.24 r (linear interpolation of
        // a piecewise-quadratic Λ(α) between grid points: error ≤ 0.02² · max|Λ''| / 8 = 1e-4).
        for (r, x) in a.iter().enumerate() {
            let want = (1.0 - 0.24 * r as f64).sqrt();
            assert!((x - want).abs() < 2e-4, "rung {r}: {x} vs {want}");
        }
    }

    #[test]
    fn refine_adds_midpoints_where_sqrt_c_jumps() {
        let alphas = [1.0, 0.8, 0.6, 0.4];
        let c = [1.0, 1.0, 4.0, 4.1];
        let (pts, added) = refine_midpoints(&alphas, &c, 0.25).unwrap();
        assert_eq!(added, 1);
        assert_eq!(pts, vec![1.0, 0.8, 0.7, 0.6, 0.4]);
    }

    #[test]
    fn bad_profiles_name_the_field() {
        let e = HeatProfile::new(vec![1.0, 0.5], vec![1.0]).unwrap_err();
        assert!(e.to_string().contains('c'), "{e}");
        let e = HeatProfile::new(vec![1.0, 0.5], vec![1.0, f64::NAN]).unwrap_err();
        assert!(e.to_string().contains("c[1]"), "{e}");
        assert!(refine_midpoints(&[1.0], &[-1.0], 0.25).is_err());
    }
}
