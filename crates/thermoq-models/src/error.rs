//! The one error type of `thermoq-models`.

use thiserror::Error;

thermoq_core::error_enum! {
    /// Errors building or loading models.
    #[derive(Debug, Error)]
    pub enum ModelError {
        transparent {
            /// A structural problem found by `thermoq-core` (graph, file format, I/O).
            Core(thermoq_core::CoreError),
        }
        /// The model is too large to enumerate.
        #[error("cannot enumerate 2^{n} states: exact methods support at most {max} spins")]
        TooLarge {
            /// Number of spins.
            n: usize,
            /// Supported maximum.
            max: usize,
        },
    }
}
