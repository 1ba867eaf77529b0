//! Batch means: τ̂ from the variance of means over non-overlapping batches.

use super::chains::ChainSet;
use super::{TauEstimate, TauMethod};
use crate::SnrError;

/// Minimum samples per chain: two batches of two samples.
const MIN_LEN: usize = 4;

/// τ̂_int by batch means with b = ⌊√n⌋ samples per batch and a = ⌊n/b⌋ batches per chain.
///
/// The leading n − a·b samples of each chain are dropped (the end of a chain is the part nearest
/// stationarity). With Ȳ_{c,k} the batch means, μ_c the chain mean over the kept samples and
/// s² the pooled within-chain sample variance,
///
/// τ̂ = b · [Σ_{c,k} (Ȳ_{c,k} − μ_c)² / (M(a − 1))] / s²,
///
/// because Var Ȳ ≈ τ σ²/b for b ≫ τ. Chain means are removed per chain, so disagreement between
/// chains does not inflate τ̂ (that is [`super::split_rhat`]'s job).
///
/// `std_err` = τ̂ · √(2/(M(a − 1))): the batch-mean variance is a χ² with M(a − 1) degrees of
/// freedom for b ≫ τ. The estimator is also biased low by about (2/b) Σ_t t ρ(t) (for AR(1):
/// 2φ/(b(1 − φ)²)), which is not included; it is small when b = √n ≫ τ. `window` is b.
pub fn batch_means(set: &ChainSet<'_>) -> Result<TauEstimate, SnrError> {
    let n = set.len();
    if n < MIN_LEN {
        return Err(SnrError::TooShort {
            what: "batch means",
            len: n,
            min: MIN_LEN,
        });
    }
    let b = n.isqrt();
    let a = n / b;
    let used = a * b;
    let m = set.n_chains();
    let (mut ss_batch, mut ss_x) = (0.0, 0.0);
    for x in set.chains() {
        let x = &x[n - used..];
        let mu = x.iter().sum::<f64>() / used as f64;
        for batch in x.chunks_exact(b) {
            let ybar = batch.iter().sum::<f64>() / b as f64;
            ss_batch += (ybar - mu).powi(2);
        }
        ss_x += x.iter().map(|v| (v - mu).powi(2)).sum::<f64>();
    }
    let var_batch = ss_batch / (m * (a - 1)) as f64;
    let var_x = ss_x / (m * (used - 1)) as f64;
    if var_x <= 0.0 {
        return Err(SnrError::ZeroVariance { chain: 0 });
    }
    let tau = b as f64 * var_batch / var_x;
    let dof = (m * (a - 1)) as f64;
    Ok(TauEstimate {
        tau,
        window: b,
        window_found: true,
        n: used,
        chains: m,
        ess: (m * used) as f64 / tau,
        std_err: tau * (2.0 / dof).sqrt(),
        method: TauMethod::BatchMeans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_short_series() {
        let x = [1.0, 2.0, 3.0];
        assert!(matches!(
            batch_means(&ChainSet::single(&x).unwrap()).unwrap_err(),
            SnrError::TooShort { len: 3, .. }
        ));
    }

    #[test]
    fn alternating_series_has_small_tau() {
        // Perfect anticorrelation: batch means of an even batch are exactly the mean.
        let x: Vec<f64> = (0..10_000)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let e = batch_means(&ChainSet::single(&x).unwrap()).unwrap();
        assert!(e.tau.abs() < 1e-12, "{e:?}");
    }
}
