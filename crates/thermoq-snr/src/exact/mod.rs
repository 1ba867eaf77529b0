//! Exact gradient, exact `Q_op` and the derivative of `Q_struct⊥` for enumerable models.
//!
//! * [`gradient`] — `g_a = E_data[f_a] − E_π[f_a]` by enumeration and its Jacobian
//!   `∂g_a/∂θ_b = β Cov_π(f_a, f_b)`;
//! * [`qop`] — exact `Q_op` for burn-in `B`, window `K`, `C` chains and start law `μ₀`
//!   (SCIENCE.md II.4): spectral bias and finite-window variance for reversible kernels, plain
//!   propagation through the kernel for any kernel;
//! * [`window`] — the stable closed forms of the geometric window sums behind both;
//! * [`dense`] — a dense L²(π) eigendecomposition of the step operator (small N);
//! * [`dstruct`] — `∂Q_struct⊥/∂θ` with the cluster held fixed (Daleckii–Krein);
//! * [`cell`] — [`analyze_cell`]: spectrum summary, `Q_op` and every predictor for one cell.

pub mod cell;
pub mod dense;
pub mod dstruct;
pub mod gradient;
pub mod qop;
pub mod window;

pub use cell::{
    CellParams, CellReport, CellRequest, Phi2, SpectrumSummary, Sweeps, analyze, analyze_cell,
};
pub use dense::{DenseDecomposition, dense_spectrum};
pub use dstruct::{StructPerpGradient, struct_perp_gradient, t_o_fixed_cluster};
pub use gradient::{ExactGradient, gradient_jacobian};
pub use qop::{
    QopExact, StartLaw, WindowConfig, bias_propagated, overlaps, qop_propagated, qop_spectral,
    stationary_variance_propagated,
};
