//! The one error type of `thermoq-spectral`.

use thiserror::Error;

thermoq_core::error_enum! {
    /// Errors building exact operators, decomposing them and solving Poisson equations.
    #[derive(Debug, Error)]
    pub enum SpectralError {
        transparent {
            /// A kernel or plan problem reported by `thermoq-samplers`.
            Sampler(thermoq_samplers::SamplerError),
            /// A model problem reported by `thermoq-models`.
            Model(thermoq_models::ModelError),
        }
        /// The model has too many spins for the requested (dense or matrix-free) computation.
        #[error("{what}: the model has N = {n} spins, but at most {max} are supported")]
        TooLarge {
            /// Which computation refused (e.g. "dense sweep matrix").
            what: &'static str,
            /// Number of spins of the model.
            n: usize,
            /// Largest supported number of spins.
            max: usize,
        },
        /// A reversible decomposition was asked of a kernel that is not reversible.
        #[error(
            "kernel is not reversible with respect to π: symmetrized-operator residual {residual:.3e} \
             exceeds {tol:.1e}; use eigenvalues_general and the Krylov Poisson route instead"
        )]
        NotReversible {
            /// Measured `max |A − Aᵀ|` of `A = D^{1/2} P D^{−1/2}` (or the kernel's own claim, as 1).
            residual: f64,
            /// Tolerance it was compared with.
            tol: f64,
        },
        /// A computation that needs a self-adjoint operator in L²(π) (Lanczos) was asked of a
        /// non-reversible kernel.
        #[error(
            "kernel {kernel} is not reversible: its sweep is not self-adjoint in L²(π), so Lanczos \
             cannot compute its spectrum; use eigenvalues_general (dense, N ≤ 14) or BiCGSTAB \
             Poisson solves"
        )]
        NotSelfAdjoint {
            /// The kernel's name.
            kernel: String,
        },
        /// The supplied law is not stationary for the kernel.
        #[error("π is not stationary for the kernel: ‖πP − π‖_∞ = {residual:.3e} exceeds {tol:.1e}")]
        NotStationary {
            /// Measured `‖πP − π‖_∞`.
            residual: f64,
            /// Tolerance it was compared with.
            tol: f64,
        },
        /// An input has the wrong length.
        #[error("{field}: has length {got}, expected {expected}")]
        Shape {
            /// Which input.
            field: String,
            /// Expected length.
            expected: usize,
            /// Actual length.
            got: usize,
        },
        /// An input holds NaN or ±∞.
        #[error("{field}[{index}]: is {value}, expected a finite number")]
        NonFinite {
            /// Which input.
            field: String,
            /// First offending index.
            index: usize,
            /// The offending value.
            value: f64,
        },
        /// A dense eigendecomposition failed to converge.
        #[error("eigendecomposition of {what} failed: {message}")]
        Eigen {
            /// Which matrix.
            what: String,
            /// faer's message.
            message: String,
        },
        /// An iterative method stopped before reaching its tolerance.
        #[error(
            "{what}: not converged after {iterations} iterations (relative residual {residual:.3e}, \
             tolerance {tol:.1e})"
        )]
        NotConverged {
            /// Which solver / observable.
            what: String,
            /// Iterations performed.
            iterations: usize,
            /// Final relative residual.
            residual: f64,
            /// Requested tolerance.
            tol: f64,
        },
    }
}

/// Checks that `v` has length `expected` and only finite entries.
pub(crate) fn check_vec(field: &str, v: &[f64], expected: usize) -> Result<(), SpectralError> {
    if v.len() != expected {
        return Err(SpectralError::Shape {
            field: field.into(),
            expected,
            got: v.len(),
        });
    }
    if let Some(index) = v.iter().position(|x| !x.is_finite()) {
        return Err(SpectralError::NonFinite {
            field: field.into(),
            index,
            value: v[index],
        });
    }
    Ok(())
}

/// Checks an observable table `table[a][s]` against `n_states`.
pub(crate) fn check_table(table: &[Vec<f64>], n_states: usize) -> Result<(), SpectralError> {
    for (a, row) in table.iter().enumerate() {
        check_vec(&format!("table[{a}]"), row, n_states)?;
    }
    Ok(())
}
