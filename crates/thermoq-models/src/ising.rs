//! [`IsingModel`]: a Boltzmann machine on any sparse graph.

use crate::{EnergyModel, ModelError};
use thermoq_core::{CoreError, Graph, IsingFile, Spin};

/// Couplings `J` on the edges of a graph, biases `h`, inverse temperature β.
#[derive(Clone, Debug, PartialEq)]
pub struct IsingModel {
    graph: Graph,
    j: Vec<f64>,
    h: Vec<f64>,
    beta: f64,
}

impl IsingModel {
    /// Builds a model; lengths must match the graph and every number must be finite, β > 0.
    pub fn new(graph: Graph, j: Vec<f64>, h: Vec<f64>, beta: f64) -> Result<Self, ModelError> {
        if j.len() != graph.n_edges() {
            return Err(ModelError::length("J", j.len(), graph.n_edges()));
        }
        if h.len() != graph.n() {
            return Err(ModelError::length("h", h.len(), graph.n()));
        }
        for (name, values) in [("J", &j), ("h", &h)] {
            if let Some((k, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(CoreError::NotFinite {
                    field: format!("{name}[{k}]"),
                    value,
                }
                .into());
            }
        }
        if !(beta.is_finite() && beta > 0.0) {
            return Err(ModelError::invalid(
                "beta",
                format!("is {beta}, expected a finite number > 0"),
            ));
        }
        Ok(Self { graph, j, h, beta })
    }

    /// From a validated `thermoq-ising-v1` record.
    pub fn from_file(f: &IsingFile) -> Result<Self, ModelError> {
        f.validate()?;
        let g = f.graph()?;
        Self::new(
            g,
            f.edges.iter().map(|e| e.2).collect(),
            f.h.clone(),
            f.beta,
        )
    }

    /// Loads a model file (JSON or binary).
    pub fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        Self::from_file(&IsingFile::load(path)?)
    }

    /// The interchange record of this model.
    pub fn to_file(&self) -> IsingFile {
        IsingFile {
            format: thermoq_core::format::FORMAT_TAG.into(),
            n: self.graph.n(),
            beta: self.beta,
            h: self.h.clone(),
            edges: self
                .graph
                .edges()
                .zip(&self.j)
                .map(|((a, b), &w)| (a, b, w))
                .collect(),
        }
    }

    /// Couplings in edge order.
    pub fn couplings(&self) -> &[f64] {
        &self.j
    }

    /// Biases.
    pub fn biases(&self) -> &[f64] {
        &self.h
    }

    /// Replaces all parameters (couplings in edge order, then biases), validating them.
    pub fn set_params(&mut self, theta: &[f64]) -> Result<(), ModelError> {
        let m = self.graph.n_edges();
        if theta.len() != m + self.graph.n() {
            return Err(ModelError::length("theta", theta.len(), m + self.graph.n()));
        }
        if let Some(a) = theta.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::NotFinite {
                field: format!("theta[{a}]"),
                value: theta[a],
            }
            .into());
        }
        self.j.copy_from_slice(&theta[..m]);
        self.h.copy_from_slice(&theta[m..]);
        Ok(())
    }

    /// A copy at another inverse temperature (e.g. a tempering replica at α·β).
    pub fn with_beta(&self, beta: f64) -> Result<Self, ModelError> {
        Self::new(self.graph.clone(), self.j.clone(), self.h.clone(), beta)
    }
}

impl EnergyModel for IsingModel {
    fn n_spins(&self) -> usize {
        self.graph.n()
    }
    fn beta(&self) -> f64 {
        self.beta
    }
    fn graph(&self) -> &Graph {
        &self.graph
    }
    fn coupling(&self, e: usize) -> f64 {
        self.j[e]
    }
    fn bias(&self, i: usize) -> f64 {
        self.h[i]
    }
    #[inline]
    fn local_field(&self, x: &[Spin], i: usize) -> f64 {
        let o = self.graph.offsets();
        let nbr = self.graph.neighbors(i);
        let ne = self.graph.neighbor_edges(i);
        debug_assert_eq!(nbr.len(), o[i + 1] - o[i]);
        let mut phi = self.h[i];
        for (&j, &e) in nbr.iter().zip(ne) {
            phi += self.j[e as usize] * f64::from(x[j as usize]);
        }
        phi
    }
}
