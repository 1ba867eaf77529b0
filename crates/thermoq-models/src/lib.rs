//! # thermoq-models — energy models and their gradient observables
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! A model here is a Boltzmann law `π_θ(x) ∝ exp(−β E_θ(x))` on spins `x ∈ {−1,+1}^N`, with the
//! pairwise energy of SCIENCE.md II.1:
//!
//! ```text
//! E_θ(x) = −Σ_(i,j)∈edges J_ij x_i x_j − Σ_i h_i x_i,     φ_i(x) = h_i + Σ_j J_ij x_j
//! ```
//!
//! * [`EnergyModel`] — the small trait samplers and spectral code are written against: energy,
//!   local field `φ_i`, parameters as a flat vector (couplings in edge order, then biases) and the
//!   gradient observables `f_a = ∂E/∂θ_a` (`f_ij = −x_i x_j`, `f_i = −x_i`). [`EnergyModelExt`] adds
//!   blanket conveniences.
//! * [`IsingModel`] — a Boltzmann machine on any sparse [`Graph`]; built by the [`builders`]
//!   (Curie–Weiss, Sherrington–Kirkpatrick, planted Hopfield, periodic 2D lattice) or from a
//!   `thermoq-ising-v1` file.
//! * [`Rbm`] — a bipartite machine with dense `W` (m visible × n hidden), which is also an
//!   [`IsingModel`] on the complete bipartite graph.
//! * [`exact`] — enumeration of all `2^N` states: `π`, moments, exact observable means.
//!
//! ```
//! use thermoq_models::{builders, EnergyModel, EnergyModelExt, ObservableSet};
//! let m = builders::curie_weiss(6, 0.5);
//! let x = [1i8, -1, 1, 1, -1, 1];
//! let flipped: Vec<i8> = x.iter().map(|s| -s).collect();
//! // bias-free ⇒ global flip symmetry
//! assert!((m.energy(&x) - m.energy(&flipped)).abs() < 1e-12);
//! let mut f = vec![0.0; m.n_observables(ObservableSet::Couplings)];
//! m.observables(&x, ObservableSet::Couplings, &mut f);
//! assert_eq!(f[0], 1.0); // f_01 = −x_0 x_1 = −(1)(−1)
//! ```

pub mod builders;
pub mod dtm;
pub mod error;
pub mod exact;
pub mod ising;
pub mod rbm;

pub use error::ModelError;
pub use ising::IsingModel;
pub use rbm::Rbm;
pub use thermoq_core::{Graph, Spin};

/// Which gradient observables to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ObservableSet {
    /// `f_ij = −x_i x_j`, one per edge in edge order.
    Couplings,
    /// Couplings, then `f_i = −x_i` for every spin (the full parameter gradient).
    All,
}

/// A pairwise energy model on ±1 spins — the trait samplers are generic over.
///
/// Parameters are ordered couplings first (edge order of [`EnergyModel::graph`]), then biases.
pub trait EnergyModel: Send + Sync {
    /// Number of spins `N`.
    fn n_spins(&self) -> usize;
    /// Inverse temperature β of the target law.
    fn beta(&self) -> f64;
    /// The coupling graph (neighbourhoods for samplers, colourings, edge order).
    fn graph(&self) -> &Graph;
    /// Coupling of edge `e`.
    fn coupling(&self, e: usize) -> f64;
    /// Bias of spin `i`.
    fn bias(&self, i: usize) -> f64;
    /// Local field `φ_i(x) = h_i + Σ_j J_ij x_j` (β not included).
    fn local_field(&self, x: &[Spin], i: usize) -> f64 {
        let g = self.graph();
        let mut phi = self.bias(i);
        for (&j, &e) in g.neighbors(i).iter().zip(g.neighbor_edges(i)) {
            phi += self.coupling(e as usize) * f64::from(x[j as usize]);
        }
        phi
    }
    /// Energy `E_θ(x)` (β not included).
    fn energy(&self, x: &[Spin]) -> f64 {
        let g = self.graph();
        let mut e = 0.0;
        for (k, (i, j)) in g.edges().enumerate() {
            e -= self.coupling(k) * f64::from(x[i] * x[j]);
        }
        for (i, &s) in x.iter().enumerate() {
            e -= self.bias(i) * f64::from(s);
        }
        e
    }
}

/// Conveniences every [`EnergyModel`] gets for free.
pub trait EnergyModelExt: EnergyModel {
    /// Number of parameters (edges + spins).
    fn n_params(&self) -> usize {
        self.graph().n_edges() + self.n_spins()
    }
    /// Parameters as a flat vector: couplings in edge order, then biases.
    fn params(&self) -> Vec<f64> {
        let g = self.graph();
        (0..g.n_edges())
            .map(|e| self.coupling(e))
            .chain((0..self.n_spins()).map(|i| self.bias(i)))
            .collect()
    }
    /// Number of observables in `set`.
    fn n_observables(&self, set: ObservableSet) -> usize {
        match set {
            ObservableSet::Couplings => self.graph().n_edges(),
            ObservableSet::All => self.n_params(),
        }
    }
    /// Writes the gradient observables `f_a(x) = ∂E/∂θ_a` into `out`.
    fn observables(&self, x: &[Spin], set: ObservableSet, out: &mut [f64]) {
        let g = self.graph();
        for (k, (i, j)) in g.edges().enumerate() {
            out[k] = -f64::from(x[i] * x[j]);
        }
        if set == ObservableSet::All {
            let m = g.n_edges();
            for (i, &s) in x.iter().enumerate() {
                out[m + i] = -f64::from(s);
            }
        }
    }
    /// Energy change `E(x with x_i flipped) − E(x)` = `2 x_i φ_i(x)`.
    fn flip_delta(&self, x: &[Spin], i: usize) -> f64 {
        2.0 * f64::from(x[i]) * self.local_field(x, i)
    }
    /// Whether every bias is exactly zero (then `E(x) = E(−x)`: global flip symmetry).
    fn is_bias_free(&self) -> bool {
        (0..self.n_spins()).all(|i| self.bias(i) == 0.0)
    }
}

impl<M: EnergyModel + ?Sized> EnergyModelExt for M {}
