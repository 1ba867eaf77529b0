//! The p-bit: a programmable Bernoulli cell with a sigmoidal response.
//!
//! An ideal cell driven by input `z = βφ_i` outputs `+1` with probability `σ(2z)` (the heat-bath
//! conditional; thrml's convention). A fabricated array deviates: each cell has its own gain `g_i`
//! and offset `o_i`, and compares against a random number of finite bit depth `b`:
//!
//! ```text
//! p_i(z) = round(2^b · σ(2 g_i z + o_i)) / 2^b
//! ```
//!
//! The exact operators of `thermoq-spectral` use this same function, so a user can ask exactly how
//! an imperfect chip shifts the stationary law and the gradient SNR. With any non-ideality the
//! chain is in general no longer reversible with respect to the model's Boltzmann law.

use crate::SamplerError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Per-cell non-idealities of a p-bit array. [`Pbit::ideal`] is the exact heat-bath rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pbit {
    gain: Option<Vec<f64>>,
    offset: Option<Vec<f64>>,
    bits: Option<u32>,
}

/// The logistic function `1/(1 + e^{−z})`, evaluated stably.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Pbit {
    /// Ideal cells: `p = σ(2βφ)` at full precision.
    pub fn ideal() -> Self {
        Self::default()
    }

    /// Whether no non-ideality is set.
    pub fn is_ideal(&self) -> bool {
        self.gain.is_none() && self.offset.is_none() && self.bits.is_none()
    }

    /// Per-cell gains (length = spins, finite, > 0) and offsets (finite).
    pub fn with_gain_offset(
        mut self,
        gain: Vec<f64>,
        offset: Vec<f64>,
    ) -> Result<Self, SamplerError> {
        if gain.len() != offset.len() {
            // One offset per cell, like the gains.
            return Err(SamplerError::length(
                "pbit.offset",
                offset.len(),
                gain.len(),
            ));
        }
        if let Some(i) = gain.iter().position(|g| !(g.is_finite() && *g > 0.0)) {
            return Err(SamplerError::invalid(
                format!("pbit.gain[{i}]"),
                format!("is {}, expected a finite number > 0", gain[i]),
            ));
        }
        if let Some(i) = offset.iter().position(|o| !o.is_finite()) {
            return Err(SamplerError::invalid(
                format!("pbit.offset[{i}]"),
                format!("is {}, expected a finite number", offset[i]),
            ));
        }
        self.gain = Some(gain);
        self.offset = Some(offset);
        Ok(self)
    }

    /// Random device spread: gains `1 + gain_std·z`, offsets `offset_std·z` (clipped so gains stay
    /// positive), drawn from `seed` — one fabricated chip.
    pub fn with_spread(
        self,
        n: usize,
        gain_std: f64,
        offset_std: f64,
        seed: u64,
    ) -> Result<Self, SamplerError> {
        use rand_distr::{Distribution, StandardNormal};
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let mut gain = Vec::with_capacity(n);
        let mut offset = Vec::with_capacity(n);
        for _ in 0..n {
            let a: f64 = StandardNormal.sample(&mut r);
            let b: f64 = StandardNormal.sample(&mut r);
            gain.push((1.0 + gain_std * a).max(1e-3));
            offset.push(offset_std * b);
        }
        self.with_gain_offset(gain, offset)
    }

    /// Finite random-number bit depth `bits ∈ 1..=32`.
    pub fn with_bits(mut self, bits: u32) -> Result<Self, SamplerError> {
        if !(1..=32).contains(&bits) {
            return Err(SamplerError::invalid(
                "pbit.bits",
                format!("is {bits}, expected 1..=32"),
            ));
        }
        self.bits = Some(bits);
        Ok(self)
    }

    /// Number of cells the gain/offset vectors describe (`None` when they are unset).
    pub fn n_cells(&self) -> Option<usize> {
        self.gain.as_ref().map(Vec::len)
    }

    /// Random-number bit depth, if finite.
    pub fn bits(&self) -> Option<u32> {
        self.bits
    }

    /// Probability that cell `i` outputs `+1` for input `z = βφ_i`.
    #[inline]
    pub fn prob_up(&self, i: usize, z: f64) -> f64 {
        let arg = match (&self.gain, &self.offset) {
            (Some(g), Some(o)) => 2.0 * g[i] * z + o[i],
            _ => 2.0 * z,
        };
        let p = sigmoid(arg);
        match self.bits {
            Some(b) => {
                let scale = (1u64 << b) as f64;
                (p * scale).round() / scale
            }
            None => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ideal_is_heat_bath_and_bits_quantize() {
        let p = Pbit::ideal();
        assert!((p.prob_up(0, 0.3) - 1.0 / (1.0 + (-0.6f64).exp())).abs() < 1e-15);
        let q = Pbit::ideal().with_bits(4).unwrap();
        let v = q.prob_up(0, 0.3);
        assert_eq!((v * 16.0).fract(), 0.0);
        assert!((v - p.prob_up(0, 0.3)).abs() <= 1.0 / 32.0);
        assert!(Pbit::ideal().with_bits(0).is_err());
        assert!(
            Pbit::ideal()
                .with_gain_offset(vec![1.0, -1.0], vec![0.0, 0.0])
                .is_err()
        );
        assert!(
            Pbit::ideal()
                .with_gain_offset(vec![1.0], vec![0.0, 0.0])
                .is_err()
        );
        assert!((sigmoid(-800.0)).is_finite() && sigmoid(800.0) == 1.0);
    }
}
