//! Sokal's self-consistent window, single series and pooled over chains.

use rayon::prelude::*;

use super::acf::AcfPlan;
use super::chains::{ChainSet, check_series};
use super::{SOKAL_C, TauEstimate, TauMethod};
use crate::SnrError;

/// emcee's `auto_window`: the first index m with m ≥ c · taus\[m\], or `taus.len() − 1` if there
/// is none. The flag says whether a genuine window was found.
///
/// `taus[m]` is the running estimate τ̂(m) = 1 + 2 Σ_{t=1}^{m} ρ̂(t). An empty slice gives `(0, false)`.
pub fn auto_window(taus: &[f64], c: f64) -> (usize, bool) {
    match taus
        .iter()
        .enumerate()
        .position(|(m, &t)| m as f64 >= c * t)
    {
        Some(m) => (m, true),
        None => (taus.len().saturating_sub(1), false),
    }
}

/// Sokal's approximate standard error of a windowed τ̂: τ̂ · √(2(2W + 1)/n).
///
/// Derivation (Madras & Sokal 1988, §2; Sokal 1997, eq. 3.19). Write τ̂(W) = Σ_{|t|≤W} ρ̂(t) and
/// τ = Σ_{t∈ℤ} ρ(t). For τ ≪ W ≪ n, Bartlett's formula gives, to leading order,
/// n·Cov(ρ̂(t), ρ̂(s)) ≈ Σ_k [ρ(k) ρ(k + s − t) + ρ(k + s) ρ(k − t)]. Summing over the
/// (2W + 1)² pairs |t|, |s| ≤ W, each term is a double convolution: for fixed t the inner sum
/// over s covers (almost) all of ℤ, so each term contributes ≈ (2W + 1) · τ · τ. Hence
/// Var τ̂ ≈ 2(2W + 1) τ²/n and σ(τ̂) ≈ τ √(2(2W + 1)/n). The truncation bias
/// −2 Σ_{t>W} ρ(t) is not included; with W ≥ cτ it is of relative order e^{−c} for a single
/// exponential mode.
///
/// `n` is the total number of samples that entered ρ̂ (chains × length for pooled estimates).
pub fn sokal_std_err(tau: f64, window: usize, n: usize) -> f64 {
    tau * (2.0 * (2.0 * window as f64 + 1.0) / n as f64).sqrt()
}

/// Applies the window to an averaged autocorrelation function, turning it in place into the
/// running sums taus = 2·cumsum(ρ̂) − 1, and returns (τ̂, W, found).
fn window_from_rho(rho: &mut [f64]) -> (f64, usize, bool) {
    let mut acc = 0.0;
    for r in rho.iter_mut() {
        acc += *r;
        *r = 2.0 * acc - 1.0;
    }
    let (w, found) = auto_window(rho, SOKAL_C);
    (rho[w], w, found)
}

/// A τ̂ that is not finite, or not positive, is a typed error naming it.
///
/// τ_int = 1 + 2 Σ ρ(t) ≥ 0 for every stationary series, but the windowed estimate is ≤ 0 when
/// the series is anti-correlated at short lags (ρ̂(1) ≤ −1/2, e.g. a series that alternates):
/// then the window stops at once and τ̂ would give a negative standard error and an infinite or
/// negative ESS (a fuzz finding of issue 18), so it is refused instead.
fn finite_tau(tau: f64) -> Result<(), SnrError> {
    if !tau.is_finite() {
        Err(SnrError::Invalid {
            field: "tau".into(),
            message: format!(
                "Sokal τ̂ is {tau}: the series' autocorrelations are not representable in f64 \
                 (values too large or too small); rescale the input"
            ),
        })
    } else if tau <= 0.0 {
        Err(SnrError::Invalid {
            field: "tau".into(),
            message: format!(
                "Sokal τ̂ is {tau}, expected > 0: the series is anti-correlated at short lags \
                 (it alternates), which the windowed estimate cannot resolve"
            ),
        })
    } else {
        Ok(())
    }
}

/// τ̂_int of one series by Sokal's self-consistent window with c = [`SOKAL_C`]: the same
/// algorithm and the same value as `emcee.autocorr.integrated_time(x, c=5)` for a 1-D `x`.
///
/// Unlike emcee this never raises when the chain is short compared with τ̂ (emcee's `tol`); use
/// [`super::doubling_run`] to decide whether τ̂ is resolved. `std_err` is [`sokal_std_err`].
///
/// Errors if `x` is empty, has a non-finite value, or is constant.
pub fn sokal(x: &[f64]) -> Result<TauEstimate, SnrError> {
    check_series(x, 0)?;
    let plan = AcfPlan::cached(x.len())?;
    let mut rho = vec![0.0; x.len()];
    plan.autocorrelation_into(x, &mut plan.scratch(), &mut rho, 0)?;
    let (tau, window, window_found) = window_from_rho(&mut rho);
    finite_tau(tau)?;
    let n = x.len();
    Ok(TauEstimate {
        tau,
        window,
        window_found,
        n,
        chains: 1,
        ess: n as f64 / tau,
        std_err: sokal_std_err(tau, window, n),
        method: TauMethod::Sokal,
    })
}

/// τ̂_int pooled over chains: the per-chain autocorrelation functions ρ̂_c(t) (each normalised by
/// its own chain mean and variance) are averaged, then Sokal's window is applied to the average.
///
/// This is emcee's rule for several walkers (`integrated_time` on an `(n, walkers)` array), so
/// one chain gives exactly [`sokal`]. Averaging ρ̂ rather than the autocovariances weights
/// every chain equally whatever its variance, and chain-to-chain differences of the mean are
/// *not* seen (use [`super::split_rhat`] for that). Chains are processed in parallel with one
/// FFT plan. `ess` = chains · n / τ̂, `std_err` = [`sokal_std_err`] with chains · n samples.
pub fn sokal_pooled(set: &ChainSet<'_>) -> Result<TauEstimate, SnrError> {
    let n = set.len();
    let plan = AcfPlan::cached(n)?;
    let sum = set
        .chains()
        .par_iter()
        .enumerate()
        .try_fold(
            || (plan.scratch(), vec![0.0; n], vec![0.0; n]),
            |(mut scratch, mut rho, mut acc), (c, x)| {
                plan.autocorrelation_into(x, &mut scratch, &mut rho, c)?;
                acc.iter_mut().zip(&rho).for_each(|(a, r)| *a += r);
                Ok::<_, SnrError>((scratch, rho, acc))
            },
        )
        .map(|r| r.map(|(_, _, acc)| acc))
        .try_reduce(
            || vec![0.0; n],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    let m = set.n_chains();
    let mut rho = sum;
    let inv = 1.0 / m as f64;
    rho.iter_mut().for_each(|r| *r *= inv);
    let (tau, window, window_found) = window_from_rho(&mut rho);
    finite_tau(tau)?;
    let total = m * n;
    Ok(TauEstimate {
        tau,
        window,
        window_found,
        n,
        chains: m,
        ess: total as f64 / tau,
        std_err: sokal_std_err(tau, window, total),
        method: TauMethod::SokalPooled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tau::ar1;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn auto_window_matches_emcee_rule() {
        // m < c·taus[m] for m = 0, 1, 2; m = 3 is the first with 3 ≥ 5·0.5.
        assert_eq!(auto_window(&[1.0, 1.0, 1.0, 0.5, 0.1], 5.0), (3, true));
        assert_eq!(auto_window(&[1.0, 2.0, 3.0], 5.0), (2, false));
        assert_eq!(auto_window(&[], 5.0), (0, false));
    }

    #[test]
    fn white_noise_has_tau_one() {
        let x = ar1::series(0.0, 100_000, &mut ChaCha8Rng::seed_from_u64(11));
        let e = sokal(&x).unwrap();
        assert!(e.window_found);
        assert!((e.tau - 1.0).abs() < 4.0 * e.std_err, "{e:?}");
    }

    #[test]
    fn alternating_series_is_a_typed_error_not_an_infinite_ess() {
        // Fuzz finding (issue 18): ρ̂(1) = −1 stops the window at W = 1 with τ̂ = −1 (and
        // ρ̂(1) = −1/2 at τ̂ = 0, an infinite ESS); both are now errors naming `tau`.
        let x: Vec<f64> = (0..64)
            .map(|t| if t % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let e = sokal(&x).unwrap_err();
        assert!(
            matches!(&e, SnrError::Invalid { field, .. } if field == "tau"),
            "{e}"
        );
        let set = ChainSet::new(&[&x, &x]).unwrap();
        assert!(sokal_pooled(&set).is_err());
        // A mildly anti-correlated AR(1) still has a positive τ̂ below 1.
        let y = ar1::series(-0.3, 20_000, &mut ChaCha8Rng::seed_from_u64(3));
        let t = sokal(&y).unwrap();
        assert!(t.tau > 0.0 && t.tau < 1.0 && t.ess.is_finite(), "{t:?}");
    }

    #[test]
    fn pooled_of_one_chain_is_sokal() {
        let x = ar1::series(0.7, 5000, &mut ChaCha8Rng::seed_from_u64(5));
        let a = sokal(&x).unwrap();
        let b = sokal_pooled(&ChainSet::single(&x).unwrap()).unwrap();
        assert!((a.tau - b.tau).abs() < 1e-12);
        assert_eq!(a.window, b.window);
    }

    #[test]
    fn pooled_reports_the_constant_chain() {
        let x = ar1::series(0.7, 100, &mut ChaCha8Rng::seed_from_u64(5));
        let c = [3.0; 100];
        let set = ChainSet::new(&[&x, &c]).unwrap();
        assert!(matches!(
            sokal_pooled(&set).unwrap_err(),
            SnrError::ZeroVariance { chain: 1 }
        ));
    }
}
