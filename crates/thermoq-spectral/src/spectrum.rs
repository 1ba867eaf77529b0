//! [`Spectrum`]: the eigen-decomposition of a reversible sweep kernel in L²(π).

use faer::Mat;

/// Symmetry class of a mode under the global flip `x → −x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    /// `φ(−x) = φ(x)`.
    Even,
    /// `φ(−x) = −φ(x)`.
    Odd,
    /// The model has biases (no flip symmetry), or the mode mixes sectors.
    None,
}

/// Eigenvalues and π-orthonormal eigenfunctions of a reversible sweep kernel.
///
/// Modes are sorted by decreasing eigenvalue; mode 0 is the constant function with `σ = 1`.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Number of spins.
    pub n: usize,
    /// Stationary law `π` over the `2^N` states.
    pub pi: Vec<f64>,
    /// Sweep-kernel eigenvalues `σ_j`, descending (`σ_0 = 1`).
    pub sigma: Vec<f64>,
    /// Column `j` is `φ_j` on all states, with `⟨φ_j, φ_k⟩_π = δ_jk`.
    pub phi: Mat<f64>,
    /// Parity of each mode.
    pub parity: Vec<Parity>,
}
