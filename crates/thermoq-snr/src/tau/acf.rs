//! FFT autocovariance and autocorrelation, planned once per length.
//!
//! The series y = x − x̄ is zero-padded to m = 2 · next_pow_two(n) (the padding emcee's
//! `function_1d` uses, ≥ 2n so the circular correlation equals the linear one), transformed,
//! multiplied by its conjugate and transformed back. The result is the biased autocovariance
//!
//! γ̂(t) = (1/n) Σ_{i=0}^{n−1−t} y_i y_{i+t},   t = 0 … n − 1,
//!
//! and ρ̂(t) = γ̂(t)/γ̂(0) is exactly emcee's `function_1d`.
//!
//! Both transforms are of real data (a real series forward, a real even power spectrum back), so
//! each is done as one complex FFT of half the length, h = m/2, with the standard even/odd
//! packing: the forward pass packs z_k = y_{2k} + i y_{2k+1} and unscrambles
//! Y_k = E_k + W^k O_k (W = e^{−2πi/m}); the backward pass packs
//! G_k = (P_k + P_{k+h}) + i (P_k − P_{k+h}) W^{−k}, whose inverse transform holds the even lags in
//! its real part and the odd lags in its imaginary part. This halves time and memory.

use std::fmt;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::chains::check_series;
use crate::SnrError;

/// Number of series lengths whose FFT plans [`AcfPlan::cached`] keeps.
pub const PLAN_CACHE_SIZE: usize = 16;

/// An FFT plan for autocovariances of series of one fixed length `n`.
///
/// Planning costs far more than one transform for awkward sizes, so estimators that handle many
/// chains of the same length build one plan and one [`AcfScratch`] per thread.
#[derive(Clone)]
pub struct AcfPlan {
    n: usize,
    m: usize,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    /// W^k = e^{−2πik/m} for k = 0 … m/2.
    twiddles: Arc<[Complex<f64>]>,
}

impl fmt::Debug for AcfPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcfPlan")
            .field("n", &self.n)
            .field("padded", &self.m)
            .finish()
    }
}

/// Working memory for one [`AcfPlan`]; reuse it across calls to avoid allocation.
#[derive(Debug, Clone)]
pub struct AcfScratch {
    buf: Vec<Complex<f64>>,
    power: Vec<f64>,
    fft: Vec<Complex<f64>>,
}

impl AcfPlan {
    /// Plans transforms for series of length `n ≥ 1`.
    pub fn new(n: usize) -> Result<Self, SnrError> {
        if n == 0 {
            return Err(SnrError::EmptySeries { chain: 0 });
        }
        let m = 2 * n.next_power_of_two();
        let h = m / 2;
        let mut planner = FftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(h);
        let inv = planner.plan_fft_inverse(h);
        // Exact sin/cos every BLOCK entries, a complex-multiply recurrence in between: the
        // rounding drift stays below BLOCK·ε while costing one multiply per entry.
        const BLOCK: usize = 64;
        let step = Complex::from_polar(1.0, -std::f64::consts::TAU / m as f64);
        let mut twiddles = Vec::with_capacity(h + 1);
        let mut w = Complex::new(1.0, 0.0);
        for k in 0..=h {
            if k % BLOCK == 0 {
                w = Complex::from_polar(1.0, -std::f64::consts::TAU * k as f64 / m as f64);
            }
            twiddles.push(w);
            w *= step;
        }
        Ok(Self {
            n,
            m,
            fwd,
            inv,
            twiddles: twiddles.into(),
        })
    }

    /// The plan for length `n`, from a small process-wide cache (planning a long FFT costs as much
    /// as running it; numpy's pocketfft keeps a plan cache the same way). At most
    /// [`PLAN_CACHE_SIZE`] lengths are kept; beyond that the cache is cleared.
    pub fn cached(n: usize) -> Result<Self, SnrError> {
        static CACHE: std::sync::OnceLock<
            std::sync::Mutex<std::collections::HashMap<usize, AcfPlan>>,
        > = std::sync::OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(p) = cache.lock().ok().and_then(|c| c.get(&n).cloned()) {
            return Ok(p);
        }
        let plan = Self::new(n)?;
        if let Ok(mut c) = cache.lock() {
            if c.len() >= PLAN_CACHE_SIZE {
                c.clear();
            }
            c.insert(n, plan.clone());
        }
        Ok(plan)
    }

    /// The series length this plan serves.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always `false` (a plan has n ≥ 1). Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The padded transform length m = 2 · next_pow_two(n).
    pub fn padded_len(&self) -> usize {
        self.m
    }

    /// Allocates working memory for this plan.
    pub fn scratch(&self) -> AcfScratch {
        let s = self
            .fwd
            .get_inplace_scratch_len()
            .max(self.inv.get_inplace_scratch_len());
        AcfScratch {
            buf: vec![Complex::new(0.0, 0.0); self.m / 2],
            power: vec![0.0; self.m / 2 + 1],
            fft: vec![Complex::new(0.0, 0.0); s],
        }
    }

    /// Writes the biased autocovariance γ̂(0..n) of `x` into `out`, without allocating.
    ///
    /// `x` and `out` must both have length [`AcfPlan::len`]; `x` is assumed finite (validated
    /// callers only). Returns γ̂(0), the (biased) variance.
    ///
    /// # Panics
    /// If `x`, `out` or `scratch` do not match this plan's length.
    pub fn autocovariance_into(&self, x: &[f64], scratch: &mut AcfScratch, out: &mut [f64]) -> f64 {
        assert_eq!(x.len(), self.n, "series length does not match the plan");
        assert_eq!(out.len(), self.n, "output length does not match the plan");
        assert_eq!(
            scratch.buf.len(),
            self.m / 2,
            "scratch does not match the plan"
        );
        let (n, h) = (self.n, self.m / 2);
        let mean = x.iter().sum::<f64>() / n as f64;
        let AcfScratch { buf, power, fft } = scratch;

        // Pack y_{2k} + i y_{2k+1}, zero beyond n (n ≤ h, so the pairs fill at most buf[..h]).
        let pairs = x.chunks_exact(2);
        let tail = pairs.remainder();
        let full = n / 2;
        for (b, p) in buf.iter_mut().zip(pairs) {
            *b = Complex::new(p[0] - mean, p[1] - mean);
        }
        let mut used = full;
        if let [last] = tail {
            buf[full] = Complex::new(last - mean, 0.0);
            used += 1;
        }
        buf[used..].fill(Complex::new(0.0, 0.0));
        self.fwd.process_with_scratch(buf, fft);

        // Unscramble the half-length transform into the power spectrum P_k = |Y_k|², k = 0 … h.
        let tw = &self.twiddles;
        for k in 0..=h / 2 {
            let j = h - k;
            let zk = buf[k % h];
            let zj = buf[j % h];
            // Y_k from (Z_k, Z_{h−k}) and Y_{h−k} from (Z_{h−k}, Z_k).
            let yk = unscramble(zk, zj, tw[k]);
            let yj = unscramble(zj, zk, tw[j]);
            power[k] = yk.norm_sqr();
            power[j] = yj.norm_sqr();
        }

        // P is real and even (P_{k+h} = P_{h−k}): pack even and odd output lags together.
        for k in 0..h {
            let (a, b) = (power[k], power[h - k]);
            buf[k] = Complex::new(a + b, 0.0) + Complex::new(0.0, a - b) * tw[k].conj();
        }
        self.inv.process_with_scratch(buf, fft);

        // rustfft's inverse is unnormalised (factor h here, m for the full-length transform:
        // the packing doubled every entry); the biased estimator divides by n.
        let scale = 1.0 / (self.m as f64 * n as f64);
        for (o2, g) in out.chunks_mut(2).zip(buf.iter()) {
            o2[0] = g.re * scale;
            if let Some(o) = o2.get_mut(1) {
                *o = g.im * scale;
            }
        }
        out[0]
    }

    /// Writes ρ̂(0..n) of `x` into `out`; errors with [`SnrError::ZeroVariance`] (labelled
    /// `chain`) if `x` is constant.
    pub fn autocorrelation_into(
        &self,
        x: &[f64],
        scratch: &mut AcfScratch,
        out: &mut [f64],
        chain: usize,
    ) -> Result<(), SnrError> {
        let c0 = self.autocovariance_into(x, scratch, out);
        // A constant series leaves only rounding noise after mean removal, of order ε·max|x|.
        let big = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if c0 <= (4.0 * f64::EPSILON * big).powi(2) {
            return Err(SnrError::ZeroVariance { chain });
        }
        let inv = 1.0 / c0;
        out.iter_mut().for_each(|o| *o *= inv);
        Ok(())
    }
}

/// Y_k of the real input from the packed half-length transform: E = (Z_k + Z̄_{h−k})/2,
/// O = −i (Z_k − Z̄_{h−k})/2, Y_k = E + W^k O.
#[inline]
fn unscramble(zk: Complex<f64>, zj: Complex<f64>, w: Complex<f64>) -> Complex<f64> {
    let e = (zk + zj.conj()) * 0.5;
    let o = (zk - zj.conj()) * Complex::new(0.0, -0.5);
    e + w * o
}

/// The biased autocovariance γ̂(t), t = 0 … n − 1, of one series (mean removed, FFT).
///
/// Errors if `x` is empty or holds a non-finite value.
pub fn autocovariance_fft(x: &[f64]) -> Result<Vec<f64>, SnrError> {
    check_series(x, 0)?;
    let plan = AcfPlan::cached(x.len())?;
    let mut out = vec![0.0; x.len()];
    plan.autocovariance_into(x, &mut plan.scratch(), &mut out);
    Ok(out)
}

/// The autocorrelation ρ̂(t) = γ̂(t)/γ̂(0), t = 0 … n − 1: emcee's `autocorr.function_1d`.
///
/// Errors if `x` is empty, holds a non-finite value, or is constant.
pub fn autocorrelation_fft(x: &[f64]) -> Result<Vec<f64>, SnrError> {
    check_series(x, 0)?;
    let plan = AcfPlan::cached(x.len())?;
    let mut out = vec![0.0; x.len()];
    plan.autocorrelation_into(x, &mut plan.scratch(), &mut out, 0)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_acov(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let mean = x.iter().sum::<f64>() / n as f64;
        (0..n)
            .map(|t| {
                (0..n - t)
                    .map(|i| (x[i] - mean) * (x[i + t] - mean))
                    .sum::<f64>()
                    / n as f64
            })
            .collect()
    }

    #[test]
    fn fft_matches_direct_sum() {
        for n in [1usize, 2, 3, 4, 7, 16, 17, 100, 1025] {
            let x: Vec<f64> = (0..n)
                .map(|i| ((i * 37 % 11) as f64).sin() + 0.1 * i as f64)
                .collect();
            let fast = autocovariance_fft(&x).unwrap();
            let slow = naive_acov(&x);
            for (a, b) in fast.iter().zip(&slow) {
                assert!(
                    (a - b).abs() < 1e-12 * (1.0 + slow[0].abs()),
                    "n={n}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn rejects_empty_nan_constant() {
        assert!(matches!(
            autocovariance_fft(&[]).unwrap_err(),
            SnrError::EmptySeries { chain: 0 }
        ));
        assert!(matches!(
            autocorrelation_fft(&[0.0, 1.0, f64::INFINITY]).unwrap_err(),
            SnrError::NonFinite { index: 2, .. }
        ));
        assert!(matches!(
            autocorrelation_fft(&[2.0; 5]).unwrap_err(),
            SnrError::ZeroVariance { chain: 0 }
        ));
        assert!(matches!(
            autocorrelation_fft(&[0.1; 7]).unwrap_err(),
            SnrError::ZeroVariance { chain: 0 }
        ));
    }

    #[test]
    fn rho_starts_at_one() {
        let x = [1.0, 3.0, 2.0, 5.0, 4.0];
        let r = autocorrelation_fft(&x).unwrap();
        assert!((r[0] - 1.0).abs() < 1e-15);
    }
}
