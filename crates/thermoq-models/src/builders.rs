//! Builders for the model families the preprint studies (SCIENCE.md II.6) and a few more.
//!
//! Random families take a `seed`; the same seed always gives the same model.

use crate::{IsingModel, ModelError};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use thermoq_core::Graph;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn dense(n: usize, beta: f64, h: Vec<f64>, mut j: impl FnMut(usize, usize) -> f64) -> IsingModel {
    let g = Graph::complete(n);
    let w: Vec<f64> = g.edges().map(|(a, b)| j(a, b)).collect();
    IsingModel::new(g, w, h, beta).expect("builder produces a valid model")
}

/// Curie–Weiss: `J_ij = 1/N` on all pairs, `h = 0`.
pub fn curie_weiss(n: usize, beta: f64) -> IsingModel {
    dense(n, beta, vec![0.0; n], |_, _| 1.0 / n as f64)
}

/// Sherrington–Kirkpatrick: `J_ij ~ N(0, 1/N)` on all pairs, `h = 0`.
pub fn sherrington_kirkpatrick(n: usize, beta: f64, seed: u64) -> IsingModel {
    let mut r = rng(seed);
    let s = (1.0 / n as f64).sqrt();
    dense(n, beta, vec![0.0; n], |_, _| {
        let z: f64 = StandardNormal.sample(&mut r);
        s * z
    })
}

/// `m` random ±1 patterns of length `n` (pattern-major), drawn from `seed`.
pub fn random_patterns(n: usize, m: usize, seed: u64) -> Vec<Vec<i8>> {
    let mut r = rng(seed);
    (0..m)
        .map(|_| {
            (0..n)
                .map(|_| if r.random::<bool>() { 1 } else { -1 })
                .collect()
        })
        .collect()
}

/// Planted Hopfield: `J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ` for `m` random patterns, `h = 0`.
/// Returns the model and its patterns.
pub fn hopfield(n: usize, m: usize, beta: f64, seed: u64) -> (IsingModel, Vec<Vec<i8>>) {
    let xi = random_patterns(n, m, seed);
    let model = dense(n, beta, vec![0.0; n], |a, b| {
        xi.iter().map(|p| f64::from(p[a] * p[b])).sum::<f64>() / n as f64
    });
    (model, xi)
}

/// Periodic 2D square lattice `lx × ly` (both ≥ 3), uniform coupling `j`, uniform bias `h`.
/// Spin `(r, c)` is index `r·lx + c`; edges are listed site by site, right neighbour then down
/// neighbour (the order thrml's lattice examples use).
pub fn lattice_2d(
    lx: usize,
    ly: usize,
    j: f64,
    h: f64,
    beta: f64,
) -> Result<IsingModel, ModelError> {
    if lx < 3 || ly < 3 {
        return Err(ModelError::Invalid {
            field: "lattice side".into(),
            message: format!(
                "{lx}×{ly}: each side must be ≥ 3 so periodic neighbours are distinct"
            ),
        });
    }
    let idx = |r: usize, c: usize| (r % ly) * lx + (c % lx);
    let mut e = Vec::with_capacity(2 * lx * ly);
    for r in 0..ly {
        for c in 0..lx {
            e.push((idx(r, c), idx(r, c + 1)));
            e.push((idx(r, c), idx(r + 1, c)));
        }
    }
    let g = Graph::new(lx * ly, &e)?;
    let ne = g.n_edges();
    IsingModel::new(g, vec![j; ne], vec![h; lx * ly], beta)
}

/// Erdős–Rényi random graph with edge probability `p`, couplings `N(0, j_std²)` and biases
/// `N(0, h_std²)` (`h_std = 0` gives a bias-free model). For tests and examples.
pub fn random_sparse(n: usize, p: f64, j_std: f64, h_std: f64, beta: f64, seed: u64) -> IsingModel {
    let mut r = rng(seed);
    let mut e = Vec::new();
    let mut w = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            if r.random::<f64>() < p {
                e.push((a, b));
                let z: f64 = StandardNormal.sample(&mut r);
                w.push(j_std * z);
            }
        }
    }
    let h = (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut r);
            h_std * z
        })
        .collect();
    IsingModel::new(Graph::new(n, &e).expect("simple graph"), w, h, beta)
        .expect("finite parameters")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EnergyModel;

    #[test]
    fn families_have_expected_shape() {
        let cw = curie_weiss(8, 1.0);
        assert_eq!(cw.graph().n_edges(), 28);
        assert!((cw.coupling(3) - 0.125).abs() < 1e-15);
        let (hop, xi) = hopfield(10, 3, 1.0, 7);
        assert_eq!(xi.len(), 3);
        let (a, b) = hop.graph().edge(5);
        let want: f64 = xi.iter().map(|p| f64::from(p[a] * p[b])).sum::<f64>() / 10.0;
        assert!((hop.coupling(5) - want).abs() < 1e-15);
        assert_eq!(
            sherrington_kirkpatrick(9, 1.0, 3),
            sherrington_kirkpatrick(9, 1.0, 3)
        );
        let lat = lattice_2d(4, 5, 0.4, 0.0, 1.0).unwrap();
        assert_eq!(lat.graph().n_edges(), 40);
        assert!((0..20).all(|i| lat.graph().degree(i) == 4));
        assert!(lattice_2d(2, 5, 0.4, 0.0, 1.0).is_err());
    }
}
