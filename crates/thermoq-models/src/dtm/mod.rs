//! Denoising thermodynamic models (DTM, Jelinčič et al. 2025; SCIENCE.md §3.1): torus grid
//! presets, visible placement and sampling blocks, the forward noising process, and the
//! per-step conditional layers.
//!
//! * [`grid`] — [`GridPreset`] / [`TorusGrid`]: `side × side` torus, chessboard colours, offset
//!   jumps in four rotations (`60_12`, `70_12`, … and small `4_4`, `8_8`, `20_8`, `24_8`, `30_12`,
//!   `42_8`).
//! * [`layout`] — [`DtmLayout`]: image + label nodes placed on the upper colour by a seeded
//!   permutation, capacity checked; four blocks (image, label, upper hidden, lower hidden) as a
//!   [`thermoq_core::Coloring`].
//! * [`forward`] — [`ForwardProcess`]: uniform resampling at rate λ, `log`/`linear` schedules,
//!   `diffusion_offset`, and the fixed coupling `J_k = −½ ln tanh(λΔt_k/2)`.
//! * [`layer`] — [`DtmLayer`]: learned Ising energy on the grid plus the input as a bias field;
//!   negative-phase [`Conditional`], positive-phase [`ClampedLayer`].
//!
//! ```
//! use std::sync::Arc;
//! use thermoq_models::dtm::{DtmLayer, DtmLayout, ForwardProcess, TorusGrid, VisibleSpec};
//! use thermoq_models::EnergyModel;
//! let grid = TorusGrid::named("24_8")?;
//! let spec = VisibleSpec { n_image: 196, n_classes: 10, label_spots: 5 };
//! let layout = Arc::new(DtmLayout::new(grid, spec, 0)?);
//! let layer = DtmLayer::new(layout, &ForwardProcess::default(), 0, 1.0)?;
//! assert_eq!(layer.coloring().n_colors(), 4);
//! let x_t = vec![1i8; spec.n_visible()];
//! let cond = layer.conditional(&x_t)?; // T = 1, log schedule: J = 0, input has no effect
//! assert_eq!(cond.n_spins(), 576);
//! # Ok::<(), thermoq_models::dtm::DtmError>(())
//! ```

pub mod error;
pub mod forward;
pub mod grid;
pub mod layer;
pub mod layout;

pub use error::DtmError;
pub use forward::{ForwardProcess, Schedule};
pub use grid::{GridName, GridPreset, TorusGrid};
pub use layer::{ClampedLayer, Conditional, DtmLayer};
pub use layout::{Block, DtmLayout, VisibleSpec};

use std::sync::Arc;

/// All layers of a DTM: layer `k` denoises step `k` of `process` on its own layout, placed with
/// seed `seed + k` (as dtm-replication seeds each step's graph).
pub fn build_layers(
    preset: &GridPreset,
    spec: VisibleSpec,
    process: &ForwardProcess,
    seed: u64,
    beta: f64,
) -> Result<Vec<DtmLayer>, DtmError> {
    let grid = TorusGrid::new(preset)?;
    (0..process.n_steps())
        .map(|k| {
            let layout = DtmLayout::new(grid.clone(), spec, seed.wrapping_add(k as u64))?;
            DtmLayer::new(Arc::new(layout), process, k, beta)
        })
        .collect()
}
