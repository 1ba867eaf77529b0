//! # thermoq-spectral — exact transition operators and their L²(π) spectral objects
//!
//! Where this crate sits among the others: `docs/architecture.md` (the one-page map of thermoq).
//!
//! For enumerable models (all `2^N` states), this crate builds the exact sweep operator of any
//! `thermoq-samplers` kernel *from the kernel's own plan* (so operator and sampler cannot disagree)
//! and computes the objects of SCIENCE.md II.3:
//!
//! * the stationary law `π`, the reversibility certificate `max |π_x P_xy − π_y P_yx|` and the
//!   stationarity residual `‖πP − π‖_∞` ([`certificate`]);
//! * for reversible kernels, the symmetrization `A = D^{1/2} P D^{−1/2}` and its eigendecomposition:
//!   sweep-kernel eigenvalues `1 = σ_1 > σ_2 ≥ …` and π-orthonormal eigenfunctions
//!   `φ_j = D^{−1/2} ψ_j` ([`Spectrum`], [`decompose`]), per parity sector for bias-free models;
//!   general complex eigenvalues for non-reversible kernels ([`eigenvalues_general`]);
//! * overlaps `f̂_{a,j} = ⟨f̄_a, φ_j⟩_π` of gradient observables with modes
//!   ([`Spectrum::overlaps`]);
//! * the Poisson equation `(I − P) u = f̄`, `E_π u = 0`, solved matrix-free ([`poisson`]), giving
//!   the exact asymptotic variance `v_a = 2⟨f̄_a, u_a⟩_π − ⟨f̄_a, f̄_a⟩_π` without any
//!   eigendecomposition.
//!
//! Operators live in [`operator`]: dense matrices (N ≤ 14) and a matrix-free faer `LinOp`
//! (N ≤ 24). See `docs/spectral.md` for the math, tied to each function.
//!
//! **Thread count.** This crate's own parallel loops (columns of dense operators, Poisson
//! solves per observable, chunked inner products) reduce in a fixed order, so they give the same
//! bits on any number of threads. The dense eigensolvers and products are faer's and follow
//! faer's global parallelism, whose blocking (hence the last bits of every eigenvalue and the
//! float-floor overlaps) depends on the rayon thread count. For results independent of the
//! thread count, call `faer::set_global_parallelism(faer::Par::Seq)` and parallelize across
//! independent problems instead — as `cargo xtask repro`'s cell runner does.
//!
//! ```
//! use thermoq_models::{builders, exact::ExactLaw, ObservableSet};
//! use thermoq_samplers::{GibbsKernel, KernelKind};
//! use thermoq_spectral::{decompose, Parity, SpectralParams};
//! let model = builders::curie_weiss(6, 0.8);
//! let k = GibbsKernel::new(KernelKind::Rs1, model.graph(), None).unwrap();
//! let sp = decompose(&k, &model, &SpectralParams::default()).unwrap();
//! assert!((sp.sigma[0] - 1.0).abs() < 1e-12);
//! assert_eq!(sp.phi2_parity(), Parity::Odd); // bias-free: the slowest mode is odd …
//! let law = ExactLaw::new(&model).unwrap();
//! let table = law.observable_table(&model, ObservableSet::Couplings);
//! let ov = sp.overlaps(&table);
//! assert!(Spectrum::phi2_max_overlap(ov.as_ref()) < 1e-12); // … and invisible to every f_ij
//! # use thermoq_spectral::Spectrum;
//! # use thermoq_models::EnergyModel;
//! ```

pub mod certificate;
pub mod error;
pub mod operator;
pub mod poisson;
pub mod sector;
pub mod spectrum;

pub use error::SpectralError;
pub use poisson::{PoissonMethod, PoissonParams, PoissonResult, asymptotic_variances};
pub use sector::{
    LanczosParams, Sector, SectorKernel, SectorTop, TopSpectrum, sector_asymptotic_variances,
    sector_law, sector_top_eigenvalues, top_of_spectrum,
};
pub use spectrum::{
    Parity, SpectralParams, Spectrum, decompose, decompose_operator, eigenvalues_general,
};
