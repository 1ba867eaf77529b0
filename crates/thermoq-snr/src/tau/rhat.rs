//! Split-R̂, the potential scale reduction factor of Gelman et al.

use super::chains::ChainSet;
use super::geyer::var_ddof1;
use crate::SnrError;

/// Split-R̂: ArviZ `rhat(data, method="split")`, i.e. Gelman et al. (BDA3 §11.4) on chains split
/// in halves, without rank normalisation.
///
/// With the 2M half-chains of length h, W the mean within-chain variance (ddof = 1) and
/// B = h · Var(chain means) (ddof = 1), R̂ = √((B/W + h − 1)/h) = √(var⁺/W) with
/// var⁺ = (h − 1)/h · W + B/h. R̂ ≈ 1 for well-mixed chains; values above ≈ 1.01–1.1 mean that
/// chains (or the halves of one chain) disagree about the mean. Needs n ≥ 4 samples per chain;
/// a single chain is allowed (its two halves are compared).
pub fn split_rhat(set: &ChainSet<'_>) -> Result<f64, SnrError> {
    if set.len() < 4 {
        return Err(SnrError::TooShort {
            what: "split-R̂",
            len: set.len(),
            min: 4,
        });
    }
    let split = set.split()?;
    let h = split.len() as f64;
    let mut means = Vec::with_capacity(split.n_chains());
    let mut w = 0.0;
    for x in split.chains() {
        let mu = x.iter().sum::<f64>() / h;
        w += x.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (h - 1.0);
        means.push(mu);
    }
    let w = w / split.n_chains() as f64;
    if w <= 0.0 {
        // Every half-chain is constant: ArviZ would return NaN or ∞.
        return Err(SnrError::ZeroVariance { chain: 0 });
    }
    let b = h * var_ddof1(&means);
    let r = ((b / w + h - 1.0) / h).sqrt();
    // W or B overflow for values near ±f64::MAX: a typed error naming R̂, never NaN.
    if !r.is_finite() {
        return Err(SnrError::Invalid {
            field: "rhat".into(),
            message: format!(
                "split-R̂ is {r}: the within-chain variance ({w:e}) or between-chain variance \
                 ({b:e}) is not representable in f64; rescale the input"
            ),
        });
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_halves_give_rhat_below_one() {
        let x = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0];
        let r = split_rhat(&ChainSet::single(&x).unwrap()).unwrap();
        // B = 0, so R̂ = √((h − 1)/h) = √(2/3).
        assert!((r - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }
}
