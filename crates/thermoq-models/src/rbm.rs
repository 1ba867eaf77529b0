//! [`Rbm`]: a restricted Boltzmann machine, `E = −vᵀWh − bᵀv − cᵀh`.
//!
//! Visible spins are indices `0..m`, hidden spins `m..m+n`. The model is also an
//! [`IsingModel`] on the complete bipartite graph with edges `(i, m + j)` in row-major order of `W`,
//! so every sampler and exact method applies unchanged; the dense `W` is kept for GEMM paths.

use crate::{EnergyModel, IsingModel, ModelError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use thermoq_core::{Graph, Spin};

/// An RBM with `m` visible and `n` hidden ±1 units.
#[derive(Clone, Debug, PartialEq)]
pub struct Rbm {
    m: usize,
    n: usize,
    w: Vec<f64>,
    ising: IsingModel,
}

impl Rbm {
    /// Builds an RBM from row-major `w` (`m × n`), visible biases `b` and hidden biases `c`.
    pub fn new(
        m: usize,
        n: usize,
        w: Vec<f64>,
        b: Vec<f64>,
        c: Vec<f64>,
        beta: f64,
    ) -> Result<Self, ModelError> {
        if m == 0 || n == 0 {
            return Err(ModelError::invalid(
                "shape",
                format!("{m}×{n}: both layers need at least one unit"),
            ));
        }
        if w.len() != m * n {
            return Err(ModelError::length("W", w.len(), m * n));
        }
        if b.len() != m {
            return Err(ModelError::length("b", b.len(), m));
        }
        if c.len() != n {
            return Err(ModelError::length("c", c.len(), n));
        }
        let mut e = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                e.push((i, m + j));
            }
        }
        let g = Graph::new(m + n, &e)?;
        let h = b.iter().chain(&c).copied().collect();
        let ising = IsingModel::new(g, w.clone(), h, beta).map_err(|err| match err {
            ModelError::Core(thermoq_core::CoreError::NotFinite { field, value }) => {
                ModelError::Core(thermoq_core::CoreError::NotFinite {
                    field: field.replace('J', "W").replace("h[", "b|c["),
                    value,
                })
            }
            other => other,
        })?;
        Ok(Self { m, n, w, ising })
    }

    /// Random `W ~ N(0, std²)`, zero biases.
    pub fn random(m: usize, n: usize, std: f64, beta: f64, seed: u64) -> Result<Self, ModelError> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let w = (0..m * n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut r);
                std * z
            })
            .collect();
        Self::new(m, n, w, vec![0.0; m], vec![0.0; n], beta)
    }

    /// Bias-free RBM with `k` planted patterns: `W_ij = (s/√m) Σ_μ ξ_i^μ ζ_j^μ` with random
    /// visible patterns `ξ^μ` and hidden codes `ζ^μ`. Flip-symmetric (multimodal for `k ≥ 2`).
    pub fn planted(
        m: usize,
        n: usize,
        k: usize,
        strength: f64,
        beta: f64,
        seed: u64,
    ) -> Result<Self, ModelError> {
        let xi = crate::builders::random_patterns(m, k, seed);
        let zeta = crate::builders::random_patterns(n, k, seed ^ 0x9e37_79b9_7f4a_7c15);
        let s = strength / (m as f64).sqrt();
        let mut w = vec![0.0; m * n];
        for mu in 0..k {
            for i in 0..m {
                for j in 0..n {
                    w[i * n + j] += s * f64::from(xi[mu][i] * zeta[mu][j]);
                }
            }
        }
        Self::new(m, n, w, vec![0.0; m], vec![0.0; n], beta)
    }

    /// Recognises an RBM in its Ising form, as [`Rbm::as_ising`] writes it (and so as a saved RBM
    /// model file reads back): `m` visible spins then `n` hidden ones, and exactly the `m·n` edges
    /// `(i, m + j)` in row-major order of `W`. `m` is read off the first edge `(0, m)`. Any other
    /// model — another edge order, a missing or extra edge, an edge inside a layer — is refused
    /// with [`ModelError::Invalid`] on field `edges`, naming the first edge that does not fit.
    pub fn from_ising(model: &IsingModel) -> Result<Self, ModelError> {
        let g = model.graph();
        let not_rbm = |message: String| ModelError::Invalid {
            field: "edges".into(),
            message,
        };
        let Some((0, m)) = g.edges().next() else {
            return Err(not_rbm(
                "an RBM's Ising form starts with the edge (0, m), m the number of visible units"
                    .into(),
            ));
        };
        let n_spins = g.n();
        if m == 0 || m >= n_spins {
            return Err(not_rbm(format!(
                "first edge (0, {m}) leaves no hidden units"
            )));
        }
        let n = n_spins - m;
        if g.n_edges() != m * n {
            return Err(not_rbm(format!(
                "{} edges; an RBM with {m} visible and {n} hidden units has {}",
                g.n_edges(),
                m * n
            )));
        }
        for (e, (a, b)) in g.edges().enumerate() {
            let want = (e / n, m + e % n);
            if (a, b) != want {
                return Err(not_rbm(format!(
                    "edge {e} is ({a}, {b}); an RBM's Ising form has {want:?} there"
                )));
            }
        }
        let h = model.biases();
        Self::new(
            m,
            n,
            model.couplings().to_vec(),
            h[..m].to_vec(),
            h[m..].to_vec(),
            model.beta(),
        )
    }

    /// Visible units.
    pub fn n_visible(&self) -> usize {
        self.m
    }
    /// Hidden units.
    pub fn n_hidden(&self) -> usize {
        self.n
    }
    /// Row-major weights `m × n`.
    pub fn weights(&self) -> &[f64] {
        &self.w
    }
    /// Visible biases.
    pub fn visible_bias(&self) -> &[f64] {
        &self.ising.biases()[..self.m]
    }
    /// Hidden biases.
    pub fn hidden_bias(&self) -> &[f64] {
        &self.ising.biases()[self.m..]
    }
    /// The equivalent Ising model on the complete bipartite graph.
    pub fn as_ising(&self) -> &IsingModel {
        &self.ising
    }
    /// The natural two-block colouring: visible = colour 0, hidden = colour 1.
    pub fn two_block_colors(&self) -> Vec<u32> {
        (0..self.m + self.n)
            .map(|i| u32::from(i >= self.m))
            .collect()
    }
}

impl EnergyModel for Rbm {
    fn n_spins(&self) -> usize {
        self.m + self.n
    }
    fn beta(&self) -> f64 {
        self.ising.beta()
    }
    fn graph(&self) -> &Graph {
        self.ising.graph()
    }
    fn coupling(&self, e: usize) -> f64 {
        self.w[e]
    }
    fn bias(&self, i: usize) -> f64 {
        self.ising.bias(i)
    }
    fn local_field(&self, x: &[Spin], i: usize) -> f64 {
        let (m, n) = (self.m, self.n);
        let mut phi = self.ising.bias(i);
        if i < m {
            let row = &self.w[i * n..(i + 1) * n];
            for (w, &s) in row.iter().zip(&x[m..]) {
                phi += w * f64::from(s);
            }
        } else {
            let j = i - m;
            for (a, &s) in x[..m].iter().enumerate() {
                phi += self.w[a * n + j] * f64::from(s);
            }
        }
        phi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3 × 2 RBM with fixed, asymmetric weights and biases at inverse temperature `beta`.
    fn rbm32(beta: f64) -> Rbm {
        Rbm::new(
            3,
            2,
            vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6],
            vec![0.1, 0.0, -0.1],
            vec![0.2, -0.3],
            beta,
        )
        .unwrap()
    }

    #[test]
    fn rbm_matches_its_ising_form() {
        let r = rbm32(1.0);
        let x = [1i8, -1, 1, -1, 1];
        for i in 0..5 {
            assert!((r.local_field(&x, i) - r.as_ising().local_field(&x, i)).abs() < 1e-14);
        }
        assert!((r.energy(&x) - r.as_ising().energy(&x)).abs() < 1e-14);
        assert!(Rbm::new(3, 2, vec![0.0; 5], vec![0.0; 3], vec![0.0; 2], 1.0).is_err());
        assert!(Rbm::new(1, 1, vec![f64::NAN], vec![0.0], vec![0.0], 1.0).is_err());
    }

    #[test]
    fn from_ising_round_trips_an_rbm_and_refuses_anything_else() {
        let r = rbm32(0.7);
        // through the file form, as the CLI reads a saved RBM
        let back = IsingModel::from_file(&r.as_ising().to_file()).unwrap();
        assert_eq!(Rbm::from_ising(&back).unwrap(), r);
        let field = |m: &IsingModel| match Rbm::from_ising(m) {
            Err(ModelError::Invalid { field, message }) => (field, message),
            other => panic!("expected a refusal, got {other:?}"),
        };
        let ising = |n, e: &[(usize, usize)]| {
            IsingModel::new(
                Graph::new(n, e).unwrap(),
                vec![0.5; e.len()],
                vec![0.0; n],
                1.0,
            )
            .unwrap()
        };
        // a triangle has an edge inside a layer
        let (f, msg) = field(&ising(3, &[(0, 1), (0, 2), (1, 2)]));
        assert_eq!(f, "edges");
        assert!(
            msg.contains("3 edges; an RBM with 1 visible and 2 hidden units has 2"),
            "{msg}"
        );
        // complete bipartite but another edge order
        let (_, msg) = field(&ising(4, &[(0, 2), (1, 2), (0, 3), (1, 3)]));
        assert!(msg.contains("edge 1 is (1, 2)"), "{msg}");
        // a missing edge
        let (_, msg) = field(&ising(4, &[(0, 2), (0, 3), (1, 2)]));
        assert!(msg.contains("3 edges"), "{msg}");
        // no edges at all, or a first edge that is not (0, m)
        assert_eq!(field(&ising(2, &[])).0, "edges");
        assert_eq!(field(&ising(3, &[(1, 2)])).0, "edges");
    }
}
