//! The one error type of `thermoq-samplers`.

use thiserror::Error;

thermoq_core::error_enum! {
    /// Errors configuring kernels, p-bit arrays and batches.
    #[derive(Debug, Error)]
    pub enum SamplerError {
        transparent {
            /// A structural problem found by `thermoq-core` (e.g. an improper colouring).
            Core(thermoq_core::CoreError),
            /// A model problem.
            Model(thermoq_models::ModelError),
        }
        /// An unknown kernel name.
        #[error(
            "kernel: {name:?} is not a kernel; expected one of rs1, ss1, mh1, blk-alt, blk-sym, blk-rs"
        )]
        UnknownKernel {
            /// The name given.
            name: String,
        },
    }
}
