//! Exact enumeration of all `2^N` states of a small model.
//!
//! State `s` has `x_i = +1` exactly when bit `i` of `s` is set (see `thermoq_core::state`).

use crate::{EnergyModel, EnergyModelExt, ModelError, ObservableSet};
use thermoq_core::state::{MAX_ENUM_SPINS, pair_moment, spin_moment, spins_from_index};

/// The Boltzmann law of a small model, by enumeration.
#[derive(Clone, Debug)]
pub struct ExactLaw {
    /// Number of spins.
    pub n: usize,
    /// Energies `E(s)` (β not included).
    pub energy: Vec<f64>,
    /// Probabilities `π(s)`, summing to 1.
    pub pi: Vec<f64>,
}

impl ExactLaw {
    /// Enumerates `model` (at most [`MAX_ENUM_SPINS`] spins).
    pub fn new<M: EnergyModel + ?Sized>(model: &M) -> Result<Self, ModelError> {
        let n = model.n_spins();
        if n > MAX_ENUM_SPINS {
            return Err(ModelError::TooLarge {
                n,
                max: MAX_ENUM_SPINS,
            });
        }
        let ns = 1usize << n;
        let mut x = vec![0i8; n];
        let mut energy = Vec::with_capacity(ns);
        for s in 0..ns as u64 {
            spins_from_index(s, &mut x);
            energy.push(model.energy(&x));
        }
        let beta = model.beta();
        let emin = energy.iter().copied().fold(f64::INFINITY, f64::min);
        let mut pi: Vec<f64> = energy.iter().map(|&e| (-beta * (e - emin)).exp()).collect();
        let z: f64 = pi.iter().sum();
        pi.iter_mut().for_each(|p| *p /= z);
        Ok(Self { n, energy, pi })
    }

    /// Number of states.
    pub fn n_states(&self) -> usize {
        self.pi.len()
    }

    /// The state drawn from π by inversion of `u ∈ [0, 1)`: the first state whose cumulative
    /// probability exceeds `u` (the last state when rounding leaves the total below `u`). A
    /// uniform `u` gives an exact draw from π.
    pub fn state_at(&self, u: f64) -> usize {
        state_by_inversion(&self.pi, u)
    }

    /// `E_π[f]` for a function given on all states.
    pub fn expect(&self, f: &[f64]) -> f64 {
        self.pi.iter().zip(f).map(|(p, v)| p * v).sum()
    }

    /// `⟨x_i⟩` for every spin.
    pub fn m1(&self) -> Vec<f64> {
        (0..self.n).map(|i| spin_moment(&self.pi, i)).collect()
    }

    /// `⟨x_i x_j⟩` for the given pairs.
    pub fn m2(&self, pairs: impl IntoIterator<Item = (usize, usize)>) -> Vec<f64> {
        pairs
            .into_iter()
            .map(|(i, j)| pair_moment(&self.pi, i, j))
            .collect()
    }

    /// Mean energy `E_π[E]`.
    pub fn energy_mean(&self) -> f64 {
        self.expect(&self.energy)
    }

    /// The observables of `set` tabulated on every state: `table[a][s] = f_a(s)`.
    pub fn observable_table<M: EnergyModel + ?Sized>(
        &self,
        model: &M,
        set: ObservableSet,
    ) -> Vec<Vec<f64>> {
        let na = model.n_observables(set);
        let mut table = vec![vec![0.0; self.n_states()]; na];
        let mut x = vec![0i8; self.n];
        let mut f = vec![0.0; na];
        for s in 0..self.n_states() {
            spins_from_index(s as u64, &mut x);
            model.observables(&x, set, &mut f);
            for (row, &fa) in table.iter_mut().zip(&f) {
                row[s] = fa;
            }
        }
        table
    }

    /// The single-flip local minima of the energy: states `x` where flipping any one spin raises
    /// `E` (`x_i φ_i(x) > 0` for every `i`, `φ_i` the local field), counted with ±x separately,
    /// and their total π-mass. A census of the landscape's modes for multimodality studies.
    pub fn local_minima<M: EnergyModel + ?Sized>(&self, model: &M) -> LocalMinima {
        let mut x = vec![0i8; self.n];
        let (mut count, mut mass) = (0usize, 0.0);
        for s in 0..self.n_states() {
            spins_from_index(s as u64, &mut x);
            // flipping x_i changes E by 2 x_i φ_i
            if (0..self.n).all(|i| f64::from(x[i]) * model.local_field(&x, i) > 0.0) {
                count += 1;
                mass += self.pi[s];
            }
        }
        LocalMinima { count, mass }
    }
}

/// What [`ExactLaw::local_minima`] counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalMinima {
    /// Strict single-flip local minima of `E` (±x counted separately).
    pub count: usize,
    /// Their total π-mass.
    pub mass: f64,
}

/// The state drawn from the law `pi` by inversion of `u ∈ [0, 1)` (see [`ExactLaw::state_at`]).
pub fn state_by_inversion(pi: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (s, p) in pi.iter().enumerate() {
        acc += p;
        if u < acc {
            return s;
        }
    }
    pi.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders;

    #[test]
    fn two_spin_law_is_closed_form() {
        let g = thermoq_core::Graph::new(2, &[(0, 1)]).unwrap();
        let m = crate::IsingModel::new(g, vec![0.7], vec![0.0, 0.0], 1.3).unwrap();
        let law = ExactLaw::new(&m).unwrap();
        let want = (1.3f64 * 0.7).tanh();
        assert!((law.m2([(0, 1)])[0] - want).abs() < 1e-14);
        assert!(law.m1().iter().all(|v| v.abs() < 1e-14));
    }

    #[test]
    fn ferromagnet_has_two_minima() {
        // Curie–Weiss: the two aligned states are the only single-flip-stable states.
        let m = builders::curie_weiss(6, 1.0);
        let law = ExactLaw::new(&m).unwrap();
        let lm = law.local_minima(&m);
        assert_eq!(lm.count, 2);
        let aligned = law.pi[0] + law.pi[(1 << 6) - 1];
        assert!((lm.mass - aligned).abs() < 1e-15);
    }

    #[test]
    fn too_large_is_an_error() {
        let m = builders::random_sparse(31, 0.0, 0.0, 0.0, 1.0, 1);
        assert!(matches!(
            ExactLaw::new(&m),
            Err(ModelError::TooLarge { .. })
        ));
    }
}
