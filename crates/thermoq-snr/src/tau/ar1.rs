//! The AR(1) reference process, whose τ_int is known exactly.
//!
//! x_{t+1} = φ x_t + ε_t with ε_t ~ N(0, 1) i.i.d., started from the stationary law
//! N(0, 1/(1 − φ²)). Its autocorrelation is ρ(t) = φ^t, so
//! τ_int = 1 + 2 Σ_{t≥1} φ^t = (1 + φ)/(1 − φ). Tests and benchmarks use it as the exact oracle
//! for every estimator in [`crate::tau`].

use rand::Rng;

/// The exact integrated autocorrelation time (1 + φ)/(1 − φ) of an AR(1) process.
pub fn tau_exact(phi: f64) -> f64 {
    (1.0 + phi) / (1.0 - phi)
}

/// A uniform draw in the open interval (0, 1) with 53 random bits.
fn open_unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// Fills `out` with standard normal draws (Box–Muller, both outputs of each pair used).
pub fn fill_standard_normal<R: Rng + ?Sized>(out: &mut [f64], rng: &mut R) {
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        let (z0, z1) = box_muller(rng);
        pair[0] = z0;
        pair[1] = z1;
    }
    if let [last] = chunks.into_remainder() {
        *last = box_muller(rng).0;
    }
}

fn box_muller<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    let r = (-2.0 * open_unit(rng).ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * open_unit(rng)).sin_cos();
    (r * c, r * s)
}

/// A stationary AR(1) series of length `n` with coefficient `phi` (|φ| < 1).
///
/// Returns an empty vector for `n = 0`.
pub fn series<R: Rng + ?Sized>(phi: f64, n: usize, rng: &mut R) -> Vec<f64> {
    let mut x = vec![0.0; n];
    extend(phi, &mut x, 0, rng);
    x
}

/// Continues an AR(1) series in place: `x[..start]` is kept and `x[start..]` is overwritten by
/// the continuation (if `start == 0`, the series starts from the stationary law). This is what a
/// [`crate::tau::doubling_run`] closure calls to extend rather than restart a chain.
pub fn extend<R: Rng + ?Sized>(phi: f64, x: &mut [f64], start: usize, rng: &mut R) {
    if start >= x.len() {
        return;
    }
    fill_standard_normal(&mut x[start..], rng);
    let mut i = start;
    if start == 0 {
        x[0] /= (1.0 - phi * phi).sqrt();
        i = 1;
    }
    for t in i..x.len() {
        x[t] += phi * x[t - 1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ar1_moments_match_stationary_law() {
        let phi = 0.5;
        let n = 200_000;
        let x = series(phi, n, &mut ChaCha8Rng::seed_from_u64(1));
        let mean = x.iter().sum::<f64>() / n as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let lag1 = x
            .windows(2)
            .map(|w| (w[0] - mean) * (w[1] - mean))
            .sum::<f64>()
            / (n - 1) as f64
            / var;
        let var_exact = 1.0 / (1.0 - phi * phi);
        // Standard error of the mean is sqrt(τ var / n) ≈ 0.0045; of the variance about
        // var·sqrt(2τ'/n) with τ' = (1+φ²)/(1−φ²) ≈ 0.006; of ρ(1) about sqrt((1−φ²)/n) ≈ 0.002.
        assert!(
            mean.abs() < 4.0 * (3.0 * var_exact / n as f64).sqrt(),
            "{mean}"
        );
        assert!((var - var_exact).abs() < 0.03, "{var}");
        assert!((lag1 - phi).abs() < 0.01, "{lag1}");
    }

    #[test]
    fn extend_keeps_prefix() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut x = series(0.9, 100, &mut rng);
        let prefix = x.clone();
        x.resize(300, 0.0);
        extend(0.9, &mut x, 100, &mut rng);
        assert_eq!(&x[..100], &prefix[..]);
        assert!(x[100..].iter().all(|v| v.is_finite() && *v != 0.0));
    }
}
