//! Closed forms for geometric window sums, stable for eigenvalues near 1 and for negative ones.
//!
//! For one mode with sweep-kernel eigenvalue `s`, the estimator of SCIENCE.md II.4 (average over
//! sweeps `k = B+1..B+K` after `x_0 ~ μ₀`) needs two scalars:
//!
//! * the **bias factor** `m(s; B, K) = (1/K) Σ_{k=B+1}^{B+K} s^k = s^{B+1} (1 − s^K) / (K (1 − s))`;
//! * the **variance factor** `v(s; K) = (1/K²) Σ_{k,l=1}^{K} s^{|k−l|}
//!   = (1/K²) [K (1+s)/(1−s) − 2 s (1 − s^K)/(1−s)²]`.
//!
//! Both are evaluated with `expm1`/`ln` for `0 < s < 1`, directly for `s ≤ 0` (no cancellation:
//! `1 − s ≥ 1`), and the variance factor switches to its series in `δ = 1 − s` when `Kδ < 1/2`,
//! where the closed form cancels catastrophically:
//!
//! ```text
//! Σ_{k,l} s^{|k−l|} = K² + 2 Σ_{n≥1} (−δ)^n C(K+1, n+2)
//! ```
//!
//! (from `s^t = Σ_n C(t,n)(−δ)^n` and `Σ_{t=0}^{K−1} (K−t) C(t,n) = C(K+1, n+2)`). Successive
//! terms shrink by a factor `≤ Kδ/(n+3)`, so a few dozen terms reach machine precision.

/// `(1/K) Σ_{k=B+1}^{B+K} s^k` for `K ≥ 1` (returns 0 for `K = 0`).
pub fn bias_factor(s: f64, burn_in: u64, window: u64) -> f64 {
    if window == 0 {
        return 0.0;
    }
    let k = window as f64;
    let b1 = burn_in as f64 + 1.0;
    if s == 1.0 {
        return 1.0;
    }
    if s == 0.0 {
        return 0.0;
    }
    if s > 0.0 {
        let ls = s.ln();
        // s^{B+1} (1 − s^K) / (K (1 − s)), with 1 − s^K = −expm1(K ln s)
        (b1 * ls).exp() * (-(k * ls).exp_m1()) / (k * (1.0 - s))
    } else {
        let a = s.abs();
        let sign_b1 = if (burn_in + 1).is_multiple_of(2) {
            1.0
        } else {
            -1.0
        };
        let sb1 = sign_b1 * a.powf(b1);
        let sign_k = if window.is_multiple_of(2) { 1.0 } else { -1.0 };
        let sk = sign_k * a.powf(k);
        sb1 * (1.0 - sk) / (k * (1.0 - s))
    }
}

/// `(1/K²) Σ_{k,l=1}^{K} s^{|k−l|}` for `K ≥ 1`: the stationary variance of a K-sweep window
/// mean of a unit-overlap mode with sweep eigenvalue `s` (returns 0 for `K = 0`).
pub fn variance_factor(s: f64, window: u64) -> f64 {
    if window == 0 {
        return 0.0;
    }
    let k = window as f64;
    if s == 1.0 {
        return 1.0;
    }
    if s == 0.0 {
        return 1.0 / k;
    }
    let d = 1.0 - s;
    if s > 0.0 && k * d < 0.5 {
        // series in δ: K² + 2 Σ_{n≥1} (−δ)^n C(K+1, n+2)
        let mut term = -d * (k + 1.0) * k * (k - 1.0) / 6.0;
        let mut acc = 0.0;
        let mut n = 1.0;
        while term != 0.0 && term.abs() > 1e-18 * k * k {
            acc += term;
            // t_{n+1} = t_n (−δ) (K − n − 1)/(n + 3)
            term *= -d * (k - n - 1.0) / (n + 3.0);
            n += 1.0;
        }
        return (k * k + 2.0 * acc) / (k * k);
    }
    let one_minus_sk = if s > 0.0 {
        -(k * s.ln()).exp_m1()
    } else {
        let sign_k = if window.is_multiple_of(2) { 1.0 } else { -1.0 };
        1.0 - sign_k * s.abs().powf(k)
    };
    let h = k * (1.0 + s) / d - 2.0 * s * one_minus_sk / (d * d);
    h / (k * k)
}

/// The per-mode asymptotic variance weight `(1 + s)/(1 − s)` (`v_a = Σ_j |f̂_{a,j}|² (1+s_j)/(1−s_j)`);
/// `+∞` for `s = 1`.
pub fn asymptotic_weight(s: f64) -> f64 {
    if s >= 1.0 {
        f64::INFINITY
    } else {
        (1.0 + s) / (1.0 - s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_bias(s: f64, b: u64, k: u64) -> f64 {
        (b + 1..=b + k).map(|t| s.powi(t as i32)).sum::<f64>() / k as f64
    }

    /// `(1/K²)[K + 2 Σ_{t=1}^{K−1} (K−t) s^t]` with Kahan summation, so that the oracle's own
    /// rounding (K terms) stays near 1e-16 relative.
    fn brute_var(s: f64, k: u64) -> f64 {
        let (mut acc, mut comp) = (k as f64, 0.0f64);
        for t in 1..k {
            let y = 2.0 * (k - t) as f64 * s.powi(t as i32) - comp;
            let z = acc + y;
            comp = (z - acc) - y;
            acc = z;
        }
        acc / (k * k) as f64
    }

    #[test]
    fn factors_match_direct_sums() {
        for &s in &[
            -0.9,
            -0.3,
            -1e-3,
            0.0,
            1e-3,
            0.2,
            0.5,
            0.9,
            0.99,
            0.999,
            0.999_999,
            1.0 - 1e-12,
            1.0,
        ] {
            for &(b, k) in &[(0u64, 1u64), (0, 7), (3, 20), (10, 200), (1, 999)] {
                let (got, want) = (bias_factor(s, b, k), brute_bias(s, b, k));
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1e-300) + 1e-300,
                    "bias s={s} B={b} K={k}: {got} vs {want}"
                );
                let (got, want) = (variance_factor(s, k), brute_var(s, k));
                assert!(
                    (got - want).abs() <= 1e-12 * want,
                    "var s={s} K={k}: {got} vs {want}"
                );
            }
        }
    }

    /// Either side of the series/closed-form switch (Kδ = 1/2), and in the fully correlated limit.
    #[test]
    fn both_branches_near_the_switch() {
        let k = 999u64;
        for kd in [0.3, 0.49, 0.5, 0.51, 0.7] {
            let s = 1.0 - kd / k as f64;
            let (got, want) = (variance_factor(s, k), brute_var(s, k));
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "Kδ={kd}: {got} vs {want}"
            );
        }
        assert!((variance_factor(1.0 - 1e-15, 10) - 1.0).abs() < 1e-13);
    }
}
