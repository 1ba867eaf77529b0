//! # thermoq-spectral — exact transition operators and their L²(π) spectral objects
//!
//! For enumerable models (all `2^N` states), this crate builds the exact sweep operator of any
//! `thermoq-samplers` kernel *from the kernel's own plan* (so operator and sampler cannot disagree)
//! and computes the objects of SCIENCE.md II.3:
//!
//! * the stationary law `π`, the reversibility certificate `max |π_x P_xy − π_y P_yx|` and the
//!   stationarity residual `‖πP − π‖_∞`;
//! * for reversible kernels, the symmetrization `A = D^{1/2} P D^{−1/2}` and its eigendecomposition:
//!   sweep-kernel eigenvalues `1 = σ_1 > σ_2 ≥ …` and π-orthonormal eigenfunctions
//!   `φ_j = D^{−1/2} ψ_j` ([`Spectrum`]), per parity sector for bias-free models;
//! * overlaps `f̂_{a,j} = ⟨f̄_a, φ_j⟩_π` of gradient observables with modes;
//! * the Poisson equation `(I − P) u = f̄`, `E_π u = 0`, solved matrix-free, giving the exact
//!   asymptotic variance `v_a = 2⟨f̄_a, u_a⟩_π − ⟨f̄_a, f̄_a⟩_π` without any eigendecomposition.

pub mod spectrum;
pub use spectrum::{Parity, Spectrum};
