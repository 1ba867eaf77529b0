//! The generic sparse engine: CSR neighbour lists, `f32` or `f64` fields, `i8` spins.
//!
//! Works for any [`IsingModel`] and any proper colouring: one colour class at a time, each site's
//! field `φ_i = h_i + Σ_j J_ij x_j` is accumulated over its CSR row, `p = σ(2βφ_i)` is computed in
//! the field precision and compared against a 32-bit uniform word (`u < round(p·2^32)`). With
//! `f64` fields the realised probability is within `2^-33` of `σ(2βφ_i)` (bit depth 32); with `f32`
//! fields the field and sigmoid carry `f32` rounding (relative ≈ 6e-8) on top.

use super::stream::{RandBuf, threshold32};
use crate::pbit::sigmoid;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};

/// Field precision of the sparse engine.
pub(crate) trait Field: Copy + Send + Sync + 'static {
    fn from_f64(v: f64) -> Self;
    fn from_spin(s: Spin) -> Self;
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Whether a uniform 32-bit word `u` says "up" for input `z = 2βφ`.
    fn up(z: Self, u: u32) -> bool;
    fn mul(self, b: Self) -> Self;
}

impl Field for f64 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn from_spin(s: Spin) -> Self {
        f64::from(s)
    }
    #[inline]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self + a * b
    }
    /// `u < round(σ(z)·2^32)`: bit depth 32.
    #[inline]
    fn up(z: Self, u: u32) -> bool {
        u64::from(u) < threshold32(sigmoid(z))
    }
    #[inline]
    fn mul(self, b: Self) -> Self {
        self * b
    }
}

impl Field for f32 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn from_spin(s: Spin) -> Self {
        f32::from(s)
    }
    #[inline]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self + a * b
    }
    /// `⌊u/2^8⌋ < σ(z)·2^24` with the polynomial `f32` sigmoid of the dense engine: bit depth 24.
    #[inline]
    fn up(z: Self, u: u32) -> bool {
        ((u >> 8) as f32) < super::dense::sigmoid_f32(z) * 16_777_216.0
    }
    #[inline]
    fn mul(self, b: Self) -> Self {
        self * b
    }
}

/// Chromatic block Gibbs on CSR neighbour lists.
pub(crate) struct SparseEngine<F: Field> {
    n: usize,
    classes: Vec<Vec<u32>>,
    offsets: Vec<usize>,
    nbr: Vec<u32>,
    j: Vec<F>,
    h: Vec<F>,
    beta2: F,
}

impl<F: Field> SparseEngine<F> {
    pub(crate) fn new(model: &IsingModel, coloring: &Coloring) -> Self {
        let g = model.graph();
        let n = g.n();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut nbr = Vec::with_capacity(2 * g.n_edges());
        let mut j = Vec::with_capacity(2 * g.n_edges());
        offsets.push(0);
        for i in 0..n {
            for (&k, &e) in g.neighbors(i).iter().zip(g.neighbor_edges(i)) {
                nbr.push(k);
                j.push(F::from_f64(model.coupling(e as usize)));
            }
            offsets.push(nbr.len());
        }
        Self {
            n,
            classes: coloring.classes().to_vec(),
            offsets,
            nbr,
            j,
            h: (0..n).map(|i| F::from_f64(model.bias(i))).collect(),
            beta2: F::from_f64(2.0 * model.beta()),
        }
    }

    /// Resamples every spin of colour class `class` of chain `x`.
    #[inline]
    pub(crate) fn update_class(&self, x: &mut [Spin], class: usize, rb: &mut RandBuf) {
        debug_assert_eq!(x.len(), self.n);
        for &i in &self.classes[class] {
            let i = i as usize;
            let (a, b) = (self.offsets[i], self.offsets[i + 1]);
            let mut phi = self.h[i];
            for (&k, &jk) in self.nbr[a..b].iter().zip(&self.j[a..b]) {
                phi = phi.mul_add(jk, F::from_spin(x[k as usize]));
            }
            x[i] = if F::up(self.beta2.mul(phi), rb.u32()) {
                1
            } else {
                -1
            };
        }
    }
}
