//! [`DtmLayer`]: the conditional Boltzmann machine of one denoising step.
//!
//! Step `k` models `x_{t−1}` (the visible nodes) and hidden `z` given the input `x_t`:
//!
//! ```text
//! E_k(x_{t−1}, z | x_t) = −Σ_{v visible} J_k(v) x_{t−1,v} x_{t,v} + E_θk(x_{t−1}, z)
//! ```
//!
//! with `E_θk` the learned Ising energy (couplings on the grid edges, biases on every node) and
//! `J_k(v)` the fixed forward coupling (`J_image` on image nodes, `J_label` on label nodes). The
//! input is clamped, so its term is a bias: the conditional is the learned model with biases
//! `h_v + J_k(v)·x_{t,v}` on the visible nodes — an [`IsingModel`] on the grid.
//!
//! * Negative phase (only the input clamped): [`DtmLayer::conditional`] (borrowed, cheap, one
//!   per chain) or [`DtmLayer::conditional_model`] (owned); all four blocks are free.
//! * Positive phase (input *and* `x_{t−1}` clamped): either run a kernel over
//!   [`DtmLayer::hidden_blocks`] only on the conditional with the visible spins written into the
//!   state ([`DtmLayout::scatter_visible`]), or sample [`DtmLayer::clamped`], the exact reduced
//!   model on the hidden nodes (clamped spins folded into biases, so they are not in the free set).
//!
//! Parameters are the learned `θ_k` only (couplings in grid edge order, then biases per node);
//! `J_k` is fixed. [`DtmLayer::conditional`] borrows the layer, so a sampler model cannot outlive
//! a [`DtmLayer::set_params`] call: every model a sampler is built from reads the current
//! parameters (the guard against the "init-weight bug" of SCIENCE.md §5.1).

use super::{Block, DtmError, DtmLayout, ForwardProcess};
use crate::{EnergyModel, IsingModel};
use std::sync::Arc;
use thermoq_core::{Coloring, Graph, Spin};

/// One denoising step's conditional EBM on a placed grid.
#[derive(Clone, Debug, PartialEq)]
pub struct DtmLayer {
    layout: Arc<DtmLayout>,
    step: usize,
    j_image: f64,
    j_label: f64,
    learned: IsingModel,
}

impl DtmLayer {
    /// Layer `step` of `process` on `layout`, learned parameters all zero, inverse temperature
    /// `beta`. Fails if the fixed coupling is not finite (`λΔt = 0`).
    pub fn new(
        layout: Arc<DtmLayout>,
        process: &ForwardProcess,
        step: usize,
        beta: f64,
    ) -> Result<Self, DtmError> {
        let (j_image, j_label) = process.couplings(step)?;
        for (field, j) in [("J_image", j_image), ("J_label", j_label)] {
            if !j.is_finite() {
                return Err(DtmError::invalid(
                    field,
                    format!("is {j} at step {step}, expected a finite coupling (λΔt > 0)"),
                ));
            }
        }
        let g = layout.graph().clone();
        let m = g.n_edges();
        let n = g.n();
        let learned = IsingModel::new(g, vec![0.0; m], vec![0.0; n], beta)?;
        Ok(Self {
            layout,
            step,
            j_image,
            j_label,
            learned,
        })
    }

    /// The layout (grid, placement, blocks).
    pub fn layout(&self) -> &DtmLayout {
        &self.layout
    }

    /// Shared handle to the layout.
    pub fn layout_arc(&self) -> &Arc<DtmLayout> {
        &self.layout
    }

    /// Which step of the forward process this layer denoises.
    pub fn step(&self) -> usize {
        self.step
    }

    /// Fixed input couplings `(J_image, J_label)`.
    pub fn input_couplings(&self) -> (f64, f64) {
        (self.j_image, self.j_label)
    }

    /// The learned energy `E_θk` (no input term).
    pub fn learned(&self) -> &IsingModel {
        &self.learned
    }

    /// The grid graph.
    pub fn graph(&self) -> &Graph {
        self.learned.graph()
    }

    /// The 4-block colouring for block kernels.
    pub fn coloring(&self) -> &Coloring {
        self.layout.coloring()
    }

    /// Number of learned parameters (edges + nodes).
    pub fn n_params(&self) -> usize {
        self.graph().n_edges() + self.graph().n()
    }

    /// Learned parameters: couplings in grid edge order, then one bias per node.
    pub fn params(&self) -> Vec<f64> {
        self.learned
            .couplings()
            .iter()
            .chain(self.learned.biases())
            .copied()
            .collect()
    }

    /// Replaces the learned parameters (validated: length and finiteness).
    pub fn set_params(&mut self, theta: &[f64]) -> Result<(), DtmError> {
        Ok(self.learned.set_params(theta)?)
    }

    /// The input field on every node: `J_k(v)·x_t[v]` at visible node `v`, `0` elsewhere.
    /// `x_t` is a visible vector (image then label).
    pub fn input_field(&self, x_t: &[Spin]) -> Result<Vec<f64>, DtmError> {
        let vis = self.layout.visible_nodes();
        if x_t.len() != vis.len() {
            return Err(DtmError::length("input x_t", x_t.len(), vis.len()));
        }
        let n_image = self.layout.spec().n_image;
        let mut f = vec![0.0; self.graph().n()];
        for (v, (&node, &s)) in vis.iter().zip(x_t).enumerate() {
            let j = if v < n_image {
                self.j_image
            } else {
                self.j_label
            };
            f[node as usize] = j * f64::from(s);
        }
        Ok(f)
    }

    /// The conditional law given input `x_t`, borrowing the current parameters (negative phase).
    pub fn conditional(&self, x_t: &[Spin]) -> Result<Conditional<'_>, DtmError> {
        let field = self.input_field(x_t)?;
        let bias = self
            .learned
            .biases()
            .iter()
            .zip(&field)
            .map(|(h, f)| h + f)
            .collect();
        Ok(Conditional {
            learned: &self.learned,
            bias,
        })
    }

    /// The conditional given `x_t` as an owned [`IsingModel`] built from the current parameters.
    /// Build samplers from this (or from [`DtmLayer::conditional`]) *after* every update.
    pub fn conditional_model(&self, x_t: &[Spin]) -> Result<IsingModel, DtmError> {
        let c = self.conditional(x_t)?;
        Ok(IsingModel::new(
            self.graph().clone(),
            self.learned.couplings().to_vec(),
            c.bias,
            self.learned.beta(),
        )?)
    }

    /// The colour classes a positive-phase kernel updates: the hidden blocks (upper then lower).
    pub fn hidden_blocks(&self) -> Vec<Vec<u32>> {
        [Block::UpperHidden, Block::LowerHidden]
            .iter()
            .map(|&b| self.layout.block(b).to_vec())
            .filter(|b| !b.is_empty())
            .collect()
    }

    /// Positive phase: input `x_t` and output `x_prev` (both visible vectors) clamped; the exact
    /// reduced model on the hidden nodes.
    pub fn clamped(&self, x_t: &[Spin], x_prev: &[Spin]) -> Result<ClampedLayer, DtmError> {
        let cond = self.conditional(x_t)?;
        let n = self.graph().n();
        let mut base = vec![1 as Spin; n];
        self.layout.scatter_visible(x_prev, &mut base)?;
        let free: Vec<u32> = self.layout.hidden_nodes().to_vec();
        let mut pos = vec![u32::MAX; n];
        for (k, &i) in free.iter().enumerate() {
            pos[i as usize] = k as u32;
        }
        let g = self.graph();
        let mut edges = Vec::new();
        let mut j = Vec::new();
        let mut edge_map = Vec::new();
        let mut h: Vec<f64> = free.iter().map(|&i| cond.bias[i as usize]).collect();
        for (e, (a, b)) in g.edges().enumerate() {
            let w = self.learned.coupling(e);
            match (pos[a], pos[b]) {
                (u32::MAX, u32::MAX) => {}
                (u32::MAX, pb) => h[pb as usize] += w * f64::from(base[a]),
                (pa, u32::MAX) => h[pa as usize] += w * f64::from(base[b]),
                (pa, pb) => {
                    edges.push((pa as usize, pb as usize));
                    j.push(w);
                    edge_map.push(e as u32);
                }
            }
        }
        let sub = Graph::new_named(free.len(), &edges, "hidden subgraph")?;
        let colors = free
            .iter()
            .map(|&i| u32::from(!self.layout.grid().is_upper(i as usize)))
            .collect::<Vec<_>>();
        // If there is no upper hidden node every colour is 1: renumber to keep colours 0..k.
        let colors = if colors.iter().all(|&c| c == 1) {
            vec![0; colors.len()]
        } else {
            colors
        };
        let coloring = Coloring::from_colors(&sub, colors)?;
        let model = IsingModel::new(sub, j, h, self.learned.beta())?;
        Ok(ClampedLayer {
            model,
            free,
            edge_map,
            coloring,
            base,
        })
    }
}

/// The conditional law of a layer given its input: the learned model with the input field added to
/// the biases. Borrows the layer, so it always reflects the current parameters.
#[derive(Clone, Debug)]
pub struct Conditional<'a> {
    learned: &'a IsingModel,
    bias: Vec<f64>,
}

impl Conditional<'_> {
    /// Biases including the input field.
    pub fn biases(&self) -> &[f64] {
        &self.bias
    }
}

impl EnergyModel for Conditional<'_> {
    fn n_spins(&self) -> usize {
        self.bias.len()
    }
    fn beta(&self) -> f64 {
        self.learned.beta()
    }
    fn graph(&self) -> &Graph {
        self.learned.graph()
    }
    fn coupling(&self, e: usize) -> f64 {
        self.learned.coupling(e)
    }
    fn bias(&self, i: usize) -> f64 {
        self.bias[i]
    }
    #[inline]
    fn local_field(&self, x: &[Spin], i: usize) -> f64 {
        self.learned.local_field(x, i) - self.learned.bias(i) + self.bias[i]
    }
}

/// The positive-phase model: hidden nodes only, with clamped visible spins and the input folded
/// into the biases. Its law equals the conditional law of the hidden nodes of the full layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ClampedLayer {
    model: IsingModel,
    free: Vec<u32>,
    edge_map: Vec<u32>,
    coloring: Coloring,
    base: Vec<Spin>,
}

impl ClampedLayer {
    /// The reduced model on the free (hidden) nodes.
    pub fn model(&self) -> &IsingModel {
        &self.model
    }

    /// Grid node of free spin `k`.
    pub fn free_nodes(&self) -> &[u32] {
        &self.free
    }

    /// Grid edge index of reduced edge `e`.
    pub fn edge_map(&self) -> &[u32] {
        &self.edge_map
    }

    /// Block colouring of the reduced model (0 = upper hidden, 1 = lower hidden).
    pub fn coloring(&self) -> &Coloring {
        &self.coloring
    }

    /// Writes the full grid state: clamped visible spins plus free spins `z`.
    pub fn embed(&self, z: &[Spin], out: &mut [Spin]) -> Result<(), DtmError> {
        if z.len() != self.free.len() {
            return Err(DtmError::length("free state", z.len(), self.free.len()));
        }
        if out.len() != self.base.len() {
            return Err(DtmError::length("grid state", out.len(), self.base.len()));
        }
        out.copy_from_slice(&self.base);
        for (&i, &s) in self.free.iter().zip(z) {
            out[i as usize] = s;
        }
        Ok(())
    }
}
