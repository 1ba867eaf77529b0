//! The one error type of `thermoq-models`.

use thiserror::Error;

/// Errors building or loading models.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A structural problem found by `thermoq-core` (graph, file format, I/O).
    #[error(transparent)]
    Core(#[from] thermoq_core::CoreError),
    /// A parameter is out of range.
    #[error("{field}: {message}")]
    Invalid {
        /// Which parameter.
        field: String,
        /// What was expected.
        message: String,
    },
    /// A length mismatch.
    #[error("{field}: has length {found}, expected {expected}")]
    Length {
        /// Which parameter.
        field: String,
        /// Length found.
        found: usize,
        /// Length expected.
        expected: usize,
    },
    /// The model is too large to enumerate.
    #[error("cannot enumerate 2^{n} states: exact methods support at most {max} spins")]
    TooLarge {
        /// Number of spins.
        n: usize,
        /// Supported maximum.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<super::ModelError>();
    }
}
