//! Geyer's initial positive / monotone sequence on the multi-chain ρ̂ of Stan and ArviZ.
//!
//! This is a line-for-line port of ArviZ 0.23 `stats.diagnostics._ess` (the algorithm of Stan's
//! `compute_effective_sample_size`, Vehtari et al. 2021 without rank normalisation):
//!
//! * per chain, the biased autocovariance γ̂_c(t) by FFT, averaged over chains: γ̄(t);
//! * W = γ̄(0) · n/(n − 1) (mean within-chain variance), var⁺ = W (n − 1)/n + B/n with
//!   B/n the (ddof = 1) variance of the chain means (only when M > 1);
//! * ρ̂(t) = 1 − (W − γ̄(t))/var⁺, which sees between-chain disagreement as extra correlation;
//! * Geyer's initial positive sequence: sum the pairs P_k = ρ̂(2k) + ρ̂(2k + 1) while they are
//!   positive; initial monotone sequence: clip each pair to the previous one;
//! * τ̂ = −1 + 2 Σ_{t ≤ t_max} ρ̂(t) + ρ̂(t_max + 1)⁺, floored at 1/log10(M n); ESS = M n / τ̂.

use rayon::prelude::*;

use super::acf::AcfPlan;
use super::chains::ChainSet;
use super::sokal::sokal_std_err;
use super::{TauEstimate, TauMethod};
use crate::SnrError;

/// Mean over chains of the biased autocovariances, computed in parallel with one plan.
pub(crate) fn mean_autocovariance(set: &ChainSet<'_>) -> Result<Vec<f64>, SnrError> {
    let n = set.len();
    let plan = AcfPlan::cached(n)?;
    let mut sum = set
        .chains()
        .par_iter()
        .fold(
            || (plan.scratch(), vec![0.0; n], vec![0.0; n]),
            |(mut scratch, mut buf, mut acc), x| {
                plan.autocovariance_into(x, &mut scratch, &mut buf);
                acc.iter_mut().zip(&buf).for_each(|(a, b)| *a += b);
                (scratch, buf, acc)
            },
        )
        .map(|(_, _, acc)| acc)
        .reduce(
            || vec![0.0; n],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let inv = 1.0 / set.n_chains() as f64;
    sum.iter_mut().for_each(|s| *s *= inv);
    Ok(sum)
}

/// Sample variance (ddof = 1) of a slice with at least two entries.
pub(crate) fn var_ddof1(v: &[f64]) -> f64 {
    let k = v.len() as f64;
    let mean = v.iter().sum::<f64>() / k;
    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0)
}

/// Minimum draws per chain ArviZ accepts for ESS.
const MIN_DRAWS: usize = 4;

fn geyer_impl(set: &ChainSet<'_>, method: TauMethod) -> Result<TauEstimate, SnrError> {
    let (m, n) = (set.n_chains(), set.len());
    if n < MIN_DRAWS {
        return Err(SnrError::TooShort {
            what: "Geyer initial sequence",
            len: n,
            min: MIN_DRAWS,
        });
    }
    let acov = mean_autocovariance(set)?;
    let nf = n as f64;
    let mean_var = acov[0] * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        let means: Vec<f64> = set
            .chains()
            .iter()
            .map(|x| x.iter().sum::<f64>() / nf)
            .collect();
        var_plus += var_ddof1(&means);
    }
    if var_plus <= 0.0 {
        return Err(SnrError::ZeroVariance { chain: 0 });
    }
    let rho = |t: usize| 1.0 - (mean_var - acov[t]) / var_plus;

    let mut r = vec![0.0; n];
    let mut even = 1.0;
    let mut odd = rho(1);
    r[0] = even;
    r[1] = odd;
    // Indices as isize: ArviZ's t_max may be −1 when the first pair is already non-positive.
    let mut t: isize = 1;
    let last = n as isize - 3;
    while t < last && even + odd > 0.0 {
        let tu = t as usize;
        even = rho(tu + 1);
        odd = rho(tu + 2);
        if even + odd >= 0.0 {
            r[tu + 1] = even;
            r[tu + 2] = odd;
        }
        t += 2;
    }
    let window_found = even + odd <= 0.0;
    let max_t = t - 2;
    if even > 0.0 {
        r[(max_t + 1) as usize] = even;
    }
    let mut t: isize = 1;
    while t <= max_t - 2 {
        let tu = t as usize;
        if r[tu + 1] + r[tu + 2] > r[tu - 1] + r[tu] {
            let avg = (r[tu - 1] + r[tu]) / 2.0;
            r[tu + 1] = avg;
            r[tu + 2] = avg;
        }
        t += 2;
    }
    let total = (m * n) as f64;
    let head = (max_t + 1) as usize; // number of full-weight terms, 0 ≤ head ≤ n − 2
    let mut tau = -1.0 + 2.0 * r[..head].iter().sum::<f64>() + r.get(head).copied().unwrap_or(0.0);
    tau = tau.max(1.0 / total.log10());
    // Values near ±f64::MAX overflow the autocovariances to ∞/NaN: a typed error naming the
    // quantity, never a NaN estimate (callers can rescale; τ̂ is scale-invariant).
    if !tau.is_finite() {
        return Err(SnrError::Invalid {
            field: "tau".into(),
            message: format!(
                "Geyer τ̂ is {tau}: the series' autocovariances are not representable in f64 \
                 (values too large or too small); rescale the input"
            ),
        });
    }
    Ok(TauEstimate {
        tau,
        window: head,
        window_found,
        n,
        chains: m,
        ess: total / tau,
        std_err: sokal_std_err(tau, head, m * n),
        method,
    })
}

/// τ̂_int by Geyer's initial monotone sequence over whole (unsplit) chains, pooling as
/// Stan/ArviZ do (see the module documentation). With one chain this is ArviZ's `_ess` on a
/// single chain.
///
/// `window` is the number of full-weight lags t_max + 1; `window_found` is `false` if the pair
/// sums stayed positive up to the end of the series (τ̂ is then unreliable). `std_err` uses
/// [`sokal_std_err`] with that window, since the estimator is a windowed sum with an adaptive W.
/// Needs n ≥ 4.
pub fn geyer(set: &ChainSet<'_>) -> Result<TauEstimate, SnrError> {
    geyer_impl(set, TauMethod::Geyer)
}

/// Geyer's estimator after splitting each chain into halves ([`ChainSet::split`]): the τ̂ behind
/// ArviZ `ess(method="mean")` (Stan's split-chain ESS without rank normalisation).
///
/// The returned `n` and `chains` describe the split set (n/2 samples, 2M chains); `ess` is the
/// ESS of the whole input.
pub fn geyer_split(set: &ChainSet<'_>) -> Result<TauEstimate, SnrError> {
    if set.len() < MIN_DRAWS {
        return Err(SnrError::TooShort {
            what: "split-chain ESS",
            len: set.len(),
            min: MIN_DRAWS,
        });
    }
    geyer_impl(&set.split()?, TauMethod::GeyerSplit)
}

/// The effective sample size of the mean, in the convention of ArviZ `ess(data,
/// method="mean")`: split chains, multi-chain ρ̂, Geyer truncation, ESS = M·N/τ̂.
///
/// **Cap.** τ̂ is floored at `1/log10(M·N)` (as in ArviZ), so the ESS never exceeds
/// `M·N·log10(M·N)`; it can exceed the sample count `M·N` only for anti-correlated chains, where
/// the variance of the mean really is smaller than for independent draws. A non-finite τ̂ is an
/// error, so the ESS is always finite and positive.
///
/// This is *not* ArviZ's default `"bulk"` ESS, which first rank-normalises the draws; for
/// roughly Gaussian, well-mixed chains the two agree closely.
pub fn ess(set: &ChainSet<'_>) -> Result<f64, SnrError> {
    Ok(geyer_split(set)?.ess)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tau::ar1;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn short_and_constant_inputs() {
        let x = [1.0, 2.0, 3.0];
        let set = ChainSet::single(&x).unwrap();
        assert!(matches!(
            geyer(&set).unwrap_err(),
            SnrError::TooShort { min: 4, .. }
        ));
        let c = [1.0; 10];
        assert!(matches!(
            geyer(&ChainSet::single(&c).unwrap()).unwrap_err(),
            SnrError::ZeroVariance { chain: 0 }
        ));
    }

    #[test]
    fn white_noise_ess_is_about_n() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let xs: Vec<Vec<f64>> = (0..4).map(|_| ar1::series(0.0, 5000, &mut rng)).collect();
        let refs: Vec<&[f64]> = xs.iter().map(Vec::as_slice).collect();
        let set = ChainSet::new(&refs).unwrap();
        let e = geyer_split(&set).unwrap();
        assert!((e.tau - 1.0).abs() < 4.0 * e.std_err, "{e:?}");
        assert!((ess(&set).unwrap() - 20_000.0 / e.tau).abs() < 1e-9);
    }
}
